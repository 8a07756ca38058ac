import Foundation
import Parallel
import StatKit

/// The bootstrap of a population fit. Each sample is a dataset of the study's size, the model
/// is fitted to it from the original estimates, and the spread of the estimates over the
/// samples gives standard errors and 95% intervals with no assumption on the objective's shape.
///
/// - Nonparametric (the default), as PsN's `bootstrap` does for NONMEM: the subjects are drawn
///   with replacement, within strata of a data item if asked (PsN's `-stratify_on`), so that
///   every sample has as many subjects of each stratum as the study.
/// - Parametric: the study's design (doses, times, covariates, limits) with its observations
///   simulated from the estimates (``NLMESimulation``; a value below its limit is censored), as
///   PsN's `sse` simulates from a model. The samples then repeat the estimator's small-sample
///   bias at the estimates, which the basic and normal intervals correct for.
///
/// Three intervals are reported (Davison & Hinkley 1997, §5.2–5.3; R's `boot.ci`):
/// - percentile: the 2.5th to 97.5th percentile of the bootstrap estimates;
/// - basic: [2θ̂ − q₉₇.₅, 2θ̂ − q₂.₅], the percentiles reflected about the estimate, so a bias
///   that the samples repeat moves the interval the other way;
/// - normal: (θ̂ − bias) ± 1.96·SE, the bias-corrected estimate with the bootstrap SE, which
///   needs fewer samples than the percentiles do.
///
/// Sample b draws its subjects, or its simulated values, from the addressed stream (seed, b);
/// each sample's fit runs on one thread and the samples are spread over the threads, so the
/// results depend on the seed only.
public struct NLMEBootstrap: Sendable {
  public static let maxSamples = 10_000
  /// The 97.5th percentile of the standard normal distribution.
  static let z975 = 1.959963984540054

  /// The estimation of every sample: the fit's own method, without the covariance step.
  public var step: ControlStream.EstimationStep
  public var samples = 200
  public var seed: UInt64 = 1
  public var threads = 1
  /// Simulate each sample from the estimates instead of resampling the subjects.
  public var parametric = false
  /// Resample the subjects within the strata of this data item (its value on a subject's first
  /// record), nil for none.
  public var stratifyOn: String?

  public init(step: ControlStream.EstimationStep) { self.step = step }

  /// One bootstrap sample's fit.
  public struct Sample: Codable, Sendable {
    public var sample: Int
    public var ofv: Double
    public var converged: Bool
    /// The estimated parameters, in the order of ``Result/names``.
    public var estimates: [Double]
  }

  /// One parameter's bootstrap summary, over the successful samples.
  public struct Interval: Codable, Sendable {
    public var parameter: String
    public var estimate: Double
    public var mean: Double
    public var median: Double
    /// The standard deviation of the bootstrap estimates.
    public var se: Double
    /// mean − estimate.
    public var bias: Double
    public var percentile_lower: Double
    public var percentile_upper: Double
    /// [2θ̂ − q₉₇.₅, 2θ̂ − q₂.₅], kept within the parameter's bounds (a variance at ≥ 0).
    public var basic_lower: Double
    public var basic_upper: Double
    /// (θ̂ − bias) ± 1.96·SE, kept within the parameter's bounds.
    public var normal_lower: Double
    public var normal_upper: Double
  }

  public struct Result: Codable, Sendable {
    public var names: [String]
    public var samples: [Sample]
    /// How many samples' fits were successful; the intervals are over these.
    public var successful: Int
    public var intervals: [Interval]
  }

  /// The subjects (indices into the dataset) of sample `b`: `n` draws with replacement.
  public static func resample(_ n: Int, sample b: Int, seed: UInt64) -> [Int] {
    resample(strata: [Int](repeating: 0, count: n), sample: b, seed: seed)
  }

  /// The subjects of sample `b` when subject i belongs to stratum `strata[i]`: in place of each
  /// subject, one drawn with replacement from its stratum. With one stratum these are the
  /// draws of ``resample(_:sample:seed:)``.
  public static func resample(strata: [Int], sample b: Int, seed: UInt64) -> [Int] {
    var members: [Int: [Int]] = [:]
    for (i, s) in strata.enumerated() { members[s, default: []].append(i) }
    var rng = RandomStream(seed: seed, id: RandomStream.address(0xB007, UInt64(b)))
    return strata.map { s in
      let m = members[s]!
      return m[Int(rng.next() % UInt64(m.count))]
    }
  }

  /// Each subject's stratum: the index of its first record's value of `item` among the values
  /// in order of appearance (all 0 without an item).
  /// - Throws: ``NLMEError`` when the dataset has no such item.
  public static func strata(_ data: Dataset, item: String?) throws -> [Int] {
    guard let item else { return [Int](repeating: 0, count: data.subjects.count) }
    guard let k = data.items.firstIndex(where: { $0.uppercased() == item.uppercased() }) else {
      throw NLMEError(data.source, field: "stratify_on", "no data item \(item) (items: \(data.items.joined(separator: " ")))")
    }
    var seen: [Double] = []
    return data.subjects.map { s in
      let v = s.records.first?.values[k] ?? 0
      if let i = seen.firstIndex(of: v) { return i }
      seen.append(v)
      return seen.count - 1
    }
  }

  /// The dataset of parametric sample `b`: the study's observations simulated from `estimates`
  /// (replicate b of the seed's simulation streams).
  public static func simulated(_ problem: NLMEProblem, estimates: PopulationParameters, sample b: Int, seed: UInt64) -> Dataset {
    let simulation = NLMESimulation(problem: problem, parameters: estimates)
    let n = problem.stream.etaCount
    let omegaL = cholesky(estimates.omega, n) ?? [Double](repeating: 0, count: n * n)
    let replicate = simulation.replicate(b, seed: seed, omegaCholesky: omegaL, predictor: Predictor(model: problem.model))
    return problem.data.replacingObservations(with: replicate)
  }

  /// Fits every sample from `estimates` and summarises them; `progress(done)` after each sample.
  /// - Throws: ``NLMEError`` when ``stratifyOn`` names no data item, or comes with ``parametric``.
  public func run(
    _ problem: NLMEProblem, estimates: PopulationParameters, progress: (@Sendable (Int) -> Void)? = nil
  ) throws -> Result {
    precondition((1...Self.maxSamples).contains(samples) && threads >= 1, "bootstrap: samples \(samples), threads \(threads)")
    if parametric && stratifyOn != nil {
      throw NLMEError(problem.data.source, field: "stratify_on", "strata resample subjects; a parametric bootstrap simulates them")
    }
    let strata = try Self.strata(problem.data, item: stratifyOn)
    let param = Parameterization(problem.stream)
    let fitter = {
      var f = NLMEFitter(step)
      f.threads = 1
      f.covariance = nil
      return f
    }()
    var report: (@Sendable (Int, Sample) -> Void)? = nil
    if let progress { report = { done, _ in progress(done) } }
    let fits = Parallel.map(samples, threads: threads, progress: report) { b -> Sample in
      var p = problem
      if parametric {
        p.data = Self.simulated(problem, estimates: estimates, sample: b + 1, seed: seed)
      } else {
        p.data.subjects = Self.resample(strata: strata, sample: b + 1, seed: seed).map { problem.data.subjects[$0] }
      }
      let r = fitter.fit(p, from: estimates)
      return Sample(sample: b + 1, ofv: r.ofv, converged: r.converged, estimates: param.natural(r.parameters))
    }
    let good = fits.filter { $0.converged && $0.ofv.isFinite }
    let theta = param.natural(estimates)
    let bounds = Self.bounds(param, problem.stream)
    let intervals = param.names.indices.compactMap { k -> Interval? in
      let values = good.map { $0.estimates[k] }.sorted()
      guard let lo = VPC.quantile(sorted: values, 0.025), let hi = VPC.quantile(sorted: values, 0.975),
        let median = VPC.quantile(sorted: values, 0.5)
      else {
        return nil
      }
      let mean = values.reduce(0, +) / Double(values.count)
      let sd = values.count > 1 ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot() : .nan
      let clamp = { (v: Double) in min(max(v, bounds[k].0), bounds[k].1) }
      let corrected = 2 * theta[k] - mean
      return Interval(
        parameter: param.names[k], estimate: theta[k], mean: mean, median: median, se: sd, bias: mean - theta[k], percentile_lower: lo,
        percentile_upper: hi, basic_lower: clamp(2 * theta[k] - hi), basic_upper: clamp(2 * theta[k] - lo),
        normal_lower: clamp(corrected - Self.z975 * sd), normal_upper: clamp(corrected + Self.z975 * sd))
    }
    return Result(names: param.names, samples: fits, successful: good.count, intervals: intervals)
  }

  /// Each estimated parameter's bounds: a THETA's own, [0, ∞) for a variance, ℝ for a covariance.
  static func bounds(_ param: Parameterization, _ stream: ControlStream) -> [(Double, Double)] {
    param.names.map { name in
      if name.hasPrefix("THETA("), let k = Int(name.dropFirst(6).dropLast()), k >= 1, k <= stream.thetas.count {
        return (stream.thetas[k - 1].lower, stream.thetas[k - 1].upper)
      }
      let inside = name.drop { $0 != "(" }.dropFirst().dropLast().split(separator: ",")
      return inside.count == 2 && inside[0] == inside[1] ? (0, .infinity) : (-.infinity, .infinity)
    }
  }
}
