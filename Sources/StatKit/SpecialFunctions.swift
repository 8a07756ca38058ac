import RealModule

/// Distribution functions used by the trial statistics and the dose-finding designs.
public enum Distributions {
  /// Standard normal cumulative distribution Φ(x).
  @inlinable
  public static func normalCDF(_ x: Double) -> Double {
    0.5 * Double.erfc(-x / 2.0.squareRoot())
  }

  /// Standard normal quantile Φ⁻¹(p): Wichura's algorithm AS 241 (PPND16), relative accuracy
  /// about 1e-16 on (0, 1).
  @inlinable
  public static func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1, "normalQuantile needs 0 < p < 1")
    let q = p - 0.5
    if abs(q) <= 0.425 {
      let r = 0.180625 - q * q
      let num =
        ((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
          + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
          + 133.14166789178437745) * r + 3.387132872796366608
      let den =
        ((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
          + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
          + 42.313330701600911252) * r + 1
      return q * num / den
    }
    var r = q < 0 ? p : 1 - p
    r = (-Double.log(r)).squareRoot()
    var x: Double
    if r <= 5 {
      r -= 1.6
      let num =
        ((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177)
          * r + 1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055)
          * r + 4.6303378461565452959) * r + 1.42343711074968357734
      let den =
        ((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966)
          * r + 0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494)
          * r + 2.05319162663775882187) * r + 1
      x = num / den
    } else {
      r -= 5
      let num =
        ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386)
          * r + 0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358)
          * r + 5.4637849111641143699) * r + 6.6579046435011037772
      let den =
        ((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5)
          * r + 7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531)
          * r + 0.59983220655588793769) * r + 1
      x = num / den
    }
    return q < 0 ? -x : x
  }

  /// Upper tail of the χ² distribution with one degree of freedom: P(χ²₁ > x).
  public static func chiSquare1Upper(_ x: Double) -> Double {
    x <= 0 ? 1 : Double.erfc((x / 2).squareRoot())
  }

  /// Upper tail of the χ² distribution with `k` degrees of freedom (regularized upper gamma,
  /// computed directly so that tiny p-values keep their precision).
  public static func chiSquareUpper(_ x: Double, degrees k: Int) -> Double {
    x <= 0 ? 1 : regularizedGammaQ(Double(k) / 2, x / 2)
  }

  /// Regularized lower incomplete gamma P(a, x).
  public static func regularizedGammaP(_ a: Double, _ x: Double) -> Double {
    1 - regularizedGammaQ(a, x)
  }

  /// Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x) (series for x < a + 1, Lentz's
  /// continued fraction above, which gives Q without cancellation).
  public static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
    if x <= 0 { return 1 }
    let lnPrefix = a * Double.log(x) - x - Double.logGamma(a)
    if x < a + 1 {
      var sum = 1 / a, term = 1 / a, n = a
      for _ in 0..<10_000 {
        n += 1
        term *= x / n
        sum += term
        if abs(term) < abs(sum) * 1e-16 { break }
      }
      return 1 - sum * Double.exp(lnPrefix)
    }
    // Lentz's continued fraction for Q(a, x).
    let tiny = 1e-300
    var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
    for i in 1...10_000 {
      let an = -Double(i) * (Double(i) - a)
      b += 2
      d = an * d + b
      if abs(d) < tiny { d = tiny }
      c = b + an / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      let delta = d * c
      h *= delta
      if abs(delta - 1) < 1e-16 { break }
    }
    return Double.exp(lnPrefix) * h
  }

  /// Log of the beta function B(a, b).
  @inlinable
  public static func logBeta(_ a: Double, _ b: Double) -> Double {
    Double.logGamma(a) + Double.logGamma(b) - Double.logGamma(a + b)
  }

  /// Regularized incomplete beta I_x(a, b): the Beta(a, b) distribution function at x
  /// (continued fraction by the modified Lentz method, with the symmetry I_x(a,b) = 1 − I_{1−x}(b,a)).
  public static func betaCDF(_ x: Double, _ a: Double, _ b: Double) -> Double {
    precondition(a > 0 && b > 0, "betaCDF needs a, b > 0")
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let lnFront = a * Double.log(x) + b * Double.log(onePlus: -x) - logBeta(a, b)
    if x > (a + 1) / (a + b + 2) {
      return 1 - betaCDF(1 - x, b, a)
    }
    let tiny = 1e-300
    var c = 1.0, d = 1 - (a + b) * x / (a + 1)
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...10_000 {
      let dm = Double(m)
      // Even step.
      var num = dm * (b - dm) * x / ((a + 2 * dm - 1) * (a + 2 * dm))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      h *= d * c
      // Odd step.
      num = -(a + dm) * (a + b + dm) * x / ((a + 2 * dm) * (a + 2 * dm + 1))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      let delta = d * c
      h *= delta
      if abs(delta - 1) < 1e-16 { break }
    }
    return Double.exp(lnFront) * h / a
  }

  /// Beta(a, b) quantile: the x with I_x(a, b) = p, by bisection to full double precision
  /// (monotone and robust; the callers need few of them).
  public static func betaQuantile(_ p: Double, _ a: Double, _ b: Double) -> Double {
    if p <= 0 { return 0 }
    if p >= 1 { return 1 }
    var lo = 0.0, hi = 1.0
    for _ in 0..<200 {
      let mid = 0.5 * (lo + hi)
      if mid <= lo || mid >= hi { break }
      if betaCDF(mid, a, b) < p { lo = mid } else { hi = mid }
    }
    return 0.5 * (lo + hi)
  }

  /// Binomial probability P(X = k) for X ~ Bin(n, p).
  public static func binomialPMF(_ k: Int, _ n: Int, _ p: Double) -> Double {
    if k < 0 || k > n { return 0 }
    if p <= 0 { return k == 0 ? 1 : 0 }
    if p >= 1 { return k == n ? 1 : 0 }
    let lnC =
      Double.logGamma(Double(n + 1)) - Double.logGamma(Double(k + 1))
      - Double.logGamma(Double(n - k + 1))
    return Double.exp(lnC + Double(k) * Double.log(p) + Double(n - k) * Double.log(onePlus: -p))
  }

  /// Exact (Clopper–Pearson) two-sided confidence interval for a binomial proportion x/n.
  public static func clopperPearson(successes x: Int, trials n: Int, level: Double = 0.95)
    -> (lower: Double, upper: Double)
  {
    precondition(n >= 0 && x >= 0 && x <= n, "clopperPearson needs 0 ≤ x ≤ n")
    if n == 0 { return (0, 1) }
    let alpha = 1 - level
    let lower = x == 0 ? 0 : betaQuantile(alpha / 2, Double(x), Double(n - x + 1))
    let upper = x == n ? 1 : betaQuantile(1 - alpha / 2, Double(x + 1), Double(n - x))
    return (lower, upper)
  }
}
