import RealModule
import StatKit

/// The derivatives of one subject's OFV_i in the population parameters, element by element:
/// every THETA (0 for those outside the directions), and every element of Ω and Σ taken alone
/// (row-major, symmetric: a parameter that sets Ω_rs and Ω_sr has the sum of both).
public struct SubjectGradient: Sendable {
  public var theta: [Double]
  public var omega: [Double]
  public var sigma: [Double]
}

extension FirstOrderObjective {
  /// Whether ``gradient(_:_:fit:directions:predictor:)`` serves this objective: FOCE and
  /// FOCE-I with exact derivatives, for a model with ETAs.
  var hasAnalyticGradient: Bool { (method == .focei || method == .foce) && exactDerivatives && nEta > 0 }

  /// The total derivative of OFV_i = l_i(η̂) + log det Ω + log det A_i(η̂) in THETA, Ω and Σ at
  /// the subject's mode η̂ (`fit`), from one prediction on jets in the ETAs and the parameter
  /// `directions` (the sensitivity equations of `$DES` included) — where finite differences
  /// of the population objective need two inner optimisations per parameter.
  ///
  /// The mode moves with the parameters: ∇_η l(η̂, ψ) = 0 gives dη̂/dψ = −H⁻¹ ∂²l/∂η∂ψ (H the
  /// exact Hessian of l in η), so
  ///
  ///   dOFV_i/dψ = ∂_ψ [l + log det Ω + log det A] − (∇_η l + ∇_η log det A)ᵀ H⁻¹ ∂²l/∂η∂ψ,
  ///
  /// with ∂ log det A = tr(A⁻¹ ∂A). A's derivatives need ∂²f/∂η∂η and ∂²f/∂η∂ψ (and the same
  /// of V), which the jets carry; Ω enters l, A and log det Ω in closed form (∂Ω⁻¹ =
  /// −Ω⁻¹ ∂Ω Ω⁻¹). This is the sensitivity approach of Almquist et al. (J Pharmacokinet
  /// Pharmacodyn 42:191–209, 2015) for FOCE(-I). Nil where the mode search did not converge,
  /// the jets do not cover the subject or H is not positive definite at η̂; finite differences
  /// then serve.
  func gradient(
    _ s: Dataset.Subject, _ p: PopulationParameters, fit: SubjectFit, directions: JetDirections, predictor: Predictor
  ) -> SubjectGradient? {
    let n = nEta
    let np = directions.count
    let m = s.observations.count
    let nEps = model.eps.count
    guard hasAnalyticGradient, fit.converged, fit.eta.count == n, let omegaInverse = inverseSPD(p.omega, n) else { return nil }
    let shape = JetShape(n: n + np, full: n)
    let w = shape.width
    var f = [Double](repeating: 0, count: m)
    var v = f
    var fj: [Double] = []
    var vj: [Double] = []
    guard
      predictor.predictJets(s, theta: p.theta, eta: fit.eta, sigma: p.sigma, directions: directions, f: &f, v: &v, fJets: &fj, vJets: &vj)
        == true, fj.count == m * w
    else { return nil }
    if method == .foce {
      // FOCE: V at η = 0, which depends on the parameters but not on η.
      var f0 = f
      var v0 = v
      var fj0: [Double] = []
      var vj0: [Double] = []
      let zero = [Double](repeating: 0, count: n)
      guard
        predictor.predictJets(
          s, theta: p.theta, eta: zero, sigma: p.sigma, directions: directions, f: &f0, v: &v0, fJets: &fj0, vJets: &vj0)
          == true
      else { return nil }
      v = v0
      vj = [Double](repeating: 0, count: m * w)
      for j in 0..<m { for k in n..<(n + np) { vj[j * w + k] = vj0[j * w + k] } }
    }
    let records = s.observations.map { s.records[$0] }

    // Pass 1: l's gradient and exact Hessian in η, ∂l/∂ψ, ∂²l/∂η∂ψ, and A.
    var grad = [Double](repeating: 0, count: n)
    var hess = [Double](repeating: 0, count: n * n)
    var dl = [Double](repeating: 0, count: np)
    var cross = [Double](repeating: 0, count: n * np)
    var a = omegaInverse
    for j in 0..<m {
      let t = Self.terms(records[j], f[j], v[j])
      let base = j * w
      for x in 0..<n {
        let gx = fj[base + x]
        let hx = vj[base + x]
        grad[x] += t.qf * gx + t.qv * hx
        for y in 0..<n {
          let gy = fj[base + y]
          let hy = vj[base + y]
          hess[x * n + y] +=
            t.qff * gx * gy + t.qfv * (gx * hy + hx * gy) + t.qvv * hx * hy + t.qf * fj[base + shape.pair(x, y)] + t.qv
            * vj[base + shape.pair(x, y)]
        }
        for k in 0..<np {
          let fk = fj[base + n + k]
          let vk = vj[base + n + k]
          let pk = shape.pair(n + k, x)
          cross[x * np + k] +=
            t.qff * fk * gx + t.qfv * (fk * hx + vk * gx) + t.qvv * vk * hx + t.qf * fj[base + pk] + t.qv * vj[base + pk]
        }
      }
      for k in 0..<np { dl[k] += t.qf * fj[base + n + k] + t.qv * vj[base + n + k] }
      Self.addInformation(records[j], f[j], v[j], qff: t.qff, g: { fj[base + $0] }, h: { vj[base + $0] }, n, to: &a)
    }
    let u = (0..<n).map { x in (0..<n).reduce(0) { $0 + omegaInverse[x * n + $1] * fit.eta[$1] } }
    for x in 0..<n {
      grad[x] += 2 * u[x]
      for y in 0..<n { hess[x * n + y] += 2 * omegaInverse[x * n + y] }
    }
    guard let aInverse = inverseSPD(a, n), let hL = cholesky(hess, n) else { return nil }

    // Pass 2: ∂ log det A in each η and each direction: Σ_j tr(A⁻¹ ∂B_j).
    var traceEta = [Double](repeating: 0, count: n)
    var traceParameter = [Double](repeating: 0, count: np)
    for j in 0..<m {
      let base = j * w
      let g = (0..<n).map { fj[base + $0] }
      let h = (0..<n).map { vj[base + $0] }
      let change = InformationChange(records[j], f[j], v[j], g: g, h: h, aInverse: aInverse)
      for c in 0..<n {
        traceEta[c] += change.trace(
          df: g[c], dv: h[c], dg: { fj[base + shape.pair($0, c)] }, dh: { vj[base + shape.pair($0, c)] })
      }
      for k in 0..<np {
        let q = n + k
        traceParameter[k] += change.trace(
          df: fj[base + q], dv: vj[base + q], dg: { fj[base + shape.pair(q, $0)] }, dh: { vj[base + shape.pair(q, $0)] })
      }
    }

    // z = H⁻¹ (∇_η l + ∇_η log det A): the mode's movement enters as −zᵀ ∂(∇_η l)/∂ψ.
    let z = choleskySolve(hL, n, (0..<n).map { grad[$0] + traceEta[$0] })
    var total = [Double](repeating: 0, count: np)
    for k in 0..<np {
      var mode = 0.0
      for x in 0..<n { mode += z[x] * cross[x * np + k] }
      total[k] = dl[k] + traceParameter[k] - mode
    }
    var result = SubjectGradient(
      theta: [Double](repeating: 0, count: p.theta.count), omega: [Double](repeating: 0, count: n * n),
      sigma: [Double](repeating: 0, count: nEps * nEps))
    for (i, k) in directions.theta.enumerated() { result.theta[k] = total[i] }
    for (i, (r, c)) in directions.sigma.enumerated() {
      let d = total[directions.theta.count + i]
      result.sigma[r * nEps + c] = d
      result.sigma[c * nEps + r] = d
    }
    // Ω_rs alone: ∂l = −u_r u_s, ∂ log det Ω = W_sr, ∂ log det A = −(W A⁻¹ W)_sr and
    // ∂(∇_η l)_x = −2 W_xr u_s (W = Ω⁻¹, u = Wη̂); each element then averaged with its mirror.
    let wz = (0..<n).map { x in (0..<n).reduce(0) { $0 + omegaInverse[x * n + $1] * z[$1] } }
    let waw = multiply(multiply(omegaInverse, aInverse, n, n, n), omegaInverse, n, n, n)
    var alone = [Double](repeating: 0, count: n * n)
    for r in 0..<n {
      for c in 0..<n { alone[r * n + c] = -u[r] * u[c] + omegaInverse[c * n + r] - waw[c * n + r] + 2 * wz[r] * u[c] }
    }
    for r in 0..<n { for c in 0..<n { result.omega[r * n + c] = 0.5 * (alone[r * n + c] + alone[c * n + r]) } }
    return result
  }

  /// Adds one observation's term B_j of A = Ω⁻¹ + Σ_j B_j (row-major n×n) to `a`: g gᵀ/V +
  /// ½ h hᵀ/V²; ½ q_zz ∇z ∇zᵀ for a value censored below the limit; g gᵀ/f² where Y is a
  /// likelihood; q_ff is that of ``terms(_:_:_:)``. ``derivatives(_:_:_:eta:)`` builds A with
  /// it, and the gradient differentiates it.
  static func addInformation(
    _ record: Dataset.Record, _ f: Double, _ v: Double, qff: Double, g: (Int) -> Double, h: (Int) -> Double, _ n: Int,
    to a: inout [Double]
  ) {
    for x in 0..<n {
      for y in 0..<n {
        let (gx, gy, hx, hy) = (g(x), g(y), h(x), h(y))
        if v == Predictor.likelihoodValued {
          a[x * n + y] += 0.5 * qff * gx * gy
        } else if let limit = record.censoredBelow {
          let sd = v.squareRoot()
          let z = (limit - f) / sd
          let dzx = -gx / sd - z * hx / (2 * v)
          let dzy = -gy / sd - z * hy / (2 * v)
          a[x * n + y] += 0.5 * (qff * v) * dzx * dzy
        } else {
          a[x * n + y] += gx * gy / v + 0.5 * hx * hy / (v * v)
        }
      }
    }
  }
}

/// tr(A⁻¹ ∂B_j) for one observation's B_j (``FirstOrderObjective/addInformation(_:_:_:qff:g:h:_:to:)``)
/// along a direction that changes f, V, g = ∂f/∂η and h = ∂V/∂η by df, dv, dg and dh.
struct InformationChange {
  enum Kind {
    /// B = g gᵀ/V + ½ h hᵀ/V²: u = A⁻¹g, w = A⁻¹h.
    case normal(v: Double, u: [Double], w: [Double], gu: Double, hw: Double)
    /// B = ½ q_zz(z) ∇z ∇zᵀ, ∇z = −g/√V − z h/(2V), z = (LLOQ − f)/√V: r = A⁻¹∇z.
    case censored(v: Double, sd: Double, z: Double, qzz: Double, slope: Double, r: [Double], dzr: Double)
    /// B = g gᵀ/f² (Y a likelihood; q = −2 log Y).
    case likelihood(f: Double, u: [Double], gu: Double)
  }
  let kind: Kind
  let g: [Double]
  let h: [Double]

  init(_ record: Dataset.Record, _ f: Double, _ v: Double, g: [Double], h: [Double], aInverse: [Double]) {
    let n = g.count
    func apply(_ x: [Double]) -> [Double] { (0..<n).map { i in (0..<n).reduce(0) { $0 + aInverse[i * n + $1] * x[$1] } } }
    func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
    self.g = g
    self.h = h
    if v == Predictor.likelihoodValued {
      let u = apply(g)
      kind = .likelihood(f: max(abs(f), 1e-150), u: u, gu: dot(g, u))
    } else if let limit = record.censoredBelow {
      let sd = v.squareRoot()
      let z = (limit - f) / sd
      let cdf = Distributions.normalCDF(z)
      let ratio = Double.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() / max(cdf, 1e-300)
      // q_zz = 2ρ(z + ρ), ρ = φ/Φ, ρ′ = −ρ(z + ρ): q_zz′ = 2[ρ′(z + ρ) + ρ(1 + ρ′)].
      let qzz = 2 * ratio * (z + ratio)
      let dRatio = -ratio * (z + ratio)
      let slope = 2 * (dRatio * (z + ratio) + ratio * (1 + dRatio))
      let dz = (0..<n).map { -g[$0] / sd - z * h[$0] / (2 * v) }
      let r = apply(dz)
      kind = .censored(v: v, sd: sd, z: z, qzz: qzz, slope: slope, r: r, dzr: dot(dz, r))
    } else {
      let u = apply(g)
      let w = apply(h)
      kind = .normal(v: v, u: u, w: w, gu: dot(g, u), hw: dot(h, w))
    }
  }

  func trace(df: Double, dv: Double, dg: (Int) -> Double, dh: (Int) -> Double) -> Double {
    let n = g.count
    switch kind {
    case .normal(let v, let u, let w, let gu, let hw):
      var dgu = 0.0
      var dhw = 0.0
      for x in 0..<n {
        dgu += dg(x) * u[x]
        dhw += dh(x) * w[x]
      }
      return 2 * dgu / v - gu * dv / (v * v) + dhw / (v * v) - hw * dv / (v * v * v)
    case .censored(let v, let sd, let z, let qzz, let slope, let r, let dzr):
      let dZ = -df / sd - z * dv / (2 * v)
      var ddzr = 0.0
      for x in 0..<n {
        let ddz = -dg(x) / sd + g[x] * dv / (2 * v * sd) - dZ * h[x] / (2 * v) - z * dh(x) / (2 * v) + z * h[x] * dv / (2 * v * v)
        ddzr += ddz * r[x]
      }
      return 0.5 * slope * dZ * dzr + qzz * ddzr
    case .likelihood(let f, let u, let gu):
      var dgu = 0.0
      for x in 0..<n { dgu += dg(x) * u[x] }
      return 2 * dgu / (f * f) - 2 * gu * df / (f * f * f)
    }
  }
}
