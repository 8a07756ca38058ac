import Foundation
import Parallel
import StatKit

/// The nonparametric bootstrap of a population fit, as PsN's `bootstrap` does for NONMEM: the
/// subjects are drawn with replacement into a dataset of the same size, the model is fitted to
/// it from the original estimates, and the spread of the estimates over the samples gives
/// standard errors and 95% intervals with no assumption on the objective's shape.
///
/// Two intervals are reported. The percentile interval is the 2.5th to 97.5th percentile of the
/// bootstrap estimates. The basic interval, [2θ̂ − q₉₇.₅, 2θ̂ − q₂.₅], reflects them about the
/// estimate, so a bias of the estimator, which the samples repeat, moves the interval the other
/// way (Davison & Hinkley 1997, §5.2).
///
/// Sample b draws its subjects from the addressed stream (seed, b); each sample's fit runs on
/// one thread and the samples are spread over the threads, so the results depend on the seed
/// only.
public struct NLMEBootstrap: Sendable {
  public static let maxSamples = 10_000

  /// The estimation of every sample: the fit's own method, without the covariance step.
  public var step: ControlStream.EstimationStep
  public var samples = 200
  public var seed: UInt64 = 1
  public var threads = 1

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
    var rng = RandomStream(seed: seed, id: RandomStream.address(0xB007, UInt64(b)))
    return (0..<n).map { _ in Int(rng.next() % UInt64(n)) }
  }

  /// Fits every sample from `estimates` and summarises them; `progress(done)` after each sample.
  public func run(
    _ problem: NLMEProblem, estimates: PopulationParameters, progress: (@Sendable (Int) -> Void)? = nil
  ) -> Result {
    precondition((1...Self.maxSamples).contains(samples) && threads >= 1, "bootstrap: samples \(samples), threads \(threads)")
    let param = Parameterization(problem.stream)
    let n = problem.data.subjects.count
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
      p.data.subjects = Self.resample(n, sample: b + 1, seed: seed).map { problem.data.subjects[$0] }
      let r = fitter.fit(p, from: estimates)
      return Sample(sample: b + 1, ofv: r.ofv, converged: r.converged, estimates: param.natural(r.parameters))
    }
    let good = fits.filter { $0.converged && $0.ofv.isFinite }
    let theta = param.natural(estimates)
    let bounds = Self.bounds(param, problem.stream)
    let intervals = param.names.indices.compactMap { k -> Interval? in
      let values = good.map { $0.estimates[k] }.sorted()
      guard let lo = VPC.quantile(values, 0.025), let hi = VPC.quantile(values, 0.975), let median = VPC.quantile(values, 0.5) else {
        return nil
      }
      let mean = values.reduce(0, +) / Double(values.count)
      let sd = values.count > 1 ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot() : .nan
      let clamp = { (v: Double) in min(max(v, bounds[k].0), bounds[k].1) }
      return Interval(
        parameter: param.names[k], estimate: theta[k], mean: mean, median: median, se: sd, bias: mean - theta[k], percentile_lower: lo,
        percentile_upper: hi, basic_lower: clamp(2 * theta[k] - hi), basic_upper: clamp(2 * theta[k] - lo))
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
