import CSVKit
import Foundation
import StatKit

/// The statistics of one arm, read from patients.csv in a single streaming pass.
public struct ArmStatistics: Sendable {
  public struct SwimmerLane: Sendable {
    public var id: Int
    public var days: Double
    public var died: Bool
    public var responseDay: Double?
    public var progressionDay: Double?
    public var best: Response
  }
  public static let waterfallPatients = 1000

  public var name: String
  public var description: String
  public var patients = 0
  public var statusCounts: [String: Int] = [:]
  public var succeeded = 0
  public var responses: [Response: Int] = [:]
  public var crsGrades = [Int](repeating: 0, count: 5)
  public var dlts = 0
  public var cmax = LogHistogram()
  public var auc = LogHistogram()
  public var tmax = LogHistogram()
  public var persistence = LogHistogram()
  public var pfs = SurvivalTally()
  public var os = SurvivalTally()
  /// Per posterior particle (patients drawn from a calibration): patients, responders, DLTs.
  public var byParticle: [Int: (n: Int, responders: Int, dlts: Int)] = [:]
  /// The particle groups in particle order (a dictionary's order differs between runs).
  public var particleGroups: [(n: Int, responders: Int, dlts: Int)] { byParticle.keys.sorted().map { byParticle[$0]! } }
  /// (id, best % change, best response) of the first patients, for the waterfall plot.
  public var waterfall: [(id: Int, change: Double, best: Response)] = []
  public var swimmers: [SwimmerLane] = []

  public var failed: Int { patients - succeeded }
  public func count(_ r: Response) -> Int { responses[r] ?? 0 }
  public var objectiveResponses: Int { count(.CR) + count(.PR) }
  public var diseaseControl: Int { objectiveResponses + count(.SD) }
}

/// Everything the summary, km.csv, the plots and the report show.
public struct TrialResults: Sendable {
  public var aggregate: TrialAggregate
  public var arms: [ArmStatistics]

  /// Reads patients.csv (streaming) and aggregate.json of a finished run in `dir`.
  public static func load(dir: String) throws -> TrialResults {
    let aggregate = try TrialAggregate.load(path: (dir as NSString).appendingPathComponent("aggregate.json"))
    var arms = aggregate.arms.map { ArmStatistics(name: $0.name, description: $0.description) }
    let armIndex = Dictionary(uniqueKeysWithValues: aggregate.arms.enumerated().map { ($1.name, $0) })
    let path = (dir as NSString).appendingPathComponent("patients.csv")
    var columns: [String: Int] = [:]
    var header = true
    try CSVFile.read(path: path) { record in
      let fields = record.fields, lineNumber = record.line
      if header {
        header = false
        for (i, c) in fields.enumerated() { columns[c] = i }
        for required in ["arm", "id", "status"] + PatientTable.endpointColumns where columns[required] == nil {
          throw InputError(file: path, path: "header", message: "missing column '\(required)'")
        }
        return
      }
      func field(_ c: String) -> String { columns[c].map { $0 < fields.count ? fields[$0] : "" } ?? "" }
      func number(_ c: String) -> Double? { Double(field(c)).flatMap { $0.isFinite ? $0 : nil } }
      // Survival times are ≥ 0; anything else is a damaged file, not a patient.
      for c in ["pfs_days", "os_days"] where number(c).map({ $0 < 0 }) ?? false {
        throw InputError(file: path, path: "line \(lineNumber), column '\(c)'", message: "must be a time ≥ 0, found \(field(c))")
      }
      guard fields.count == columns.count, let a = armIndex[field("arm")], let id = Int(field("id")) else {
        throw InputError(file: path, path: "line \(lineNumber)", message: "malformed row (unknown arm or id, or wrong field count)")
      }
      var s = arms[a]
      s.patients += 1
      let status = field("status")
      s.statusCounts[status, default: 0] += 1
      if status == "Success" {
        s.succeeded += 1
        let best = Response(rawValue: field("best_response")) ?? .NE
        s.responses[best, default: 0] += 1
        if let g = Int(field("crs_grade")), (0...4).contains(g) { s.crsGrades[g] += 1 }
        if field("dlt") == "1" { s.dlts += 1 }
        if let j = Int(field("particle")) {
          var g = s.byParticle[j] ?? (0, 0, 0)
          g.n += 1
          if best == .CR || best == .PR { g.responders += 1 }
          if field("dlt") == "1" { g.dlts += 1 }
          s.byParticle[j] = g
        }
        if let x = number("cmax_cells_per_uL") { s.cmax.add(x) }
        if let x = number("auc0_28_cells_day_per_uL") { s.auc.add(x) }
        if let x = number("tmax_days") { s.tmax.add(x) }
        if let x = number("car_t_persistence_days") { s.persistence.add(x) }
        if let t = number("pfs_days") { s.pfs.add(time: t, event: field("pfs_event") == "1") }
        if let t = number("os_days") { s.os.add(time: t, event: field("os_event") == "1") }
        if id < ArmStatistics.waterfallPatients, let c = number("best_pct_change") { s.waterfall.append((id, c, best)) }
        if id < TrialAggregate.samplePatients, let d = number("os_days") {
          s.swimmers.append(
            .init(
              id: id, days: d, died: field("os_event") == "1", responseDay: number("response_day"),
              progressionDay: number("progression_day"), best: best))
        }
      }
      arms[a] = s
    }
    for (i, arm) in arms.enumerated() where arm.patients != aggregate.arms[i].patients {
      throw InputError(
        file: path, path: "",
        message: "arm '\(arm.name)' has \(arm.patients) rows; the trial has \(aggregate.arms[i].patients) patients (an incomplete run?)")
    }
    return TrialResults(aggregate: aggregate, arms: arms)
  }

  /// CAR T in blood: 5th, 50th and 95th percentiles per kinetics day for one arm.
  public func kineticsBand(arm: Int) -> (days: [Double], p5: [Double], p50: [Double], p95: [Double]) {
    let h = aggregate.kinetics[arm]
    return (aggregate.kineticsDays, h.map { $0.quantile(0.05) ?? 0 }, h.map { $0.quantile(0.5) ?? 0 }, h.map { $0.quantile(0.95) ?? 0 })
  }

  // MARK: Outputs

  public func kmCSV() -> String {
    var out = "arm,endpoint,time_days,at_risk,events,survival,lower,upper\n"
    for arm in arms {
      for (endpoint, tally) in [("PFS", arm.pfs), ("OS", arm.os)] {
        for r in KaplanMeier(tally).rows {
          out += "\(CSV.field(arm.name)),\(endpoint),\(fmt(r.time)),\(r.atRisk),\(r.events),"
          out += String(format: "%.6f,%.6f,%.6f\n", r.survival, r.lower, r.upper)
        }
      }
    }
    return out
  }

  static func interval(_ x: Int, _ n: Int) -> JSONOut {
    let ci = Distributions.clopperPearson(successes: x, trials: n)
    return .object([
      ("count", .int(x)), ("n", .int(n)), ("rate", .num(n > 0 ? Double(x) / Double(n) : nil)),
      ("lower_95", .num(n > 0 ? ci.lower : nil)), ("upper_95", .num(n > 0 ? ci.upper : nil)),
    ])
  }

  static func quantiles(_ h: LogHistogram) -> JSONOut {
    .object([("p5", .num(h.quantile(0.05))), ("median", .num(h.quantile(0.5))), ("p95", .num(h.quantile(0.95)))])
  }

  static func km(_ t: SurvivalTally) -> JSONOut {
    let k = KaplanMeier(t)
    let at = { (d: Double) in JSONOut.num(k.survival(at: d)) }
    return .object([
      ("patients", .int(k.subjects)), ("events", .int(k.totalEvents)),
      ("median_days", .num(k.median)), ("median_lower_95", .num(k.medianLower)), ("median_upper_95", .num(k.medianUpper)),
      ("survival_6_months", at(182.625)), ("survival_12_months", at(365.25)), ("survival_24_months", at(730.5)),
    ])
  }

  /// The log-rank tests of an endpoint: all arms at once, and each later arm against the
  /// first (nil where fewer than two of the arms compared have patients with results).
  public func logRankTests(_ pick: (ArmStatistics) -> SurvivalTally) -> (all: LogRankTest?, versusFirst: [LogRankTest?]) {
    (LogRankTest(arms.map(pick)), arms.indices.dropFirst().map { LogRankTest([pick(arms[0]), pick(arms[$0])]) })
  }

  func logRank(_ pick: (ArmStatistics) -> SurvivalTally) -> JSONOut {
    guard arms.count >= 2 else { return .null }
    let tests = logRankTests(pick)
    let pairs: [JSONOut] = zip(arms.dropFirst(), tests.versusFirst).map { arm, t in
      .object([
        ("arm", .string(arm.name)), ("reference", .string(arms[0].name)),
        ("chi_square", .num(t?.statistic)), ("p_value", .num(t?.pValue)),
      ])
    }
    let all = tests.all
    return .object([
      (
        "all_arms",
        .object([
          ("chi_square", .num(all?.statistic)), ("df", all.map { .int($0.degreesOfFreedom) } ?? .null),
          ("p_value", .num(all?.pValue)),
        ])
      ),
      ("versus_reference", .array(pairs)),
    ])
  }

  /// The rate's distribution over the calibration's posterior (`null` without one): mean, the
  /// between-particle standard deviation, and the central 95% of a beta distribution with
  /// those moments (``ParameterUncertainty``).
  static func overPosterior(_ groups: [(n: Int, k: Int)]) -> JSONOut {
    guard let u = ParameterUncertainty(groups: groups) else { return .null }
    return .object([
      ("rate", .number(u.mean)), ("between_particle_sd", .number(u.sd)),
      ("lower_95", .number(u.lower)), ("upper_95", .number(u.upper)), ("particles", .int(u.groups)),
    ])
  }

  public func summaryJSON() -> JSONOut {
    let ag = aggregate
    let armsJSON: [JSONOut] = arms.enumerated().map { i, a in
      let band = kineticsBand(arm: i)
      let marks = [7.0, 14, 28, 90, 180, 365].filter { $0 <= band.days.last ?? 0 }
      let bandJSON: [JSONOut] = marks.compactMap { d in
        guard let j = band.days.firstIndex(of: d) else { return nil }
        return .object([("day", .number(d)), ("p5", .num(band.p5[j])), ("median", .num(band.p50[j])), ("p95", .num(band.p95[j]))])
      }
      return .object([
        ("name", .string(a.name)), ("description", .string(a.description)),
        ("patients", .int(a.patients)), ("completed", .int(a.succeeded)), ("failed", .int(a.failed)),
        ("status_counts", .object(a.statusCounts.keys.sorted().map { ($0, .int(a.statusCounts[$0]!)) })),
        ("best_response", .object(Response.allCases.map { ($0.rawValue, .int(a.count($0))) })),
        ("orr", Self.interval(a.objectiveResponses, a.succeeded)),
        ("disease_control_rate", Self.interval(a.diseaseControl, a.succeeded)),
        ("crs_grade_counts", .object((0...4).map { ("grade_\($0)", .int(a.crsGrades[$0])) })),
        ("dlt", Self.interval(a.dlts, a.succeeded)),
        ("orr_over_posterior", Self.overPosterior(a.particleGroups.map { ($0.n, $0.responders) })),
        ("dlt_over_posterior", Self.overPosterior(a.particleGroups.map { ($0.n, $0.dlts) })),
        ("car_t_cmax_cells_per_uL", Self.quantiles(a.cmax)),
        ("car_t_tmax_days", Self.quantiles(a.tmax)),
        ("car_t_auc0_28_cells_day_per_uL", Self.quantiles(a.auc)),
        ("car_t_persistence_days", Self.quantiles(a.persistence)),
        ("car_t_blood_percentiles", .array(bandJSON)),
        ("pfs", Self.km(a.pfs)), ("os", Self.km(a.os)),
      ])
    }
    return .object([
      ("trial", .string(ag.name)), ("spec", .string(ag.specFile)), ("seed", .string(String(ag.seed))),
      ("patients", .int(arms.reduce(0) { $0 + $1.patients })), ("failed", .int(arms.reduce(0) { $0 + $1.failed })),
      ("follow_up_days", .number(ag.followUpDays)),
      (
        "definitions",
        .object([
          ("dlt", .string(ag.dltDefinition)), ("survival_model", .string(ag.survivalModel)),
          (
            "response",
            .string(
              "RECIST 1.1 best overall response with confirmation of CR/PR; ORR = (CR + PR) / completed patients, exact Clopper–Pearson 95% intervals"
            )
          ),
          ("kaplan_meier", .string("Kaplan–Meier with Greenwood variance, log(−log) 95% intervals; median CI where the bands cross 0.5")),
          ("percentiles", .string("from log-binned histograms, 20 bins per decade (about 12% resolution)")),
          (
            "over_posterior",
            .string(
              "orr_over_posterior, dlt_over_posterior: with calibrated parameters, each patient's typical values are a posterior particle; the rate's spread over the particles by the method of moments (between-particle variance = variance of the particles' rates less their binomial part), as a beta distribution's central 95%"
            )
          ),
        ])
      ),
      ("arms", .array(armsJSON)),
      ("log_rank", .object([("pfs", logRank(\.pfs)), ("os", logRank(\.os))])),
      ("status", .string("complete")),
    ])
  }

  /// Writes summary.json, km.csv, plots/*.svg and report.html into `dir` (summary last).
  public func write(to dir: String) throws {
    let plotsDir = (dir as NSString).appendingPathComponent("plots")
    try? FileManager.default.createDirectory(atPath: plotsDir, withIntermediateDirectories: true)
    try ResultWriter.atomicWrite(kmCSV(), to: (dir as NSString).appendingPathComponent("km.csv"))
    let plots = TrialPlots.make(self)
    for (name, svg) in plots { try ResultWriter.atomicWrite(svg, to: (plotsDir as NSString).appendingPathComponent(name)) }
    let summary = summaryJSON()
    try ResultWriter.atomicWrite(TrialReport.html(self, plots: plots), to: (dir as NSString).appendingPathComponent("report.html"))
    try ResultWriter.atomicWrite(summary.render() + "\n", to: (dir as NSString).appendingPathComponent("summary.json"))
  }
}

/// Reads a CSV file (patients.csv) record by record in chunks through ``CSVReader``, so memory
/// stays flat in the file size; malformed quoting is an error naming the file, line and column.
enum CSVFile {
  static func read(path: String, _ body: (CSVRecord) throws -> Void) throws {
    guard let h = FileHandle(forReadingAtPath: path) else {
      throw InputError(file: path, path: "", message: "cannot read the file")
    }
    defer { try? h.close() }
    var reader = CSVReader(source: path)
    do {
      while true {
        let chunk = h.readData(ofLength: 1 << 20)
        if chunk.isEmpty { break }
        try chunk.withUnsafeBytes { bytes in try reader.read(bytes, body) }
      }
      try reader.finish(body)
    } catch let e as CSVError {
      throw InputError(file: path, path: e.place, message: e.message)
    }
  }
}

/// The spread of a rate over a calibration's posterior, from patients grouped by the particle
/// that set their typical values: the between-particle variance of the particles' true rates
/// is the variance of their observed rates less its binomial part (method of moments, each
/// group's p̂(1 − p̂)/(n − 1) being unbiased for p(1 − p)/n), and the interval is the central
/// 95% of the beta distribution with the pooled rate as mean and that variance.
public struct ParameterUncertainty: Sendable {
  public var mean: Double
  public var sd: Double
  public var lower: Double
  public var upper: Double
  public var groups: Int

  /// Nil with fewer than two groups of at least two patients.
  public init?(groups all: [(n: Int, k: Int)]) {
    let g = all.filter { $0.n >= 2 }
    guard g.count >= 2 else { return nil }
    let n = g.reduce(0) { $0 + $1.n }, k = g.reduce(0) { $0 + $1.k }
    let rates = g.map { Double($0.k) / Double($0.n) }
    let m = rates.reduce(0, +) / Double(rates.count)
    let s2 = rates.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(rates.count - 1)
    let binomial = zip(g, rates).reduce(0) { $0 + $1.1 * (1 - $1.1) / Double($1.0.n - 1) } / Double(g.count)
    let v = max(0, s2 - binomial)
    mean = Double(k) / Double(n)
    sd = v.squareRoot()
    groups = g.count
    if v <= 0 || mean <= 0 || mean >= 1 || v >= mean * (1 - mean) {
      lower = v <= 0 ? mean : 0
      upper = v <= 0 ? mean : 1
      return
    }
    let c = mean * (1 - mean) / v - 1
    lower = Distributions.betaQuantile(0.025, mean * c, (1 - mean) * c)
    upper = Distributions.betaQuantile(0.975, mean * c, (1 - mean) * c)
  }
}
