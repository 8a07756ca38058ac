/// Tumour response by RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228–247) from the
/// sum of longest diameters (SLD) of the target lesions at scheduled assessments.
///
/// At each assessment (time-point response):
/// - PD if the SLD is at least 20% above the nadir (the smallest SLD so far, baseline
///   included) and at least 5 mm above it, or — "new growth" — if the lesions had
///   disappeared (SLD below the CR threshold) and reappear;
/// - CR if the SLD is below the CR threshold (all target lesions gone);
/// - PR if the SLD is at least 30% below baseline; SD otherwise.
///
/// Best overall response, assessments stopping at the first PD:
/// - CR (PR) needs confirmation: a later assessment at least `confirmationDays` on, with no
///   PD between, that is CR (CR or PR);
/// - SD needs an assessment of SD or better at least `minimumSDDays` after day 0;
/// - otherwise PD if an assessment showed PD, and NE (not evaluable) if none was made.
public enum RECIST {
  public struct Assessment: Sendable, Equatable {
    public var day: Double
    public var sld: Double
    public var percentFromBaseline: Double
    public var response: Response
  }

  public struct Outcome: Sendable, Equatable {
    public var assessments: [Assessment]
    public var best: Response
    /// Best (most negative) % change of the SLD from baseline over the assessments before PD.
    public var bestPercentChange: Double?
    /// Day of the first PD assessment.
    public var progressionDay: Double?
    /// Day of the first assessment of the confirmed response (CR or PR).
    public var responseDay: Double?
  }

  /// Evaluates the SLD series `sld` on `times` (days, day 0 the first infusion) with
  /// assessments every `rules.everyDays` through `lastDay`.
  public static func evaluate(times: [Double], sld: [Double], lastDay: Double, rules: TrialSpec.Assessment) -> Outcome {
    precondition(times.count == sld.count && !times.isEmpty, "an SLD value per time")
    func value(at t: Double) -> Double {
      guard let i = times.firstIndex(where: { $0 >= t - 1e-9 }) else { return sld.last! }
      if i == 0 || abs(times[i] - t) <= 1e-9 { return sld[i] }
      let w = (t - times[i - 1]) / (times[i] - times[i - 1])
      return sld[i - 1] + w * (sld[i] - sld[i - 1])
    }
    let baseline = value(at: 0)
    var assessments: [Assessment] = []
    var nadir = baseline, disappeared = baseline < rules.completeResponseSLDmm
    var k = 1
    while Double(k) * rules.everyDays <= min(lastDay, times.last!) + 1e-9 {
      let day = Double(k) * rules.everyDays
      let s = value(at: day)
      let change = baseline > 0 ? 100 * (s - baseline) / baseline : 0
      let response = timePoint(sld: s, baseline: baseline, nadir: nadir, disappeared: disappeared, rules: rules)
      assessments.append(Assessment(day: day, sld: s, percentFromBaseline: change, response: response))
      if response == .PD { break }
      nadir = min(nadir, s)
      if s < rules.completeResponseSLDmm { disappeared = true }
      k += 1
    }
    return outcome(assessments, rules: rules)
  }

  /// The time-point response of an SLD `sld` given the `baseline`, the `nadir` so far and
  /// whether the lesions had `disappeared` at an earlier assessment.
  public static func timePoint(
    sld s: Double, baseline: Double, nadir: Double, disappeared: Bool,
    rules: TrialSpec.Assessment
  ) -> Response {
    let change = baseline > 0 ? 100 * (s - baseline) / baseline : 0
    if (s >= 1.2 * nadir && s - nadir >= 5) || (disappeared && s >= rules.completeResponseSLDmm) { return .PD }
    if s < rules.completeResponseSLDmm { return .CR }
    if change <= -30 { return .PR }
    return .SD
  }

  /// The status on `day` for a dosing decision: PD if a scheduled assessment before `day`
  /// showed PD, else the time-point response of a restaging on `day` (SLD `sldOnDay`) against
  /// the baseline and the nadir of the scheduled assessments before it.
  public static func status(
    times: [Double], sld: [Double], day: Double, sldOnDay: Double,
    rules: TrialSpec.Assessment
  ) -> Response {
    let outcome = evaluate(times: times, sld: sld, lastDay: day - 1e-6, rules: rules)
    if outcome.progressionDay != nil { return .PD }
    guard let i0 = times.firstIndex(where: { $0 >= -1e-9 }) else { return .NE }
    let baseline = sld[i0]
    let nadir = outcome.assessments.map(\.sld).reduce(baseline, min)
    let disappeared = outcome.assessments.contains { $0.sld < rules.completeResponseSLDmm }
    return timePoint(sld: sldOnDay, baseline: baseline, nadir: nadir, disappeared: disappeared, rules: rules)
  }

  /// Best overall response from time-point responses (in order, ending at the first PD).
  public static func outcome(_ a: [Assessment], rules: TrialSpec.Assessment) -> Outcome {
    func confirmed(_ i: Int, by accept: Set<Response>) -> Bool {
      for j in (i + 1)..<max(i + 1, a.count) {
        if a[j].response == .PD { return false }
        if a[j].day - a[i].day >= rules.confirmationDays - 1e-9 { return accept.contains(a[j].response) }
      }
      return false
    }
    var best: Response = a.contains { $0.response == .PD } ? .PD : .NE
    var responseDay: Double? = nil
    if a.indices.contains(where: { a[$0].response == .CR && confirmed($0, by: [.CR]) }) {
      best = .CR
      responseDay = a.first(where: { $0.response == .CR || $0.response == .PR })?.day
    } else if let i = a.indices.first(where: { (a[$0].response == .CR || a[$0].response == .PR) && confirmed($0, by: [.CR, .PR]) }) {
      best = .PR
      responseDay = a[i].day
    } else if a.contains(where: { $0.response != .PD && $0.day >= rules.minimumSDDays - 1e-9 }) {
      best = .SD
    }
    let beforePD = a.filter { $0.response != .PD }
    return Outcome(
      assessments: a, best: best, bestPercentChange: beforePD.map(\.percentFromBaseline).min() ?? a.first?.percentFromBaseline,
      progressionDay: a.first(where: { $0.response == .PD })?.day, responseDay: responseDay)
  }
}
