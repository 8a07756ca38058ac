import Foundation
import Parallel
import StatKit

/// Multi-start local optimisation of a PEtab objective: starting points from a Latin
/// hypercube in the bounds on the parameter scale (or drawn from the initialisation
/// priors), each start optimised independently on a pool of threads. The starting points
/// and every start's result depend only on the seed, never on the thread count.
public struct MultiStartFit: Sendable {
  public var starts = 20
  public var seed: UInt64 = 1
  public var threads = 1
  public var optimizer = OptimizerKind.trustRegion
  public var rules = StoppingRules()
  public var hessian = HessianApproximation.hybrid
  /// Observable scalings take their closed-form best value at every point of the optimiser
  /// (``InnerScalings``) instead of being optimised; no effect on problems without them.
  public var hierarchical = true
  public static let maxStarts = 100_000, maxThreads = 1024
  public init() {}

  public struct Start: Sendable, Codable {
    public var index: Int
    /// Start and end points on the parameter scale.
    public var startPoint: [Double]
    public var x: [Double]
    public var nllh: Double
    public var iterations: Int
    public var functionEvaluations: Int
    public var gradientEvaluations: Int
    public var exitReason: String
    public var converged: Bool
    public var seconds: Double
  }

  public struct Result: Sendable {
    public var parameterIDs: [String]
    public var scales: [PEtabProblem.Scale]
    public var lower: [Double], upper: [Double]
    /// The parameters computed in closed form at every point (``InnerScalings``), not by the optimiser.
    public var innerParameters: [String] = []
    /// In start order.
    public var starts: [Start]
    public var best: Start? { starts.filter { $0.nllh.isFinite }.min { $0.nllh < $1.nllh } }
    /// Starts whose final objective is within `tolerance` of `reference` (or of the best).
    public func reached(_ reference: Double? = nil, tolerance: Double = 0.01) -> Int {
      guard let target = reference ?? best?.nllh else { return 0 }
      return starts.filter { $0.nllh.isFinite && $0.nllh <= target + tolerance }.count
    }
  }

  /// The starting points (on the parameter scale), in start order.
  public func startPoints(_ objective: PEtabObjective) -> [[Double]] {
    let d = objective.dimension, n = starts
    var rng = RandomStream(seed: seed, id: RandomStream.address(0x5045_5461, UInt64(d)))
    var points = Array(repeating: Array(repeating: 0.0, count: d), count: n)
    for k in 0..<d {
      var strata = Array(0..<n)
      for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        strata.swapAt(i, j)
      }
      let p = objective.problem.parameters[objective.problem.estimated[k]]
      for i in 0..<n {
        let u = (Double(strata[i]) + rng.uniform()) / Double(n)
        var v = objective.lower[k] + u * (objective.upper[k] - objective.lower[k])
        if let prior = p.initializationPrior {
          v = Self.draw(prior, uniform: u, normal: rng.normal(), scale: p.scale) ?? v
        }
        points[i][k] = min(max(v, objective.lower[k]), objective.upper[k])
      }
    }
    return points
  }

  /// A draw from an initialisation prior, on the parameter scale (nil: use the bounds).
  static func draw(_ prior: PEtabProblem.Prior, uniform u: Double, normal z: Double, scale: PEtabProblem.Scale) -> Double? {
    let a = prior.parameters[0], b = prior.parameters[1]
    switch prior.type {
    case "parameterScaleUniform": return a + u * (b - a)
    case "uniform": return scale.apply(a + u * (b - a))
    case "parameterScaleNormal": return a + b * z
    case "normal":
      let v = a + b * z
      return v > 0 || scale == .lin ? scale.apply(v) : nil
    case "logNormal": return scale.apply(Foundation.exp(a + b * z))
    default: return nil
    }
  }

  /// The bounded problem of an objective for the optimisers.
  public static func boundedProblem(_ objective: PEtabObjective) -> BoundedProblem {
    BoundedProblem(lower: objective.lower, upper: objective.upper) { x, derivatives in
      let ev = objective.evaluate(x, sensitivities: derivatives)
      return (ev.isFinite ? ev.nllh : .nan, ev.gradient, ev.fim)
    }
  }

  /// One local optimisation from `x0`.
  public func optimize(_ problem: BoundedProblem, from x0: [Double]) -> OptimizerResult {
    switch optimizer {
    case .trustRegion:
      var o = TrustRegionOptimizer()
      o.rules = rules
      o.hessian = hessian
      return o.minimize(problem, from: x0)
    case .lbfgsb:
      var o = LBFGSBOptimizer()
      o.rules = rules
      return o.minimize(problem, from: x0)
    }
  }

  /// Runs every start; `progress(done, total, best)` after each.
  public func run(_ objective: PEtabObjective, progress: (@Sendable (Int, Int, Double) -> Void)? = nil) -> Result {
    precondition(starts >= 1 && starts <= Self.maxStarts && threads >= 1 && threads <= Self.maxThreads)
    guard objective.hasGradient else {
      preconditionFailure("the model has no sensitivity program (check PEtabObjective.hasGradient before fitting)")
    }
    let points = startPoints(objective)
    let inner = hierarchical ? InnerScalings(objective) : nil
    let problem = inner?.boundedProblem ?? Self.boundedProblem(objective)
    let best = Shared(Double.infinity)
    let starts = Parallel.map(
      points.count, threads: threads,
      progress: { (done: Int, start: Start) in
        let b = best.withLock { b in
          b = min(b, start.nllh)
          return b
        }
        progress?(done, points.count, b)
      }
    ) { i -> Start in
      let began = Date()
      var r = optimize(problem, from: inner?.outerPoint(points[i]) ?? points[i])
      if let inner {
        // The full point: the outer values with their best scalings.
        let best = inner.optimum(r.x)
        r.x = best.x
        r.functionEvaluations += 1
      }
      return Start(
        index: i, startPoint: points[i], x: r.x, nllh: r.f, iterations: r.iterations,
        functionEvaluations: r.functionEvaluations, gradientEvaluations: r.gradientEvaluations,
        exitReason: r.exitReason, converged: r.converged, seconds: Date().timeIntervalSince(began))
    }
    return Result(
      parameterIDs: objective.parameterIDs, scales: objective.scales, lower: objective.lower, upper: objective.upper,
      innerParameters: inner?.parameterIDs ?? [], starts: starts)
  }
}
