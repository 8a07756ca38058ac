import Foundation

/// A bounded minimisation problem for the optimisers: the objective on a box, with its
/// gradient and (optionally) a Gauss–Newton Hessian (the Fisher information).
public struct BoundedProblem: Sendable {
  public var lower: [Double]
  public var upper: [Double]
  /// f, gradient and Fisher information at x (gradient and FIM nil when not requested or
  /// unavailable; f non-finite when the model could not be simulated there).
  public var evaluate: @Sendable (_ x: [Double], _ derivatives: Bool) -> (f: Double, gradient: [Double]?, fim: [Double]?)
  public init(
    lower: [Double], upper: [Double], evaluate: @escaping @Sendable ([Double], Bool) -> (f: Double, gradient: [Double]?, fim: [Double]?)
  ) {
    self.lower = lower
    self.upper = upper
    self.evaluate = evaluate
  }
  public var dimension: Int { lower.count }
}

/// How a local optimisation ended.
public struct OptimizerResult: Sendable, Codable {
  public var x: [Double]
  public var f: Double
  public var iterations: Int
  public var functionEvaluations: Int
  public var gradientEvaluations: Int
  public var exitReason: String
  public var converged: Bool
}

extension OptimizerResult {
  /// The result of a start where the objective or its gradient is not finite.
  static func unevaluableStart(_ x: [Double], _ f: Double) -> OptimizerResult {
    OptimizerResult(
      x: x, f: f, iterations: 0, functionEvaluations: 1, gradientEvaluations: 1,
      exitReason: "the objective could not be evaluated at the start", converged: false)
  }
}

/// Stopping rules, with fides' defaults (Fröhlich & Sorger 2022, PLoS Comput. Biol.
/// 18:e1010322): absolute/relative change of f on an accepted step, projected gradient norm.
public struct StoppingRules: Sendable {
  public var maxIterations = 1000
  public var fatol = 1e-8
  public var frtol = 1e-8
  public var gatol = 1e-6
  public var maxSeconds = Double.infinity
  public init() {}

  /// The checks at the top of an iteration: the time limit and the projected gradient norm.
  /// Nil to go on; else the exit reason and whether it counts as converged.
  func stop(began: Date, projectedGradient pg: [Double]) -> (reason: String, converged: Bool)? {
    if Date().timeIntervalSince(began) > maxSeconds { return ("time limit", false) }
    if norm(pg) < gatol { return ("gradient below gatol", true) }
    return nil
  }
}

/// The Hessian model of the trust-region method.
public enum HessianApproximation: String, Sendable, CaseIterable, Codable {
  /// The Fisher information (Gauss–Newton) throughout.
  case fim
  /// The Fisher information, replaced by BFGS updates (tracked from the identity) when it
  /// keeps predicting the decrease poorly (large residuals).
  case hybrid
  /// BFGS updates from the start (from the Fisher information when available).
  case bfgs
}

public enum OptimizerKind: String, Sendable, CaseIterable, Codable {
  /// Bounded trust region with the Fisher information as Hessian, switching to BFGS
  /// updates when the Gauss–Newton model stops predicting well.
  case trustRegion = "trust-region"
  /// Projected limited-memory BFGS.
  case lbfgsb = "lbfgsb"
}

/// The projected gradient: zero where a bound is active and the gradient points outward.
func projectedGradient(_ x: [Double], _ g: [Double], _ lower: [Double], _ upper: [Double]) -> [Double] {
  (0..<x.count).map { i in
    let atLower = x[i] <= lower[i] + 1e-12 * max(1, abs(lower[i])), atUpper = x[i] >= upper[i] - 1e-12 * max(1, abs(upper[i]))
    if atLower && g[i] > 0 { return 0 }
    if atUpper && g[i] < 0 { return 0 }
    return g[i]
  }
}

func clip(_ x: [Double], _ lower: [Double], _ upper: [Double]) -> [Double] {
  (0..<x.count).map { min(max(x[$0], lower[$0]), upper[$0]) }
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
  var s = 0.0
  for i in 0..<a.count { s += a[i] * b[i] }
  return s
}

func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }

/// `B·v` for a row-major d×d matrix.
func multiply(_ B: [Double], _ v: [Double]) -> [Double] {
  let d = v.count
  return (0..<d).map { i in
    var s = 0.0
    for j in 0..<d { s += B[i * d + j] * v[j] }
    return s
  }
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: eigenvalues and
/// eigenvectors (columns of the row-major `vectors`).
public func symmetricEigen(_ A: [Double], _ d: Int) -> (values: [Double], vectors: [Double]) {
  var a = A, v = Array(repeating: 0.0, count: d * d)
  for i in 0..<d { v[i * d + i] = 1 }
  for _ in 0..<100 {
    var off = 0.0
    for i in 0..<d { for j in (i + 1)..<max(d, i + 1) { off += a[i * d + j] * a[i * d + j] } }
    var total = 0.0
    for i in 0..<(d * d) { total += a[i] * a[i] }
    if off <= 1e-30 * max(total, 1e-300) { break }
    for p in 0..<d {
      for q in (p + 1)..<max(d, p + 1) where a[p * d + q] != 0 {
        let theta = (a[q * d + q] - a[p * d + p]) / (2 * a[p * d + q])
        let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
        let c = 1 / (t * t + 1).squareRoot(), s = t * c
        for k in 0..<d {
          let akp = a[k * d + p], akq = a[k * d + q]
          a[k * d + p] = c * akp - s * akq
          a[k * d + q] = s * akp + c * akq
        }
        for k in 0..<d {
          let apk = a[p * d + k], aqk = a[q * d + k]
          a[p * d + k] = c * apk - s * aqk
          a[q * d + k] = s * apk + c * aqk
        }
        for k in 0..<d {
          let vkp = v[k * d + p], vkq = v[k * d + q]
          v[k * d + p] = c * vkp - s * vkq
          v[k * d + q] = s * vkp + c * vkq
        }
      }
    }
  }
  return ((0..<d).map { a[$0 * d + $0] }, v)
}

/// The minimiser of `gᵀp + ½pᵀBp` subject to `‖p‖ ≤ Δ` (Moré & Sorensen 1983): the
/// Newton step if B is positive definite and the step fits, else `p(λ) = −(B + λI)⁻¹g` on
/// the boundary, λ found by bisection/secant on the eigen-decomposition.
func trustRegionStep(_ g: [Double], _ B: [Double], radius: Double) -> [Double] {
  let d = g.count
  guard d > 0 else { return [] }
  let (lambda, Q) = symmetricEigen(B, d)
  var qg = Array(repeating: 0.0, count: d)
  for i in 0..<d {
    var s = 0.0
    for k in 0..<d { s += Q[k * d + i] * g[k] }
    qg[i] = s
  }
  func step(_ mu: Double) -> [Double] {
    var p = Array(repeating: 0.0, count: d)
    for i in 0..<d {
      let denom = lambda[i] + mu
      let c = denom > 0 ? -qg[i] / denom : 0
      for k in 0..<d { p[k] += c * Q[k * d + i] }
    }
    return p
  }
  let minEig = lambda.min() ?? 0
  let scale = max(lambda.map(abs).max() ?? 1, 1e-300)
  if minEig > 1e-12 * scale {
    let p = step(0)
    if norm(p) <= radius { return p }
  }
  var lo = max(0, -minEig) + 1e-14 * scale, hi = lo + norm(g) / radius + scale
  while norm(step(hi)) > radius { hi *= 2 }
  for _ in 0..<200 {
    let mid = 0.5 * (lo + hi)
    if norm(step(mid)) > radius { lo = mid } else { hi = mid }
    if hi - lo <= 1e-12 * hi { break }
  }
  var p = step(hi)
  let n = norm(p)
  if n < 0.5 * radius {
    // Hard case: g has no component along the lowest eigenvector; step along it.
    let r = (radius * radius - n * n).squareRoot()
    let i = lambda.firstIndex(of: minEig) ?? 0
    for k in 0..<d { p[k] += r * Q[k * d + i] }
  }
  return p
}
