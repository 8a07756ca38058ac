import Foundation
import Parallel
import StatKit

/// Global sensitivity of trial endpoints to a spec's calibrated parameters: Sobol first-order
/// and total indices (Saltelli 2010 and Jansen 1999 estimators, bootstrap intervals; StatKit's
/// ``SobolIndices``). Each point of the Saltelli design runs the same virtual patients of one
/// arm with the point's typical values; the endpoints are that arm's rates and medians.
public enum SensitivityAnalysis {
  public static let endpoints = [
    "complete_response_rate", "objective_response_rate", "crs_grade_3_plus_rate", "dlt_rate",
    "median_cmax_cells_per_uL", "median_persistence_days",
  ]

  public struct Settings: Sendable {
    public var baseSamples = 64
    public var patients = 50
    public var bootstrap = 500
    public var seed: UInt64 = 1
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var onProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    public init() {}

    public func validate() throws {
      func bad(_ f: String, _ m: String) -> InputError { InputError(file: "sensitivity", path: f, message: m) }
      guard (2...65_536).contains(baseSamples) else { throw bad("--samples", "must be 2…65536, found \(baseSamples)") }
      guard (1...100_000).contains(patients) else { throw bad("--patients", "must be 1…100000, found \(patients)") }
      guard (0...100_000).contains(bootstrap) else { throw bad("--bootstrap", "must be 0…100000, found \(bootstrap)") }
    }
  }

  public struct Result: Sendable {
    public var arm: String
    public var factors: [SobolFactor]
    public var indices: [(endpoint: String, indices: SobolIndices)]
    public var seconds: Double
  }

  /// The factors: the central 95% of the calibrated posterior sample when the spec has one
  /// (on the prior's scale), else the prior ranges.
  public static func factors(_ spec: TrialSpec) throws -> [SobolFactor] {
    if let c = spec.calibrated {
      return c.names.enumerated().map { k, name in
        let xs = c.particles.map { $0[k] }.sorted()
        var lo = xs[Int(Double(xs.count - 1) * 0.025)], hi = xs[Int(Double(xs.count - 1) * 0.975)]
        if hi <= lo {
          lo *= 0.99
          hi = hi * 1.01 + 1e-12
        }
        let scale = spec.priors.first { $0.name == name }?.scale ?? (lo > 0 ? .logUniform : .uniform)
        return SobolFactor(name: name, low: lo, high: hi, scale: lo > 0 ? scale : .uniform)
      }
    }
    guard !spec.priors.isEmpty else {
      throw InputError(file: spec.file, path: "priors", message: "the spec has neither calibrated parameters nor priors to vary")
    }
    return spec.priors
  }

  public static func run(_ spec: TrialSpec, arm: String, settings: Settings) throws -> Result {
    try settings.validate()
    guard let a = spec.arms.firstIndex(where: { $0.name == arm }) else {
      throw InputError(
        file: spec.file, path: "arms", message: "no arm named '\(arm)' (arms: \(spec.arms.map(\.name).joined(separator: ", ")))")
    }
    let start = Date()
    let factors = try factors(spec)
    var one = spec
    one.arms = [spec.arms[a]]
    one.priors = factors
    one.calibrated = nil
    let design = SobolDesign(factors: factors, baseSamples: settings.baseSamples, seed: settings.seed)
    let points = design.parameterPoints()
    let total = points.count * settings.patients
    let done = Shared(0)
    let sims = try Calibrator.simulate(one, values: points, patients: settings.patients, threads: settings.threads) {
      let n = done.withLock { n in
        n += 1
        return n
      }
      settings.onProgress?(n, total)
    }
    func median(_ xs: [Double]) -> Double {
      guard !xs.isEmpty else { return 0 }
      let s = xs.sorted()
      return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }
    var outputs = [[Double]](repeating: [], count: endpoints.count)
    for s in sims {
      let o = s.outcomes
      let n = Double(max(o.count, 1))
      outputs[0].append(Double(o.filter { $0.best == .CR }.count) / n)
      outputs[1].append(Double(o.filter { $0.best == .CR || $0.best == .PR }.count) / n)
      outputs[2].append(Double(o.filter { ($0.crsGrade ?? 0) >= 3 }.count) / n)
      outputs[3].append(Double(o.filter { $0.dlt == true }.count) / n)
      outputs[4].append(median(o.compactMap(\.cmax)))
      outputs[5].append(median(o.compactMap(\.persistenceDays)))
    }
    let indices = try zip(endpoints, outputs).map { name, ys in
      (name, try SobolIndices(design: design, outputs: ys, replicates: settings.bootstrap))
    }
    return Result(arm: arm, factors: factors, indices: indices, seconds: Date().timeIntervalSince(start))
  }

  /// Writes `sensitivity.json` in `dir`.
  public static func write(_ r: Result, to dir: String) throws {
    try ResultWriter.createDirectory(dir)
    try ResultWriter.writeText(json(r).render() + "\n", to: (dir as NSString).appendingPathComponent("sensitivity.json"))
  }

  /// What `cartsim sensitivity` prints: per endpoint, the three parameters with the largest
  /// total indices.
  public static func summary(_ r: Result, arm: String) -> String {
    var out = [
      "\(arm): Sobol indices of \(endpoints.count) endpoints to \(r.factors.count) parameters in \(String(format: "%.0f", r.seconds)) s"
    ]
    for e in r.indices {
      let top = e.indices.factors.sorted { $0.total > $1.total }.prefix(3)
      out.append(
        "  \(e.endpoint): " + top.map { String(format: "%@ S1 %.2f ST %.2f", $0.name, $0.first, $0.total) }.joined(separator: "; "))
    }
    return out.joined(separator: "\n") + "\n"
  }

  public static func json(_ r: Result) -> JSONOut {
    .object([
      ("arm", .string(r.arm)),
      (
        "method",
        .string(
          "Sobol indices: Saltelli et al. 2010 first-order and Jansen 1999 total estimators on a Saltelli design; percentile bootstrap intervals"
        )
      ),
      ("wall_seconds", .number((r.seconds * 10).rounded() / 10)),
      (
        "factors",
        .array(
          r.factors.map {
            .object([
              ("name", .string($0.name)), ("low", .number($0.low)), ("high", .number($0.high)), ("scale", .string($0.scale.rawValue)),
            ])
          })
      ),
      (
        "endpoints",
        .array(
          r.indices.map { e in
            .object([
              ("endpoint", .string(e.endpoint)), ("variance", .number(e.indices.variance)),
              (
                "indices",
                .array(
                  e.indices.factors.map { f in
                    .object([
                      ("name", .string(f.name)), ("first", .number(f.first)), ("first_95", .array([.num(f.firstLow), .num(f.firstHigh)])),
                      ("total", .number(f.total)), ("total_95", .array([.num(f.totalLow), .num(f.totalHigh)])),
                    ])
                  })
              ),
            ])
          })
      ),
    ])
  }
}
