import Foundation
import StatKit

/// A continuous distribution written as a transform of one standard normal variate z, so that
/// correlated draws (a Gaussian copula through a Cholesky factor) work for every kind:
///
/// | kind | value | parameters |
/// |---|---|---|
/// | normal | center + sd·z | `mean` (or the model value), `sd` |
/// | lognormal | center·exp(ω·z) | `median` (or the model value), `omega` or `cv` (ω = √ln(1+cv²)) |
/// | logitnormal | logistic(logit(center) + ω·z) | `median` in (0, 1) (or the model value), `omega` |
/// | uniform | min + (max − min)·Φ(z) | `min`, `max` |
///
/// Optional `min`/`max` truncate the normal, lognormal and logit-normal kinds exactly (by
/// inversion: z is mapped into the normal quantiles of the bounds), so a correlated draw stays
/// a monotone function of its z.
public struct Distribution: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable { case normal, lognormal, logitnormal, uniform }
  public var kind: Kind
  /// Mean (normal), median (lognormal, logit-normal); ignored by uniform.
  public var center: Double
  /// sd (normal) or ω (lognormal, logit-normal).
  public var spread: Double
  public var lower: Double?
  public var upper: Double?

  public init(kind: Kind, center: Double, spread: Double, lower: Double? = nil, upper: Double? = nil) {
    self.kind = kind
    self.center = center
    self.spread = spread
    self.lower = lower
    self.upper = upper
  }

  /// The value for the standard normal variate `z`.
  public func value(_ z: Double) -> Double {
    switch kind {
    case .uniform:
      return lower! + (upper! - lower!) * Distributions.normalCDF(z)
    case .normal, .lognormal, .logitnormal:
      var w = z
      if lower != nil || upper != nil, spread > 0 {
        let lo = lower.map { Distributions.normalCDF(standardized($0)) } ?? 0
        let hi = upper.map { Distributions.normalCDF(standardized($0)) } ?? 1
        let u = lo + (hi - lo) * Distributions.normalCDF(z)
        w = Distributions.normalQuantile(min(max(u, 1e-300), 1 - 1e-16))
      }
      switch kind {
      case .normal: return center + spread * w
      case .lognormal: return center * Foundation.exp(spread * w)
      default:
        let l = Foundation.log(center / (1 - center)) + spread * w
        return 1 / (1 + Foundation.exp(-l))
      }
    }
  }

  /// The z at which the untruncated distribution reaches `x`.
  private func standardized(_ x: Double) -> Double {
    switch kind {
    case .normal: return (x - center) / spread
    case .lognormal: return x <= 0 ? -.infinity : Foundation.log(x / center) / spread
    case .logitnormal:
      if x <= 0 { return -.infinity }
      if x >= 1 { return .infinity }
      return (Foundation.log(x / (1 - x)) - Foundation.log(center / (1 - center))) / spread
    case .uniform: return 0
    }
  }

  /// Reads a distribution object. `typical` is the model's value for a parameter's
  /// variability (the center when `mean`/`median` is not given); covariates have none.
  static func parse(_ r: inout FieldReader, typical: Double?, defaultKind: Kind) throws -> Distribution {
    let kind = Kind(rawValue: try r.string("distribution", default: defaultKind.rawValue, oneOf: Kind.allCases.map(\.rawValue)))!
    let lower = try r.optionalNumber("min"), upper = try r.optionalNumber("max")
    if let lower, let upper, lower >= upper { throw r.fail("max", "must be greater than min (\(fmt(lower)))") }
    switch kind {
    case .uniform:
      guard let lower else { throw r.fail("min", "is required for a uniform distribution") }
      guard let upper else { throw r.fail("max", "is required for a uniform distribution") }
      return Distribution(kind: .uniform, center: (lower + upper) / 2, spread: 0, lower: lower, upper: upper)
    case .normal:
      let mean = try r.number("mean", default: typical, "the mean")
      let sd = try r.number("sd", min: 0, "the standard deviation")
      return Distribution(kind: .normal, center: mean, spread: sd, lower: lower, upper: upper)
    case .lognormal, .logitnormal:
      let median = try r.number("median", default: typical, min: 0, exclusiveMin: true, "the median")
      if kind == .logitnormal && median >= 1 { throw r.fail("median", "must be < 1 for a logit-normal distribution") }
      var omega: Double
      if r.has("cv") {
        if r.has("omega") { throw r.fail("cv", "give either omega or cv, not both") }
        guard kind == .lognormal else { throw r.fail("cv", "applies to lognormal only; give omega") }
        let cv = try r.number("cv", min: 0)
        omega = (Foundation.log(1 + cv * cv)).squareRoot()
      } else {
        omega = try r.number("omega", min: 0, "the standard deviation on the log (logit) scale")
      }
      if let lower, lower < 0 || (kind == .logitnormal && lower >= 1) { throw r.fail("min", "is outside the support") }
      if let upper, upper <= 0 || (kind == .logitnormal && upper > 1) { throw r.fail("max", "is outside the support") }
      return Distribution(kind: kind, center: median, spread: omega, lower: lower, upper: upper)
    }
  }
}
