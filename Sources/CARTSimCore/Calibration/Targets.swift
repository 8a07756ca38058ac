import Foundation
import StatKit

/// A published trial outcome to calibrate to or to check against: an endpoint counted in
/// one arm or pooled over arms, observed as `k` of `n` (or a median), with its source.
/// Read from a targets file (`Examples/heros-targets.json`; format in Guides/Credibility.md).
public struct Target: Sendable {
  /// What is counted per patient (or per infusion).
  public enum Endpoint: Sendable, Equatable {
    /// Best overall response in the set (e.g. CR and PR for the objective response).
    case bestResponse(Set<Response>)
    /// Maximum CRS grade in `[min, max]`.
    case crsGrade(min: Int, max: Int)
    /// Dose-limiting toxicity by the trial's definition.
    case dlt
    /// Patients with at least one infusion followed by expansion.
    case expandedPatients
    /// Infusions followed by expansion, per infusion given (or per infusion given after
    /// lymphodepletion).
    case expandedInfusions(afterLymphodepletionOnly: Bool)
    /// Patients who received at least this many infusions.
    case infusionsAtLeast(Int)
    /// Patients with CAR T cells detectable for at least this many days.
    case persistenceAtLeast(Double)
    /// Median overall survival, days (Kaplan–Meier).
    case osMedianDays

    public var isMedian: Bool { self == .osMedianDays }
  }

  public var id: String
  public var arms: [String]
  /// Relative weights of the arms in a pooled target (the enrolled split), same order.
  public var weights: [Double]
  public var endpoint: Endpoint
  /// Only patients whose first dose (in the arm's basis) is above this count.
  public var doseAbove: Double?
  public var observedK: Int
  public var observedN: Int
  /// For median endpoints: the observed median (days).
  public var observedMedian: Double?
  public var source: String
  public var confidence: String
  public var usedInCalibration: Bool
  public var note: String

  public var observedDescription: String {
    if let m = observedMedian { return "median \(fmt(m)) d (n = \(observedN))" }
    return "\(observedK) of \(observedN)"
  }
}

/// The per-patient facts the targets count, from a simulated patient.
public struct TargetOutcome: Sendable {
  public var arm: Int
  public var dose: Double
  public var best: Response?
  public var crsGrade: Int?
  public var dlt: Bool?
  public var infusions: Int
  public var expandedInfusions: Int
  public var lymphodepletedInfusions: Int
  public var expandedLymphodepletedInfusions: Int
  public var persistenceDays: Double?
  public var cmax: Double?
  public var osDays: Double?
  public var osEvent: Bool?

  public init(
    arm: Int, dose: Double, best: Response?, crsGrade: Int?, dlt: Bool?, infusions: Int, expandedInfusions: Int,
    lymphodepletedInfusions: Int, expandedLymphodepletedInfusions: Int,
    persistenceDays: Double?, cmax: Double?, osDays: Double?, osEvent: Bool?
  ) {
    self.arm = arm
    self.dose = dose
    self.best = best
    self.crsGrade = crsGrade
    self.dlt = dlt
    self.infusions = infusions
    self.expandedInfusions = expandedInfusions
    self.lymphodepletedInfusions = lymphodepletedInfusions
    self.expandedLymphodepletedInfusions = expandedLymphodepletedInfusions
    self.persistenceDays = persistenceDays
    self.cmax = cmax
    self.osDays = osDays
    self.osEvent = osEvent
  }

  public init(_ r: PatientRecord) {
    arm = r.arm
    dose = r.dosePerM2 ?? 0
    best = r.best
    crsGrade = r.crsGrade
    dlt = r.dlt
    infusions = r.infusions ?? 0
    expandedInfusions = r.expandedInfusions ?? 0
    lymphodepletedInfusions = r.lymphodepletedInfusions ?? 0
    expandedLymphodepletedInfusions = r.expandedLymphodepletedInfusions ?? 0
    persistenceDays = r.persistenceDays
    cmax = r.cmax
    osDays = r.osDays
    osEvent = r.osEvent
  }
}

/// A target's simulated value: counts per arm (rate = k/n) or a median.
public struct TargetValue: Sendable {
  /// Per arm of the target: events and denominators.
  public var counts: [(k: Int, n: Int)]
  public var median: Double?
  /// For median targets: the central 95% of the Kaplan–Meier median of a trial of the observed
  /// size drawn from the simulated patients (200 bootstrap draws from a fixed stream).
  public var medianInterval: (low: Double, high: Double)?

  /// The pooled rate: the arms' rates weighted by the target's weights (nil without data).
  public func rate(weights: [Double]) -> Double? {
    var num = 0.0, den = 0.0
    for (c, w) in zip(counts, weights) where c.n > 0 {
      num += w * Double(c.k) / Double(c.n)
      den += w
    }
    return den > 0 ? num / den : nil
  }

  /// Simulated events and denominator pooled without weights.
  public var total: (k: Int, n: Int) { counts.reduce((0, 0)) { ($0.0 + $1.k, $0.1 + $1.n) } }
}

extension Target {
  /// Counts the target in the outcomes of the given trial arms (`armIndex` maps the target's
  /// arm names to arm indices of the outcomes).
  public func evaluate(_ outcomes: [TargetOutcome], armIndex: [String: Int]) -> TargetValue {
    var tally = TargetTally(self, armIndex: armIndex)
    for o in outcomes { tally.add(o) }
    return tally.value
  }
}

/// A target counted one outcome at a time, so that a trial's patients need not be held in
/// memory: counts per arm, and for a median the survival times (its bootstrap resamples them).
public struct TargetTally: Sendable {
  public let target: Target
  let indices: [Int]
  var counts: [(k: Int, n: Int)]
  var survival = SurvivalTally()
  var times: [(Double, Bool)] = []

  /// `armIndex` maps the target's arm names to arm indices of the outcomes.
  public init(_ target: Target, armIndex: [String: Int]) {
    self.target = target
    indices = target.arms.map { armIndex[$0]! }
    counts = Array(repeating: (0, 0), count: target.arms.count)
  }

  public mutating func add(_ o: TargetOutcome) {
    guard let j = indices.firstIndex(of: o.arm) else { return }
    if let doseAbove = target.doseAbove, !(o.dose > doseAbove) { return }
    switch target.endpoint {
    case .bestResponse(let set):
      guard let b = o.best else { return }
      counts[j].n += 1
      if set.contains(b) { counts[j].k += 1 }
    case .crsGrade(let lo, let hi):
      guard let g = o.crsGrade else { return }
      counts[j].n += 1
      if g >= lo && g <= hi { counts[j].k += 1 }
    case .dlt:
      guard let d = o.dlt else { return }
      counts[j].n += 1
      if d { counts[j].k += 1 }
    case .expandedPatients:
      guard o.best != nil || o.crsGrade != nil else { return }
      counts[j].n += 1
      if o.expandedInfusions > 0 { counts[j].k += 1 }
    case .expandedInfusions(let ldOnly):
      counts[j].n += ldOnly ? o.lymphodepletedInfusions : o.infusions
      counts[j].k += ldOnly ? o.expandedLymphodepletedInfusions : o.expandedInfusions
    case .infusionsAtLeast(let m):
      guard o.infusions > 0 else { return }
      counts[j].n += 1
      if o.infusions >= m { counts[j].k += 1 }
    case .persistenceAtLeast(let days):
      guard let p = o.persistenceDays else { return }
      counts[j].n += 1
      if p >= days { counts[j].k += 1 }
    case .osMedianDays:
      guard let t = o.osDays, let e = o.osEvent else { return }
      counts[j].n += 1
      survival.add(time: t, event: e)
      times.append((t, e))
    }
  }

  /// The counts, and for a median target the Kaplan–Meier median with its bootstrap interval.
  public var value: TargetValue {
    var value = TargetValue(counts: counts, median: nil)
    if target.endpoint.isMedian && !times.isEmpty {
      value.median = KaplanMeier(survival).median
      var rng = RandomStream(seed: 0, id: RandomStream.address(0xB007, UInt64(target.observedN)))
      var medians: [Double] = []
      for _ in 0..<200 {
        var tally = SurvivalTally()
        for _ in 0..<target.observedN {
          let (t, e) = times[Int(rng.next() % UInt64(times.count))]
          tally.add(time: t, event: e)
        }
        medians.append(KaplanMeier(tally).median ?? .infinity)
      }
      medians.sort()
      value.medianInterval = (medians[4], medians[194])
    }
    return value
  }
}

extension Target {
  /// The central `level` interval of the count a trial of the observed size would see, for a
  /// mixture of rates (each with its weight): Σ wⱼ Bin(n, pⱼ).
  public func predictiveInterval(rates: [(p: Double, w: Double)], level: Double = 0.95) -> (low: Int, high: Int, mean: Double) {
    let n = observedN
    var pmf = [Double](repeating: 0, count: n + 1)
    let total = rates.reduce(0) { $0 + $1.w }
    for (p, w) in rates where w > 0 {
      for k in 0...n { pmf[k] += w / total * Distributions.binomialPMF(k, n, p) }
    }
    let tail = (1 - level) / 2
    var cdf = 0.0, low = 0, high = n
    var lowSet = false
    for k in 0...n {
      cdf += pmf[k]
      if !lowSet && cdf > tail - 1e-12 {
        low = k
        lowSet = true
      }
      if cdf >= 1 - tail - 1e-12 {
        high = k
        break
      }
    }
    let mean = Double(n) * rates.reduce(0) { $0 + $1.p * $1.w } / max(total, .leastNonzeroMagnitude)
    return (low, high, mean)
  }
}

/// Reads a targets file.
public enum TargetFile {
  /// `Examples/heros-targets.json`, compiled in.
  public static func embeddedHEROS(arms: [String]) throws -> [Target] {
    let file = "<embedded heros-targets.json>"
    return try parse(JSONValue.decode(Data(EmbeddedScenarios.files["heros-targets.json"]!.utf8), file: file), file: file, arms: arms)
  }

  /// The targets at `path`; without one, the embedded HEROS targets when `orHEROS`, else none.
  public static func load(path: String?, orHEROS: Bool, arms: [String]) throws -> [Target]? {
    if let path { return try load(path: path, arms: arms) }
    return orHEROS ? try embeddedHEROS(arms: arms) : nil
  }

  public static func load(path: String, arms: [String]) throws -> [Target] {
    try parse(JSONValue.load(path: path), file: path, arms: arms)
  }

  public static func parse(_ root: JSONValue, file: String, arms: [String]) throws -> [Target] {
    var r = try FieldReader(file: file, path: "", value: root)
    _ = try r.string("name", default: "")
    _ = try r.string("description", default: "")
    var out: [Target] = []
    for var t in try r.objects("targets") {
      let id = try t.string("id")
      if out.contains(where: { $0.id == id }) { throw t.fail("id", "another target is named '\(id)'") }
      let names: [String]
      switch t.value("arms") {
      case .string(let s)?: names = [s]
      case .array(let list)?:
        names = try list.enumerated().map { i, v in
          guard case .string(let s) = v else {
            throw InputError(file: file, path: t.sub("arms") + "[\(i)]", message: "expected an arm name, found \(v.kind)")
          }
          return s
        }
      case nil: throw t.fail("arms", "is required: an arm name or a list of them")
      case let other?: throw t.fail("arms", "expected an arm name or a list, found \(other.kind)")
      }
      guard !names.isEmpty, names.count <= 64 else { throw t.fail("arms", "needs 1 to 64 arm names") }
      for (i, n) in names.enumerated() where !arms.contains(n) {
        throw InputError(
          file: file, path: t.sub("arms") + (names.count == 1 ? "" : "[\(i)]"),
          message: "no arm named '\(n)' in the trial (arms: \(arms.joined(separator: ", ")))")
      }
      var weights = [Double](repeating: 1, count: names.count)
      if t.has("weights") {
        weights = try t.numbers("weights")
        guard weights.count == names.count else {
          throw t.fail("weights", "gives \(weights.count) weights for \(names.count) arms")
        }
        for (i, w) in weights.enumerated() where !(w > 0 && w.isFinite) {
          throw InputError(file: file, path: t.sub("weights") + "[\(i)]", message: "must be a positive number, found \(fmt(w))")
        }
      }
      let kind = try t.string(
        "endpoint",
        oneOf: [
          "best_response", "crs_grade", "dlt", "expanded_patients",
          "expanded_infusions", "infusions_at_least", "persistence_days_at_least",
          "os_median_days",
        ])
      let endpoint: Target.Endpoint
      switch kind {
      case "best_response":
        let values = try t.strings("in", oneOf: Response.allCases.map(\.rawValue))
        guard !values.isEmpty else { throw t.fail("in", "needs at least one response") }
        endpoint = .bestResponse(Set(values.compactMap(Response.init(rawValue:))))
      case "crs_grade":
        let lo = try t.integer("min", min: 0, max: 4)
        let hi = try t.integer("max", default: 4, min: lo, max: 4)
        endpoint = .crsGrade(min: lo, max: hi)
      case "dlt": endpoint = .dlt
      case "expanded_patients": endpoint = .expandedPatients
      case "expanded_infusions":
        endpoint = .expandedInfusions(afterLymphodepletionOnly: try t.bool("after_lymphodepletion_only", default: false))
      case "infusions_at_least": endpoint = .infusionsAtLeast(try t.integer("min", min: 1, max: 1000))
      case "persistence_days_at_least": endpoint = .persistenceAtLeast(try t.number("min", min: 0, max: 36_500))
      default: endpoint = .osMedianDays
      }
      let doseAbove = try t.optionalNumber("dose_per_m2_above", min: 0)
      guard var o = try t.object("observed") else {
        throw t.fail("observed", "is required: {\"k\": …, \"n\": …} or {\"median_days\": …, \"n\": …}")
      }
      let n = try o.integer("n", min: 1, max: 100_000)
      var k = 0
      var median: Double? = nil
      if endpoint.isMedian {
        median = try o.number("median_days", min: 0, exclusiveMin: true)
      } else {
        k = try o.integer("k", min: 0, max: n)
      }
      try o.finish()
      let source = try t.string("source")
      let confidence = try t.string("confidence", default: "A", oneOf: ["V", "A", "S", "D", "U"])
      let used = try t.bool("used_in_calibration", default: true)
      if used && endpoint.isMedian {
        throw t.fail("used_in_calibration", "median targets are reported, not calibrated to; set it to false")
      }
      let note = try t.string("note", default: "")
      try t.finish()
      out.append(
        Target(
          id: id, arms: names, weights: weights, endpoint: endpoint, doseAbove: doseAbove, observedK: k,
          observedN: n, observedMedian: median, source: source, confidence: confidence, usedInCalibration: used,
          note: note))
    }
    guard !out.isEmpty else { throw r.fail("targets", "needs at least one target") }
    try r.finish()
    return out
  }
}
