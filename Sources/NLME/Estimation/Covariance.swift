import Estimation
import RealModule

/// NONMEM's covariance step on the natural scale of the estimated parameters (THETA, then
/// the variances and covariances of Ω and Σ): R is the Hessian of OFV/2, S = Σ_i s_i s_iᵀ with
/// s_i the gradient of OFV_i/2, both by central differences with steps of 10⁻³ relative (the
/// step at which the README of ../shared/estimation finds NONMEM's pheno SEs within 0.1%):
/// 1 + 2p + p(p − 1) population objectives.
/// The covariance of the estimates is R⁻¹SR⁻¹ (the default sandwich), R⁻¹ or S⁻¹.
struct CovarianceStep {
  let population: PopulationObjective
  let parameterization: Parameterization
  let estimates: PopulationParameters
  var relativeStep = 1e-3

  func run(_ matrix: ControlStream.CovarianceStep.Matrix) -> CovarianceResult {
    let v = parameterization.natural(estimates)
    let p = v.count
    let h = v.map { relativeStep * max(abs($0), 1e-6) }
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
