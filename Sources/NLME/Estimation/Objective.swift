import RealModule
import StatKit

/// THETA, Ω and Σ: the population parameters on their natural scale (Ω and Σ full, row-major).
public struct PopulationParameters: Sendable, Equatable, Codable {
  public var theta: [Double]
  public var omega: [Double]
  public var sigma: [Double]

  public init(theta: [Double], omega: [Double], sigma: [Double]) {
    self.theta = theta
    self.omega = omega
    self.sigma = sigma
  }
}

/// The conditional objective of one subject at the mode of its random effects.
public struct SubjectFit: Sendable {
  /// OFV_i: l_i(η̂) + log det Ω + log det A_i (FO: the linearised marginal −2 log L).
  public var ofv: Double
  /// The conditional mode η̂ (NONMEM's .phi ETA; zeros for FO).
  public var eta: [Double]
  /// A_i = Ω⁻¹ + Σ_j g gᵀ/V + ½ h hᵀ/V² at η̂ (row-major); its inverse approximates the
  /// conditional covariance of η (NONMEM's ETC).
  public var hessian: [Double]
  public var converged: Bool
}

/// The population objective of NONMEM's first-order methods: the −2 log-likelihood without
/// the n·log 2π term, as the estimation README of ../shared writes it out. For subject i
///
///   l_i(η) = Σ_j [log V_ij + (y_ij − f_ij)²/V_ij] + ηᵀΩ⁻¹η,
///   OFV_i = l_i(η̂_i) + log det Ω + log det A_i,  A_i = Ω⁻¹ + Σ_j [g gᵀ/V + ½ h hᵀ/V²],
///
/// g = ∂f/∂η, h = ∂V/∂η at the mode η̂_i (FOCE-I). FOCE takes V at η = 0 (so h = 0); FO
/// linearises at η = 0: OFV_i = log det C + rᵀC⁻¹r, C = GΩGᵀ + diag V, r = y − f(0).
/// A censored observation (M3) contributes −2 log Φ((LLOQ − f)/√V) in place of its normal term.
public struct FirstOrderObjective: Sendable {
  public enum Method: String, Sendable, Codable { case fo = "FO", foce = "FOCE", focei = "FOCE-I" }
  public let model: NLMEModel
  public let data: Dataset
  public let method: Method
  /// Convergence of the mode: the largest step in η (η is scaled by its SD) below this.
  public var etaTolerance = 1e-9
  public var maxInnerIterations = 200

  public init(model: NLMEModel, data: Dataset, method: Method) {
    self.model = model
    self.data = data
    self.method = method
  }

  var nEta: Int { model.eta.count }

  /// l_i(η), with f, V, g, h filled when `derivatives`.
  struct Local {
    var l: Double
    var f: [Double]
    var v: [Double]
    var g: [Double]  // obs × nEta
    var h: [Double]
  }

  /// Predictions (and their η-derivatives by central differences) of a subject.
  func local(
    _ s: Dataset.Subject, _ p: PopulationParameters, _ omegaInverse: [Double], eta: [Double], derivatives: Bool,
    predictor: Predictor
  ) -> Local? {
    let m = s.observations.count
    let n = nEta
    var f = [Double](repeating: 0, count: m)
    var v = f
    guard predictor.predict(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v) else { return nil }
    if method == .foce || method == .fo, n > 0 {
      // The residual variance at η = 0.
      var f0 = f
      guard predictor.predict(s, theta: p.theta, eta: [Double](repeating: 0, count: n), sigma: p.sigma, f: &f0, v: &v) else { return nil }
    }
    var g = [Double](repeating: 0, count: derivatives ? m * n : 0)
    var h = g
    if derivatives {
      var fp = f
      var vp = v
      var fm = f
      var vm = v
      for k in 0..<n {
        let step = 1e-4 * max(1, abs(eta[k]))
        var e = eta
        e[k] = eta[k] + step
        guard predictor.predict(s, theta: p.theta, eta: e, sigma: p.sigma, f: &fp, v: &vp) else { return nil }
        e[k] = eta[k] - step
        guard predictor.predict(s, theta: p.theta, eta: e, sigma: p.sigma, f: &fm, v: &vm) else { return nil }
        for j in 0..<m {
          g[j * n + k] = (fp[j] - fm[j]) / (2 * step)
          h[j * n + k] = method == .focei ? (vp[j] - vm[j]) / (2 * step) : 0
        }
      }
    }
    var l = 0.0
    for (j, r) in s.observations.enumerated() {
      let record = s.records[r]
      if let limit = record.censoredBelow {
        l -= 2 * Double.log(Distributions.normalCDF((limit - f[j]) / v[j].squareRoot()))
      } else {
        let res = record.dv - f[j]
        l += Double.log(v[j]) + res * res / v[j]
      }
    }
    for a in 0..<n { for b in 0..<n { l += eta[a] * omegaInverse[a * n + b] * eta[b] } }
    return l.isFinite ? Local(l: l, f: f, v: v, g: g, h: h) : nil
  }

  /// The gradient of l_i and the matrix A_i at a point with derivatives.
  func gradientAndA(_ s: Dataset.Subject, _ loc: Local, _ omegaInverse: [Double], eta: [Double]) -> (gradient: [Double], a: [Double]) {
    let n = nEta
    var grad = [Double](repeating: 0, count: n)
    var a = omegaInverse
    for (j, r) in s.observations.enumerated() {
      let record = s.records[r]
      let v = loc.v[j]
      let gj = loc.g[(j * n)..<(j * n + n)]
      let hj = loc.h[(j * n)..<(j * n + n)]
      if let limit = record.censoredBelow {
        // −2 log Φ(z), z = (L − f)/√V: dz/dη = −g/√V − z h/(2V).
        let sd = v.squareRoot()
        let z = (limit - loc.f[j]) / sd
        let ratio = Double.exp(-0.5 * z * z - Double.log(2 * Double.pi) / 2) / max(Distributions.normalCDF(z), 1e-300)
        for k in 0..<n {
          let dz = -gj[gj.startIndex + k] / sd - z * hj[hj.startIndex + k] / (2 * v)
          grad[k] -= 2 * ratio * dz
          for q in 0..<n {
            let dzq = -gj[gj.startIndex + q] / sd - z * hj[hj.startIndex + q] / (2 * v)
            a[k * n + q] += ratio * (z + ratio) * dz * dzq
          }
        }
        continue
      }
      let res = record.dv - loc.f[j]
      for k in 0..<n {
        let gk = gj[gj.startIndex + k]
        let hk = hj[hj.startIndex + k]
        grad[k] += hk / v - 2 * res * gk / v - res * res * hk / (v * v)
        for q in 0..<n {
          a[k * n + q] += gk * gj[gj.startIndex + q] / v + 0.5 * hk * hj[hj.startIndex + q] / (v * v)
        }
      }
    }
    for k in 0..<n { for q in 0..<n { grad[k] += 2 * omegaInverse[k * n + q] * eta[q] } }
    return (grad, a)
  }

  /// The subject's mode η̂ by Fisher scoring (step −A⁻¹∇l/2, halved until l falls) from
  /// `start`, and OFV_i there.
  public func subject(_ s: Dataset.Subject, _ p: PopulationParameters, start: [Double], predictor: Predictor) -> SubjectFit? {
    let n = nEta
    guard let omegaL = cholesky(p.omega, n), let omegaInverse = inverseSPD(p.omega, n) else { return nil }
    let logDetOmega = logDeterminant(cholesky: omegaL, n)
    if method == .fo { return firstOrder(s, p, omegaInverse: omegaInverse, predictor: predictor) }
    var eta = start.count == n ? start : [Double](repeating: 0, count: n)
    guard var loc = local(s, p, omegaInverse, eta: eta, derivatives: true, predictor: predictor) else {
      if start.contains(where: { $0 != 0 }) { return subject(s, p, start: [], predictor: predictor) }
      return nil
    }
    var converged = n == 0
    var iteration = 0
    while !converged && iteration < maxInnerIterations {
      iteration += 1
      let (grad, a) = gradientAndA(s, loc, omegaInverse, eta: eta)
      guard let aL = cholesky(a, n) else { break }
      let direction = choleskySolve(aL, n, grad.map { -$0 / 2 })
      var t = 1.0
      var accepted = false
      for _ in 0..<40 {
        let trial = zip(eta, direction).map { $0 + t * $1 }
        if let next = local(s, p, omegaInverse, eta: trial, derivatives: false, predictor: predictor), next.l <= loc.l + 1e-12 * abs(loc.l)
        {
          let largest = (0..<n).map { abs(t * direction[$0]) / p.omega[$0 * n + $0].squareRoot() }.max() ?? 0
          eta = trial
          accepted = true
          converged = largest < etaTolerance || abs(next.l - loc.l) < 1e-13 * max(1, abs(loc.l))
          break
        }
        t /= 2
      }
      guard accepted, let next = local(s, p, omegaInverse, eta: eta, derivatives: true, predictor: predictor) else { break }
      loc = next
      if !converged {
        let (g2, _) = gradientAndA(s, loc, omegaInverse, eta: eta)
        converged = g2.allSatisfy { abs($0) < 1e-10 }
      }
    }
    let (_, a) = gradientAndA(s, loc, omegaInverse, eta: eta)
    guard let aL = cholesky(a, n) else { return nil }
    let ofv = loc.l + logDetOmega + logDeterminant(cholesky: aL, n)
    return SubjectFit(ofv: ofv, eta: eta, hessian: a, converged: converged || iteration < maxInnerIterations)
  }

  /// FO: the marginal −2 log L of the model linearised in η at 0.
  func firstOrder(_ s: Dataset.Subject, _ p: PopulationParameters, omegaInverse: [Double], predictor: Predictor) -> SubjectFit? {
    let n = nEta
    let zero = [Double](repeating: 0, count: n)
    guard let loc = local(s, p, omegaInverse, eta: zero, derivatives: true, predictor: predictor) else { return nil }
    let m = s.observations.count
    // C = G Ω Gᵀ + diag V.
    let go = multiply(loc.g, p.omega, m, n, n)
    var c = [Double](repeating: 0, count: m * m)
    for i in 0..<m {
      for j in 0..<m {
        var sum = 0.0
        for k in 0..<n { sum += go[i * n + k] * loc.g[j * n + k] }
        c[i * m + j] = sum + (i == j ? loc.v[i] : 0)
      }
    }
    guard let cL = cholesky(c, m) else { return nil }
    let r = s.observations.enumerated().map { s.records[$0.element].dv - loc.f[$0.offset] }
    let x = choleskySolve(cL, m, r)
    let quad = zip(r, x).reduce(0) { $0 + $1.0 * $1.1 }
    let (_, a) = gradientAndA(s, loc, omegaInverse, eta: zero)
    return SubjectFit(ofv: logDeterminant(cholesky: cL, m) + quad, eta: zero, hessian: a, converged: true)
  }
}
