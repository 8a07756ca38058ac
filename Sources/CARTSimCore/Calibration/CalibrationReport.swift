import CSVKit
import Foundation
import StatKit

/// What a calibration found, per target and per parameter: the numbers of `calibration.json`
/// and `report.html`.
public struct TargetCheck: Sendable {
  public var target: Target
  /// Posterior mean of the simulated rate (or median, days), and its central 95% interval.
  public var mean: Double?
  public var low: Double?
  public var high: Double?
  /// Central 95% of the count a trial of the observed size would see (binomial targets).
  public var predictive: (low: Int, high: Int)?
  public var inside: Bool?

  /// Checks a target against weighted simulated values (one per particle, or one value with
  /// weight 1 for a single trial run).
  public init(_ t: Target, values: [(TargetValue, Double)]) {
    target = t
    if t.endpoint.isMedian {
      let ms = values.compactMap { v, w in v.median.map { ($0, w) } }
      mean = ms.isEmpty ? nil : ms.reduce(0) { $0 + $1.0 * $1.1 } / ms.reduce(0) { $0 + $1.1 }
      low = Self.quantile(ms, 0.025)
      high = Self.quantile(ms, 0.975)
      let lo = values.compactMap { $0.0.medianInterval?.low }.min(), hi = values.compactMap { $0.0.medianInterval?.high }.max()
      if let lo, let hi, let m = t.observedMedian {
        inside = m >= lo && m <= hi
        low = min(low ?? lo, lo)
        high = max(high ?? hi, hi)
      }
      return
    }
    let rates = values.compactMap { v, w in v.rate(weights: t.weights).map { (p: $0, w: w) } }
    guard !rates.isEmpty else { return }
    mean = rates.reduce(0) { $0 + $1.p * $1.w } / rates.reduce(0) { $0 + $1.w }
    low = Self.quantile(rates.map { ($0.p, $0.w) }, 0.025)
    high = Self.quantile(rates.map { ($0.p, $0.w) }, 0.975)
    let pi = t.predictiveInterval(rates: rates)
    predictive = (pi.low, pi.high)
    inside = t.observedK >= pi.low && t.observedK <= pi.high
  }

  /// Weighted quantile (the smallest value whose cumulative weight reaches q).
  static func quantile(_ xs: [(Double, Double)], _ q: Double) -> Double? {
    guard !xs.isEmpty else { return nil }
    let sorted = xs.sorted { $0.0 < $1.0 }
    let total = sorted.reduce(0) { $0 + $1.1 }
    var cum = 0.0
    for (x, w) in sorted {
      cum += w
      if cum >= q * total - 1e-12 { return x }
    }
    return sorted.last!.0
  }

  var json: JSONOut {
    let t = target
    var fields: [(String, JSONOut)] = [
      ("id", .string(t.id)), ("arms", .array(t.arms.map { .string($0) })), ("weights", .array(t.weights.map { .number($0) })),
      ("endpoint", .string(t.endpointDescription)),
      (
        "observed",
        t.observedMedian.map { .object([("median_days", .number($0)), ("n", .int(t.observedN))]) }
          ?? .object([("k", .int(t.observedK)), ("n", .int(t.observedN))])
      ),
      ("source", .string(t.source)), ("confidence", .string(t.confidence)),
      ("used_in_calibration", .bool(t.usedInCalibration)),
      (t.endpoint.isMedian ? "simulated_median_days" : "simulated_rate", .num(mean)),
      (t.endpoint.isMedian ? "simulated_median_95" : "simulated_rate_95", .array([.num(low), .num(high)])),
    ]
    if let p = predictive { fields.append(("predicted_count_95", .array([.int(p.low), .int(p.high)]))) }
    fields.append(("observed_inside_95", inside.map { .bool($0) } ?? .null))
    if !t.note.isEmpty { fields.append(("note", .string(t.note))) }
    return .object(fields)
  }
}

extension Target {
  public var endpointDescription: String {
    var s: String
    switch endpoint {
    case .bestResponse(let set):
      s = "best response in {" + Response.allCases.filter(set.contains).map(\.rawValue).joined(separator: ", ") + "}"
    case .crsGrade(let lo, let hi): s = lo == hi ? "CRS grade \(lo)" : hi == 4 ? "CRS grade ≥ \(lo)" : "CRS grade \(lo)–\(hi)"
    case .dlt: s = "DLT"
    case .expandedPatients: s = "patients with expansion after an infusion"
    case .expandedInfusions(let ldOnly):
      s = ldOnly ? "infusions after lymphodepletion followed by expansion" : "infusions followed by expansion"
    case .infusionsAtLeast(let m): s = "patients with ≥ \(m) infusions"
    case .persistenceAtLeast(let d): s = "CAR T detectable ≥ \(fmt(d)) days"
    case .osMedianDays: s = "median overall survival"
    }
    if let d = doseAbove { s += " (dose > \(fmt(d))/m²)" }
    return s
  }
}

/// Writes a calibration's outputs: `calibration.json` (loadable by `cartsim trial` through a
/// spec's `calibrated_parameters`) and `report.html`.
public enum CalibrationReport {
  public static func checks(_ r: Calibrator.Result) -> [TargetCheck] {
    let post = r.posterior.particles
    return r.targets.enumerated().map { i, t in TargetCheck(t, values: post.map { ($0.targets[i], $0.weight) }) }
  }

  /// Weighted posterior summary of parameter `k`: mean, median, 2.5% and 97.5%.
  static func posterior(_ r: Calibrator.Result, _ k: Int) -> (mean: Double, median: Double, low: Double, high: Double) {
    let xs = r.posterior.particles.map { ($0.values[k], $0.weight) }
    let mean = xs.reduce(0) { $0 + $1.0 * $1.1 }
    return (mean, TargetCheck.quantile(xs, 0.5)!, TargetCheck.quantile(xs, 0.025)!, TargetCheck.quantile(xs, 0.975)!)
  }

  /// What `cartsim calibrate` prints: the run in one line, then each target outside its 95%
  /// predictive interval.
  public static func summary(_ r: Calibrator.Result) -> String {
    let all = checks(r)
    var out = [
      String(
        format:
          "calibrated %d parameters to %d targets in %.0f s; effective sample size %.1f; %d of %d targets inside their 95%% predictive interval",
        r.spec.priors.count, r.targets.filter(\.usedInCalibration).count, r.seconds, r.posterior.effectiveSampleSize,
        all.filter { $0.inside == true }.count, all.count)
    ]
    for c in all where c.inside == false {
      out.append("  outside: \(c.target.id) (\(c.target.observedDescription))\(c.target.usedInCalibration ? "" : ", held out")")
    }
    return out.joined(separator: "\n") + "\n"
  }

  public static func json(_ r: Calibrator.Result) -> JSONOut {
    let s = r.settings
    let checks = checks(r)
    return .object([
      ("calibration", .string(r.spec.name)),
      ("spec", .string(r.spec.file)),
      (
        "method",
        .string(
          "population Monte Carlo importance sampling with a beta-binomial likelihood of summary counts (Cappé et al. 2004; Beaumont et al. 2009); see Guides/Credibility.md"
        )
      ),
      ("seed", .string(String(s.seed))),
      ("rounds", .int(s.rounds)),
      ("particles_per_round", .int(s.particles)),
      ("patients_per_arm", .int(s.patientsPerArm)),
      ("wall_seconds", .number((r.seconds * 10).rounded() / 10)),
      (
        "diagnostics",
        .object([
          ("effective_sample_size", .array(r.rounds.map { .number(($0.effectiveSampleSize * 10).rounded() / 10) })),
          ("failed_patients", .array(r.rounds.map { .int($0.failedPatients) })),
          ("targets_inside_95", .int(checks.filter { $0.inside == true }.count)),
          ("targets", .int(checks.count)),
        ])
      ),
      (
        "parameters",
        .array(
          r.spec.priors.enumerated().map { k, p in
            let q = posterior(r, k)
            return .object([
              ("name", .string(p.name)),
              ("prior", .object([("low", .number(p.low)), ("high", .number(p.high)), ("scale", .string(p.scale.rawValue))])),
              (
                "posterior",
                .object([
                  ("mean", .number(q.mean)), ("median", .number(q.median)), ("low_95", .number(q.low)), ("high_95", .number(q.high)),
                ])
              ),
            ])
          })
      ),
      ("targets", .array(checks.map(\.json))),
      (
        "posterior_sample",
        .object([
          ("names", .array(r.spec.priors.map { .string($0.name) })),
          ("values", .array(r.posteriorSample.map { .array($0.map { .number($0) }) })),
        ])
      ),
    ])
  }

  /// Writes `report.html`, `credibility.html` (Guides/Credibility.md followed by the report)
  /// and, last, `calibration.json` in `dir`.
  public static func write(_ r: Calibrator.Result, to dir: String) throws {
    try ResultWriter.createDirectory(dir)
    let report = html(r)
    try ResultWriter.atomicWrite(report, to: (dir as NSString).appendingPathComponent("report.html"))
    try ResultWriter.atomicWrite(CredibilityReport.html(run: report), to: (dir as NSString).appendingPathComponent("credibility.html"))
    // calibration.json last: its presence means the run is complete.
    try ResultWriter.atomicWrite(json(r).render() + "\n", to: (dir as NSString).appendingPathComponent("calibration.json"))
  }

  static func g(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "–" }

  public static func html(_ r: Calibrator.Result) -> String {
    let esc = TrialReport.esc
    let checks = checks(r)
    var h = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(esc(r.spec.name)) — CARTSim calibration</title>
      <style>\(TrialReport.css)</style></head><body>
      <h1>Calibration: \(esc(r.spec.name))</h1>
      <p class="note">Population Monte Carlo importance sampling, \(r.settings.rounds) round(s) of \(r.settings.particles) particles,
      \(r.settings.patientsPerArm) virtual patients per arm and particle, seed \(r.settings.seed), \(String(format: "%.0f", r.seconds)) s.
      Effective sample size per round: \(r.rounds.map { String(format: "%.1f", $0.effectiveSampleSize) }.joined(separator: ", ")).
      Solver failures: \(r.rounds.map { String($0.failedPatients) }.joined(separator: ", ")).</p>
      <h2>Targets: observed vs simulated</h2>
      <p class="note">Simulated: the posterior mean of the rate with its central 95% interval over the posterior. Predicted: the central
      95% of the count a trial of the observed size would see (binomial with the simulated rate, mixed over the posterior).
      Held-out targets were not used in the calibration: they are predictions.</p>
      <table><tr><th>target</th><th>arms</th><th>endpoint</th><th>observed</th><th>simulated (95%)</th><th>predicted count (95%)</th><th>inside</th><th>use</th></tr>

      """
    for c in checks {
      let t = c.target
      let sim =
        t.endpoint.isMedian
        ? "\(g(c.mean)) d (\(g(c.low))–\(g(c.high)))"
        : "\(g(c.mean.map { $0 * 100 }))% (\(g(c.low.map { $0 * 100 }))–\(g(c.high.map { $0 * 100 }))%)"
      let pred = c.predictive.map { "\($0.low)–\($0.high) of \(t.observedN)" } ?? "–"
      let inside = c.inside.map { $0 ? "yes" : "<b>no</b>" } ?? "–"
      h +=
        "<tr\(c.inside == false ? " class=\"out\"" : "")><td>\(esc(t.id))</td><td>\(esc(t.arms.joined(separator: " + ")))</td><td>\(esc(t.endpointDescription))</td>"
      h +=
        "<td>\(esc(t.observedDescription))</td><td>\(sim)</td><td>\(pred)</td><td>\(inside)</td><td>\(t.usedInCalibration ? "calibration" : "held out")</td></tr>\n"
    }
    h += "</table>\n<h2>Parameters: prior vs posterior</h2>\n"
    h +=
      "<table><tr><th>parameter</th><th>prior</th><th>posterior median</th><th>posterior 95%</th><th>where the posterior lies in the prior</th></tr>\n"
    for (k, p) in r.spec.priors.enumerated() {
      let q = posterior(r, k)
      func unit(_ x: Double) -> Double {
        p.scale == .logUniform ? Foundation.log(x / p.low) / Foundation.log(p.high / p.low) : (x - p.low) / (p.high - p.low)
      }
      let w = 300.0
      var svg =
        "<svg width=\"\(Int(w))\" height=\"18\" viewBox=\"0 0 \(Int(w)) 18\"><rect x=\"0\" y=\"6\" width=\"\(Int(w))\" height=\"6\" fill=\"#ddd\"/>"
      svg += String(
        format: "<rect x=\"%.1f\" y=\"3\" width=\"%.1f\" height=\"12\" fill=\"#4a7fb5\"/>", unit(q.low) * w,
        max(2, (unit(q.high) - unit(q.low)) * w))
      svg += String(format: "<rect x=\"%.1f\" y=\"0\" width=\"2\" height=\"18\" fill=\"#b5443a\"/></svg>", unit(q.median) * w - 1)
      h +=
        "<tr><td>\(esc(p.name))</td><td>\(g(p.low))–\(g(p.high)) (\(p.scale.rawValue))</td><td>\(g(q.median))</td><td>\(g(q.low))–\(g(q.high))</td><td>\(svg)</td></tr>\n"
    }
    h +=
      "</table>\n<p class=\"note\">Grey: the prior range (\(r.spec.priors.contains { $0.scale == .logUniform } ? "log scale for log-uniform priors" : "linear")); blue: the posterior's central 95%; red: its median.</p>\n</body></html>\n"
    return h
  }
}

extension TargetCheck {
  /// Checks targets against a finished trial run in `dir` (its patients.csv): each target's
  /// rate as the run's arms simulate it, and the central 95% of the count a trial of the
  /// observed size would see (binomial with that rate).
  public static func check(trialDir dir: String, arms: [String], targets: [Target]) throws -> [TargetCheck] {
    let path = (dir as NSString).appendingPathComponent("patients.csv")
    let armIndex = Dictionary(uniqueKeysWithValues: arms.enumerated().map { ($1, $0) })
    var columns: [String: Int] = [:]
    // Counted row by row: memory stays flat in the number of patients.
    var tallies = targets.map { TargetTally($0, armIndex: armIndex) }
    var header = true
    try CSVFile.read(path: path) { record in
      let fields = record.fields, line = record.line
      if header {
        header = false
        for (i, c) in fields.enumerated() { columns[c] = i }
        for c in ["arm", "status"] + PatientTable.endpointColumns where columns[c] == nil {
          throw InputError(file: path, path: "header", message: "missing column '\(c)'")
        }
        return
      }
      func field(_ c: String) -> String {
        guard let i = columns[c], i < fields.count else { return "" }
        return fields[i]
      }
      guard let a = armIndex[field("arm")] else {
        throw InputError(file: path, path: "line \(line)", message: "unknown arm '\(field("arm"))'")
      }
      guard field("status") == "Success" else { return }
      let outcome = TargetOutcome(
        arm: a, dose: Double(field("dose_per_m2")) ?? 0, best: Response(rawValue: field("best_response")),
        crsGrade: Int(field("crs_grade")), dlt: field("dlt").isEmpty ? nil : field("dlt") == "1",
        infusions: Int(field("infusions")) ?? 0, expandedInfusions: Int(field("expanded_infusions")) ?? 0,
        lymphodepletedInfusions: Int(field("lymphodepleted_infusions")) ?? 0,
        expandedLymphodepletedInfusions: Int(field("expanded_after_lymphodepletion")) ?? 0,
        persistenceDays: Double(field("car_t_persistence_days")), cmax: Double(field("cmax_cells_per_uL")),
        osDays: Double(field("os_days")), osEvent: field("os_event").isEmpty ? nil : field("os_event") == "1")
      for k in tallies.indices { tallies[k].add(outcome) }
    }
    return tallies.map { TargetCheck($0.target, values: [($0.value, 1)]) }
  }

  /// The checks as JSON (`targets.json` of a trial run).
  public static func json(_ checks: [TargetCheck]) -> JSONOut {
    .object([
      ("targets_inside_95", .int(checks.filter { $0.inside == true }.count)),
      ("targets", .int(checks.count)),
      ("checks", .array(checks.map(\.json))),
    ])
  }
}
