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
  /// l_i(η̂): the conditional objective at the mode, which decides between modes found from
  /// different starts (the lower is the posterior's higher mode).
  public var conditional = 0.0
  /// The Monte Carlo variance of ``ofv`` (importance sampling; 0 for the deterministic
  /// methods), by the delta method: 4·Var(w)/(K·mean(w)²) over the K weights w.
  public var variance = 0.0
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
  public enum Method: String, Sendable, Codable {
    case fo = "FO", foce = "FOCE", focei = "FOCE-I", laplace = "LAPLACE"
    /// The marginal likelihood by importance sampling around the conditional modes.
    case imp = "IMP"
  }
  public let model: NLMEModel
  public let data: Dataset
  public let method: Method
  /// Convergence of the mode: the largest Newton step in η (scaled by its SD) below this.
  public var etaTolerance = 1e-8
  public var maxInnerIterations = 200
  /// Importance sampling (``Method/imp``): draws per subject and their seed (the same draws
  /// at every parameter value — common random numbers — so the objective is smooth).
  public var samples = 300
  public var seed: UInt64 = 1
  /// The η-derivatives of the predictions on jets where the model allows (exact; see
  /// ``JetState``), or, when false, by finite differences everywhere (for comparison).
  public var exactDerivatives = true

  public init(model: NLMEModel, data: Dataset, method: Method) {
    self.model = model
    self.data = data
    self.method = method
  }

  var nEta: Int { model.eta.count }

  /// How many η-derivatives of the predictions a point needs.
  enum Order { case value, first, second }

  /// l_i(η) and the predictions, with their η-derivatives: exact from one prediction on jets
  /// where the model allows (``JetState``), otherwise by finite differences, first (central)
  /// and second (central on the diagonal, forward across) — 1 + 2n + n(n−1)/2 predictions.
  struct Local {
    var l: Double
    var f: [Double]
    var v: [Double]
    /// ∂f/∂η and ∂V/∂η (obs × n); ∂V/∂η is 0 without interaction.
    var g: [Double]
    var h: [Double]
    /// ∂²f/∂η² and ∂²V/∂η² (obs × n × n), for the Newton steps and the Laplace objective.
    var g2: [Double]
    var h2: [Double]

    /// C = G Ω Gᵀ + diag V: the covariance of the observations under the model linearised in
    /// η at this point (FO's objective, WRES and CWRES).
    func marginalCovariance(_ omega: [Double], _ n: Int) -> [Double] {
      let m = f.count
      let go = multiply(g, omega, m, n, n)
      var c = [Double](repeating: 0, count: m * m)
      for i in 0..<m {
        for j in 0..<m {
          var sum = 0.0
          for k in 0..<n { sum += go[i * n + k] * g[j * n + k] }
          c[i * m + j] = sum + (i == j ? v[i] : 0)
        }
      }
      return c
    }
  }

  func local(
    _ s: Dataset.Subject, _ p: PopulationParameters, _ omegaInverse: [Double], eta: [Double], order: Order, predictor: Predictor,
    prior: Bool = true
  ) -> Local? {
    let m = s.observations.count
    let n = nEta
    let interaction = method != .fo && method != .foce
    var f = [Double](repeating: 0, count: m)
    var v = f
    var fJets: [Double] = []
    var vJets: [Double] = []
    let jets =
      order == .value || !exactDerivatives
      ? nil : predictor.predictJets(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v, fJets: &fJets, vJets: &vJets)
    if jets == false { return nil }
    if jets == nil { guard predictor.predict(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v) else { return nil } }
    if !interaction, n > 0 {
      // The residual variance at η = 0.
      var f0 = f
      guard predictor.predict(s, theta: p.theta, eta: [Double](repeating: 0, count: n), sigma: p.sigma, f: &f0, v: &v) else { return nil }
    }
    var loc = Local(l: 0, f: f, v: v, g: [], h: [], g2: [], h2: [])
    if jets == true {
      let shape = JetShape(n: n)
      let w = shape.width
      loc.g = [Double](repeating: 0, count: m * n)
      loc.h = loc.g
      if order == .second {
        loc.g2 = [Double](repeating: 0, count: m * n * n)
        loc.h2 = loc.g2
      }
      for j in 0..<m {
        for a in 0..<n {
          loc.g[j * n + a] = fJets[j * w + a]
          if interaction { loc.h[j * n + a] = vJets[j * w + a] }
          guard order == .second else { continue }
          for b in 0..<n {
            loc.g2[(j * n + a) * n + b] = fJets[j * w + shape.pair(a, b)]
            if interaction { loc.h2[(j * n + a) * n + b] = vJets[j * w + shape.pair(a, b)] }
          }
        }
      }
    } else if order != .value {
      loc.g = [Double](repeating: 0, count: m * n)
      loc.h = loc.g
      if order == .second {
        loc.g2 = [Double](repeating: 0, count: m * n * n)
        loc.h2 = loc.g2
      }
      let steps = (0..<n).map { 1e-4 * max(1, abs(eta[$0])) }
      var plus: [([Double], [Double])] = []
      var fp = f
      var vp = v
      var fm = f
      var vm = v
      for k in 0..<n {
        var e = eta
        e[k] = eta[k] + steps[k]
        guard predictor.predict(s, theta: p.theta, eta: e, sigma: p.sigma, f: &fp, v: &vp) else { return nil }
        e[k] = eta[k] - steps[k]
        guard predictor.predict(s, theta: p.theta, eta: e, sigma: p.sigma, f: &fm, v: &vm) else { return nil }
        plus.append((fp, vp))
        for j in 0..<m {
          loc.g[j * n + k] = (fp[j] - fm[j]) / (2 * steps[k])
          if interaction { loc.h[j * n + k] = (vp[j] - vm[j]) / (2 * steps[k]) }
          if order == .second {
            loc.g2[(j * n + k) * n + k] = (fp[j] - 2 * f[j] + fm[j]) / (steps[k] * steps[k])
            if interaction { loc.h2[(j * n + k) * n + k] = (vp[j] - 2 * v[j] + vm[j]) / (steps[k] * steps[k]) }
          }
        }
      }
      if order == .second {
        for a in 0..<n {
          for b in 0..<a {
            var e = eta
            e[a] += steps[a]
            e[b] += steps[b]
            guard predictor.predict(s, theta: p.theta, eta: e, sigma: p.sigma, f: &fp, v: &vp) else { return nil }
            for j in 0..<m {
              let d = steps[a] * steps[b]
              let gab = (fp[j] - plus[a].0[j] - plus[b].0[j] + f[j]) / d
              loc.g2[(j * n + a) * n + b] = gab
              loc.g2[(j * n + b) * n + a] = gab
              if interaction {
                let hab = (vp[j] - plus[a].1[j] - plus[b].1[j] + v[j]) / d
                loc.h2[(j * n + a) * n + b] = hab
                loc.h2[(j * n + b) * n + a] = hab
              }
            }
          }
        }
      }
    }
    var l = 0.0
    for (j, r) in s.observations.enumerated() { l += Self.terms(s.records[r], f[j], v[j]).q }
    if prior { for a in 0..<n { for b in 0..<n { l += eta[a] * omegaInverse[a * n + b] * eta[b] } } }
    loc.l = l
    return l.isFinite ? loc : nil
  }

  /// One observation's term q of l_i and its derivatives in f and V: log V + (y − f)²/V, or
  /// −2 log Φ(z), z = (LLOQ − f)/√V, for a value censored below the limit (M3).
  static func terms(_ record: Dataset.Record, _ f: Double, _ v: Double) -> (
    q: Double, qf: Double, qv: Double, qff: Double, qfv: Double, qvv: Double
  ) {
    if v == Predictor.likelihoodValued {
      // Y is the likelihood itself (F_FLAG = 1): q = −2 log Y.
      return (-2 * Double.log(max(f, 1e-300)), -2 / max(f, 1e-300), 0, 2 / max(f * f, 1e-300), 0, 0)
    }
    if let limit = record.censoredBelow {
      let sd = v.squareRoot()
      let z = (limit - f) / sd
      let cdf = Distributions.normalCDF(z)
      let ratio = Double.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() / max(cdf, 1e-300)
      let qz = -2 * ratio
      let qzz = 2 * ratio * (z + ratio)
      let zf = -1 / sd
      let zv = -z / (2 * v)
      let zfv = 1 / (2 * v * sd)
      let zvv = 3 * z / (4 * v * v)
      return (
        -2 * Double.log(max(cdf, 1e-300)), qz * zf, qz * zv, qzz * zf * zf, qzz * zf * zv + qz * zfv, qzz * zv * zv + qz * zvv
      )
    }
    let r = record.dv - f
    return (Double.log(v) + r * r / v, -2 * r / v, 1 / v - r * r / (v * v), 2 / v, 2 * r / (v * v), -1 / (v * v) + 2 * r * r / (v * v * v))
  }

  /// The gradient and Hessian of l_i (the Hessian exact when the point has second
  /// derivatives), and A_i: Ω⁻¹ + Σ g gᵀ/V + ½ h hᵀ/V² (FOCE's expected ½·Hessian; for a
  /// censored value ½ q_zz ∇z ∇zᵀ).
  func derivatives(_ s: Dataset.Subject, _ loc: Local, _ omegaInverse: [Double], eta: [Double]) -> (
    gradient: [Double], hessian: [Double], a: [Double]
  ) {
    let n = nEta
    var grad = [Double](repeating: 0, count: n)
    var hess = [Double](repeating: 0, count: n * n)
    var a = omegaInverse
    let second = !loc.g2.isEmpty
    for (j, r) in s.observations.enumerated() {
      let record = s.records[r]
      let v = loc.v[j]
      let t = Self.terms(record, loc.f[j], v)
      for k in 0..<n {
        let gk = loc.g[j * n + k]
        let hk = loc.h[j * n + k]
        grad[k] += t.qf * gk + t.qv * hk
        for q in 0..<n {
          let gq = loc.g[j * n + q]
          let hq = loc.h[j * n + q]
          var hkq = t.qff * gk * gq + t.qfv * (gk * hq + hk * gq) + t.qvv * hk * hq
          if second { hkq += t.qf * loc.g2[(j * n + k) * n + q] + t.qv * loc.h2[(j * n + k) * n + q] }
          hess[k * n + q] += hkq
        }
      }
      Self.addInformation(record, loc.f[j], v, qff: t.qff, g: { loc.g[j * n + $0] }, h: { loc.h[j * n + $0] }, n, to: &a)
    }
    for k in 0..<n {
      for q in 0..<n {
        grad[k] += 2 * omegaInverse[k * n + q] * eta[q]
        hess[k * n + q] += 2 * omegaInverse[k * n + q]
      }
    }
    return (grad, hess, a)
  }

  /// The subject's mode η̂ by Newton's method on l_i (exact Hessian from second differences;
  /// FOCE's A_i where that is not positive definite), halving the step until l_i falls, from
  /// `start`; and OFV_i there (Laplace: log det of ½·Hessian in place of A_i).
  ///
  /// With `known`, a mode already found: nil as soon as the search comes within 10⁻³ SD of it
  /// (Newton from there converges to that mode), so checking a mode from other starts only
  /// follows the searches that lead elsewhere to the end.
  public func subject(
    _ s: Dataset.Subject, _ p: PopulationParameters, start: [Double], predictor: Predictor, known: [Double]? = nil
  ) -> SubjectFit? {
    let n = nEta
    guard let omegaL = cholesky(p.omega, n), let omegaInverse = inverseSPD(p.omega, n) else { return nil }
    let logDetOmega = logDeterminant(cholesky: omegaL, n)
    if method == .fo { return firstOrder(s, p, omegaInverse: omegaInverse, predictor: predictor) }
    var eta = start.count == n ? start : [Double](repeating: 0, count: n)
    guard var loc = local(s, p, omegaInverse, eta: eta, order: .second, predictor: predictor) else {
      if start.contains(where: { $0 != 0 }) { return subject(s, p, start: [], predictor: predictor, known: known) }
      return nil
    }
    var converged = n == 0
    var iteration = 0
    var d = derivatives(s, loc, omegaInverse, eta: eta)
    while !converged && iteration < maxInnerIterations {
      if let known, known.count == n,
        (0..<n).allSatisfy({ abs(eta[$0] - known[$0]) < 1e-3 * p.omega[$0 * n + $0].squareRoot() })
      {
        return nil
      }
      iteration += 1
      let direction: [Double]
      if let hL = cholesky(d.hessian, n) {
        direction = choleskySolve(hL, n, d.gradient.map { -$0 })
      } else if let aL = cholesky(d.a, n) {
        direction = choleskySolve(aL, n, d.gradient.map { -$0 / 2 })
      } else {
        break
      }
      let largest = (0..<n).map { abs(direction[$0]) / p.omega[$0 * n + $0].squareRoot() }.max() ?? 0
      if largest < etaTolerance {
        converged = true
        break
      }
      var t = 1.0
      var next: Local? = nil
      for attempt in 0..<40 {
        let trial = zip(eta, direction).map { $0 + t * $1 }
        // The first trial is a full Newton step, nearly always taken: its derivatives come
        // with it; shorter steps are tried by value first.
        if let c = local(s, p, omegaInverse, eta: trial, order: attempt == 0 ? .second : .value, predictor: predictor),
          c.l <= loc.l + 1e-12 * abs(loc.l)
        {
          eta = trial
          next = attempt == 0 ? c : local(s, p, omegaInverse, eta: trial, order: .second, predictor: predictor)
          break
        }
        t /= 2
      }
      guard let accepted = next else {
        // No step lowers l: at the mode within rounding.
        converged = largest < 1e-6
        break
      }
      loc = accepted
      d = derivatives(s, loc, omegaInverse, eta: eta)
    }
    let matrix = method == .laplace || method == .imp ? d.hessian.map { $0 / 2 } : d.a
    guard let aL = cholesky(matrix, n) ?? cholesky(d.a, n) else { return nil }
    let ofv = loc.l + logDetOmega + logDeterminant(cholesky: aL, n)
    if method == .imp, n > 0 {
      guard let sampled = importanceSampled(s, p, omegaInverse, logDetOmega: logDetOmega, mode: eta, precision: aL, predictor: predictor)
      else { return nil }
      var fit = SubjectFit(ofv: sampled.ofv, eta: eta, hessian: matrix, converged: converged)
      fit.variance = sampled.variance
      fit.conditional = loc.l
      return fit
    }
    var fit = SubjectFit(ofv: ofv, eta: eta, hessian: matrix, converged: converged)
    fit.conditional = loc.l
    return fit
  }

  /// −2 log of the subject's marginal likelihood (without the n·log 2π of its observations)
  /// by importance sampling: proposals from a multivariate t (4 degrees of freedom) centred
  /// at the mode with the Laplace covariance (LLᵀ)⁻¹, where L·Lᵀ is ½·Hessian of l_i;
  /// L_i = mean of exp(−½ l_i(η) − ½ log det Ω − (n/2) log 2π) / q(η).
  func importanceSampled(
    _ s: Dataset.Subject, _ p: PopulationParameters, _ omegaInverse: [Double], logDetOmega: Double, mode: [Double],
    precision l: [Double], predictor: Predictor
  ) -> (ofv: Double, variance: Double)? {
    let n = nEta
    let nu = 12.0
    // log q(η) = c − log det(Σ)/2 − (ν + n)/2 · log(1 + δ/ν), Σ = (LLᵀ)⁻¹, δ = (η − η̂)ᵀLLᵀ(η − η̂).
    let logDetSigma = -logDeterminant(cholesky: l, n)
    let c =
      Double.logGamma((nu + Double(n)) / 2) - Double.logGamma(nu / 2) - Double(n) / 2 * Double.log(nu * Double.pi) - logDetSigma / 2
    var logWeights: [Double] = []
    logWeights.reserveCapacity(samples)
    for k in 0..<samples {
      var rng = RandomStream(seed: seed, id: RandomStream.address(0x494D_5000, UInt64(s.records.first?.line ?? 0), UInt64(k)))
      let z = (0..<n).map { _ in rng.normal() }
      var chi = 0.0
      for _ in 0..<Int(nu) {
        let x = rng.normal()
        chi += x * x
      }
      let scale = (nu / chi).squareRoot()
      // η = η̂ + scale·L⁻ᵀz has covariance scale²·(LLᵀ)⁻¹; δ = scale²·zᵀz.
      var x = z
      for i in stride(from: n - 1, through: 0, by: -1) {
        for k in (i + 1)..<n { x[i] -= l[k * n + i] * x[k] }
        x[i] /= l[i * n + i]
      }
      let eta = (0..<n).map { mode[$0] + scale * x[$0] }
      let delta = scale * scale * z.reduce(0) { $0 + $1 * $1 }
      let logQ = c - (nu + Double(n)) / 2 * Double.log(1 + delta / nu)
      guard let loc = local(s, p, omegaInverse, eta: eta, order: .value, predictor: predictor) else {
        logWeights.append(-.infinity)
        continue
      }
      logWeights.append(-0.5 * loc.l - 0.5 * logDetOmega - Double(n) / 2 * Double.log(2 * Double.pi) - logQ)
    }
    guard let top = logWeights.max(), top.isFinite else { return nil }
    let k = Double(logWeights.count)
    let scaled = logWeights.map { Double.exp($0 - top) }
    let mean = scaled.reduce(0, +) / k
    let spread = scaled.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, k - 1)
    return (-2 * (top + Double.log(mean)), 4 * spread / (k * mean * mean))
  }

  /// FO: the marginal −2 log L of the model linearised in η at 0.
  func firstOrder(_ s: Dataset.Subject, _ p: PopulationParameters, omegaInverse: [Double], predictor: Predictor) -> SubjectFit? {
    let n = nEta
    let zero = [Double](repeating: 0, count: n)
    guard let loc = local(s, p, omegaInverse, eta: zero, order: .first, predictor: predictor) else { return nil }
    let m = s.observations.count
    guard let cL = cholesky(loc.marginalCovariance(p.omega, n), m) else { return nil }
    let r = s.observations.enumerated().map { s.records[$0.element].dv - loc.f[$0.offset] }
    let x = choleskySolve(cL, m, r)
    let quad = zip(r, x).reduce(0) { $0 + $1.0 * $1.1 }
    return SubjectFit(
      ofv: logDeterminant(cholesky: cL, m) + quad, eta: zero, hessian: derivatives(s, loc, omegaInverse, eta: zero).a, converged: true)
  }
}
