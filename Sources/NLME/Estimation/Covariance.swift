import Estimation
import RealModule

/// NONMEM's covariance step on the natural scale of the estimated parameters (THETA, then
/// the variances and covariances of Ω and Σ): R is the Hessian of OFV/2, S = Σ_i s_i s_iᵀ with
/// s_i the gradient of OFV_i/2. Where the objective has an analytic gradient (FOCE, FOCE-I on
/// jets, ``FirstOrderObjective/gradient(_:_:fit:directions:predictor:)``), S takes the exact
/// s_i at the estimates and R central differences of the gradient: 2p population objectives
/// and 2p + 1 gradients. Otherwise both come from central differences of the objective:
/// 1 + 2p + p(p − 1) population objectives. The steps are 10⁻³ relative (the step at which the
/// README of ../shared/estimation finds NONMEM's pheno SEs within 0.1%).
/// The covariance of the estimates is R⁻¹SR⁻¹ (the default sandwich), R⁻¹ or S⁻¹.
struct CovarianceStep {
  let population: PopulationObjective
  let parameterization: Parameterization
  let estimates: PopulationParameters
  var relativeStep = 1e-3
  /// R and S from the analytic gradient where the objective has one.
  var analyticGradient = true

  func run(_ matrix: ControlStream.CovarianceStep.Matrix) -> CovarianceResult {
    let v = parameterization.natural(estimates)
    let h = v.map { relativeStep * max(abs($0), 1e-6) }
    let (r, s) = (analyticGradient ? fromGradients(v, h) : nil) ?? fromObjectives(v, h)
    return result(matrix, v, r: r, s: s)
  }

  /// R by central differences of the exact gradient, S from the subjects' exact gradients.
  func fromGradients(_ v: [Double], _ h: [Double]) -> (r: [Double], s: [Double])? {
    guard population.objective.hasAnalyticGradient else { return nil }
    let p = v.count
    let directions = parameterization.jetDirections
    let parameterization = self.parameterization
    func gradients(_ change: (Int, Double)?) -> [[Double]]? {
      var w = v
      if let (k, d) = change { w[k] += d }
      let point = change == nil ? estimates : parameterization.withNatural(w, base: estimates)
      let fits = population.subjects(point)
      return population.gradients(point, directions: directions, fits: fits, scale: { parameterization.naturalGradient($0) })
    }
    func total(_ g: [[Double]]) -> [Double] { (0..<p).map { k in g.reduce(0) { $0 + $1[k] } } }
    guard let center = gradients(nil) else { return nil }
    var s = [Double](repeating: 0, count: p * p)
    for g in center { for a in 0..<p { for b in 0..<p { s[a * p + b] += g[a] * g[b] / 4 } } }
    var r = [Double](repeating: 0, count: p * p)
    for k in 0..<p {
      guard let up = gradients((k, h[k])), let down = gradients((k, -h[k])) else { return nil }
      let (gu, gd) = (total(up), total(down))
      for l in 0..<p { r[l * p + k] = (gu[l] - gd[l]) / (2 * h[k]) / 2 }
    }
    for k in 0..<p {
      for l in 0..<k {
        let mean = (r[k * p + l] + r[l * p + k]) / 2
        (r[k * p + l], r[l * p + k]) = (mean, mean)
      }
    }
    return (r, s)
  }

  /// R and S by central differences of the population objective and the subjects' OFV_i.
  func fromObjectives(_ v: [Double], _ h: [Double]) -> (r: [Double], s: [Double]) {
    let p = v.count
    func at(_ changes: [(Int, Double)]) -> [SubjectFit?] {
      var w = v
      for (k, d) in changes { w[k] += d }
      return population.subjects(parameterization.withNatural(w, base: estimates))
    }
    let center = population.total(at([]))
    var plus: [[SubjectFit?]] = []
    var minus: [[SubjectFit?]] = []
    for k in 0..<p {
      plus.append(at([(k, h[k])]))
      minus.append(at([(k, -h[k])]))
    }
    let up = plus.map { population.total($0) }
    let down = minus.map { population.total($0) }
    var r = [Double](repeating: 0, count: p * p)
    for k in 0..<p {
      r[k * p + k] = (up[k] - 2 * center + down[k]) / (h[k] * h[k]) / 2
      // Across (Abramowitz & Stegun 25.3.27, error O(h²) as the four-point formula): two new
      // points per pair, the others are the diagonal's.
      for l in 0..<k {
        let pp = population.total(at([(k, h[k]), (l, h[l])]))
        let mm = population.total(at([(k, -h[k]), (l, -h[l])]))
        let single = up[k] + up[l] + down[k] + down[l]
        r[k * p + l] = (pp + mm + 2 * center - single) / (2 * h[k] * h[l]) / 2
        r[l * p + k] = r[k * p + l]
      }
    }
    var s = [Double](repeating: 0, count: p * p)
    let subjects = plus.first?.count ?? 0
    for i in 0..<subjects {
      var g = [Double](repeating: 0, count: p)
      for k in 0..<p { g[k] = ((plus[k][i]?.ofv ?? .nan) - (minus[k][i]?.ofv ?? .nan)) / (2 * h[k]) / 2 }
      for a in 0..<p { for b in 0..<p { s[a * p + b] += g[a] * g[b] } }
    }
    return (r, s)
  }

  func result(_ matrix: ControlStream.CovarianceStep.Matrix, _ v: [Double], r: [Double], s: [Double]) -> CovarianceResult {
    let p = v.count
    var result = CovarianceResult(names: parameterization.names, matrix: matrix.rawValue, r: r, s: s)
    guard r.allSatisfy(\.isFinite), s.allSatisfy(\.isFinite) else {
      result.status = "the objective could not be evaluated around the estimates"
      return result
    }
    let covariance: [Double]?
    switch matrix {
    case .sandwich: covariance = inverse(r, p).map { ri in multiply(multiply(ri, s, p, p, p), ri, p, p, p) }
    case .r: covariance = inverse(r, p)
    case .s: covariance = inverse(s, p)
    }
    guard let c = covariance, (0..<p).allSatisfy({ c[$0 * p + $0] > 0 }) else {
      result.status = matrix == .s ? "S is singular" : "R is singular or not positive definite"
      return result
    }
    result.covariance = c
    result.se = (0..<p).map { c[$0 * p + $0].squareRoot() }
    result.rse = zip(result.se ?? [], v).map { $1 == 0 ? .nan : $0 / abs($1) }
    result.correlation = (0..<(p * p)).map { c[$0] / ((result.se?[$0 / p] ?? 1) * (result.se?[$0 % p] ?? 1)) }
    result.status = "covariance step completed"
    let eigenvalues = symmetricEigen(r, p).values
    if let lo = eigenvalues.min(), let hi = eigenvalues.max() {
      if lo > 0 { result.conditionNumber = hi / lo } else { result.status = "covariance step completed; R is not positive definite" }
    }
    return result
  }
}

/// The covariance step's output.
public struct CovarianceResult: Sendable, Codable {
  public var names: [String]
  public var matrix: String
  public var r: [Double]
  public var s: [Double]
  public var covariance: [Double]? = nil
  public var se: [Double]? = nil
  /// SE / |estimate|.
  public var rse: [Double]? = nil
  public var correlation: [Double]? = nil
  /// Largest over smallest eigenvalue of R.
  public var conditionNumber: Double? = nil
  public var status = ""
}
