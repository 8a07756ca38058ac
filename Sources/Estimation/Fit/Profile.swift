import Foundation
import Parallel

/// Profile likelihoods (Raue et al. 2009, Bioinformatics 25:1923, doi:10.1093/bioinformatics/btp358):
/// each estimated parameter is fixed on a sequence of values stepping away from the
/// optimum in both directions, the others re-optimised from the previous point, until the
/// objective rises by more than the threshold or the bound is reached. The 95% confidence
/// interval is where the profile crosses `nllh_best + χ²₁(0.95)/2`.
public struct ProfileLikelihood: Sendable {
  /// χ²₁(0.95)/2: the likelihood-ratio threshold of a pointwise 95% interval.
  public static let threshold = 3.841458820694124 / 2
  public var rules = StoppingRules()
  public var optimizer = OptimizerKind.trustRegion
  public var hessian = HessianApproximation.hybrid
  /// Largest step on the parameter scale, as a fraction of the bound range.
  public var maxStepFraction = 0.1
  public var maxPointsPerSide = 60
  public var threads = 1
  public init() {}

  public enum Identifiability: String, Sendable, Codable {
    /// The profile exceeds the threshold on both sides inside the bounds.
    case identifiable
    /// Exceeds it on one side only.
    case practicallyNonIdentifiableOneSided = "practically non-identifiable (one side open)"
    /// Exceeds it on neither side but is not flat.
    case practicallyNonIdentifiable = "practically non-identifiable"
    /// Flat: the objective changes by less than 1e-3 across the range.
    case structurallyNonIdentifiable = "structurally non-identifiable"
  }

  public struct Profile: Sendable, Codable {
    public var parameter: String
    public var scale: String
    /// Sorted by value (on the parameter scale); `nllh` of each point.
    public var values: [Double]
    public var nllh: [Double]
    public var best: Double
    public var bestNllh: Double
    /// Interval ends on the linear scale (nil: open on that side within the bounds).
    public var lower95: Double?
    public var upper95: Double?
    public var identifiability: Identifiability
  }

  /// Profiles of every estimated parameter around `optimum` (on the parameter scale).
  public func run(_ objective: PEtabObjective, optimum: [Double], progress: (@Sendable (Int, Int) -> Void)? = nil) -> [Profile] {
    let d = objective.dimension
    let full = MultiStartFit.boundedProblem(objective)
    let fOpt = full.evaluate(optimum, false).f
    return Parallel.map(d, threads: max(threads, 1), progress: { done, _ in progress?(done, d) }) { k in
      profile(k, objective: objective, problem: full, optimum: optimum, fOpt: fOpt)
    }
  }

  func profile(_ k: Int, objective: PEtabObjective, problem full: BoundedProblem, optimum: [Double], fOpt: Double) -> Profile {
    let d = objective.dimension
    let lo = objective.lower[k], hi = objective.upper[k]
    let range = hi - lo
    var fit = MultiStartFit()
    fit.optimizer = optimizer
    fit.hessian = hessian
    fit.rules = rules
    // The problem in the other parameters with parameter k fixed at `value`.
    func reduced(_ value: Double) -> BoundedProblem {
      BoundedProblem(lower: (0..<d).filter { $0 != k }.map { full.lower[$0] }, upper: (0..<d).filter { $0 != k }.map { full.upper[$0] }) {
        y, der in
        var x = y
        x.insert(value, at: k)
        let r = full.evaluate(x, der)
        var g = r.gradient
        g?.remove(at: k)
        var fim: [Double]? = nil
        if let F = r.fim {
          var m: [Double] = []
          for a in 0..<d where a != k { for b in 0..<d where b != k { m.append(F[a * d + b]) } }
          fim = m
        }
        return (r.f, g, fim)
      }
    }
    // Local curvature sets the first step: Δ such that ½·F_kk·Δ² ≈ threshold/4.
    let ev = objective.evaluate(optimum, sensitivities: true)
    let fkk = ev.fim.map { $0[k * d + k] } ?? 0
    let firstStep = fkk > 0 ? min((ProfileLikelihood.threshold / 2 / fkk).squareRoot(), maxStepFraction * range) : 0.02 * range
    var points: [(Double, Double)] = [(optimum[k], fOpt)]
    for direction in [-1.0, 1.0] {
      var rest = optimum
      rest.remove(at: k)
      var value = optimum[k], f = fOpt
      var step = max(firstStep, 1e-4 * range)
      for _ in 0..<maxPointsPerSide {
        let bound = direction < 0 ? lo : hi
        if (direction < 0 && value <= lo) || (direction > 0 && value >= hi) { break }
        let next = direction < 0 ? max(value - step, bound) : min(value + step, bound)
        let r = fit.optimize(reduced(next), from: rest)
        guard r.f.isFinite else {
          step *= 0.5
          if step < 1e-6 * range { break }
          continue
        }
        // Adapt the step to the rise: aim at about a tenth of the threshold per point.
        let rise = r.f - f
        if rise > 0.5 * ProfileLikelihood.threshold && step > 1e-4 * range {
          step *= 0.5
          continue
        }
        value = next
        f = r.f
        rest = r.x
        points.append((value, f))
        if rise < 0.05 * ProfileLikelihood.threshold { step = min(step * 1.5, maxStepFraction * range) }
        if f - fOpt > ProfileLikelihood.threshold * 1.2 { break }
      }
    }
    points.sort { $0.0 < $1.0 }
    // A point below the optimum means the fit was not at the optimum: report relative to the lowest.
    let fMin = min(fOpt, points.map(\.1).min() ?? fOpt)
    let bestValue = points.min { $0.1 < $1.1 }!.0
    let level = fMin + ProfileLikelihood.threshold
    func crossing(_ side: [(Double, Double)]) -> Double? {
      // side runs outward from the best point.
      for i in 1..<max(side.count, 1) where side[i].1 > level {
        let (x0, f0) = side[i - 1], (x1, f1) = side[i]
        return x0 + (level - f0) / (f1 - f0) * (x1 - x0)
      }
      return nil
    }
    let bi = points.firstIndex { $0.0 == bestValue }!
    let left = crossing(Array(points[...bi].reversed())), right = crossing(Array(points[bi...]))
    let spread = (points.map(\.1).max() ?? fMin) - fMin
    let identifiability: Identifiability
    switch (left, right) {
    case (.some, .some): identifiability = .identifiable
    case (.some, nil), (nil, .some): identifiability = .practicallyNonIdentifiableOneSided
    default: identifiability = spread < 1e-3 ? .structurallyNonIdentifiable : .practicallyNonIdentifiable
    }
    let scale = objective.scales[k]
    return Profile(
      parameter: objective.parameterIDs[k], scale: scale.rawValue, values: points.map(\.0), nllh: points.map(\.1),
      best: bestValue, bestNllh: fMin, lower95: left.map(scale.invert), upper95: right.map(scale.invert),
      identifiability: identifiability)
  }
}
