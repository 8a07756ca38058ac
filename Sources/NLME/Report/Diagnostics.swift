import RealModule
import StatKit

/// The per-observation diagnostics of a fitted model (NONMEM's table items), and the
/// shrinkages:
/// - PRED: the prediction at η = 0; IPRED: at the conditional mode η̂;
/// - RES = DV − PRED; IWRES = (DV − IPRED)/√V(η̂);
/// - WRES: the FO weighted residuals, L⁻¹(y − f(0)) with C = GΩGᵀ + diag V at η = 0 (L its
///   Cholesky factor);
/// - CWRES (Hooker et al. 2007, Pharm. Res. 24:2187–2197): the same at η̂ with the
///   linearised population prediction f(η̂) − G·η̂;
/// - NPDE (Brendel et al. 2006, Pharm. Res. 23:2036–2049; Comets et al. 2008): from K
///   simulations of each subject's design with η ~ N(0, Ω) and y = f + √V·z, observed and
///   simulated vectors decorrelated by the simulations' mean and covariance, the rank of the
///   observed among the simulated, Φ⁻¹ of it (ranks 0 and K taken as 1/(2K) and 1 − 1/(2K));
/// - η shrinkage 1 − SD(η̂_k)/√ω_kk and ε shrinkage 1 − SD(IWRES), SDs with n − 1
///   (NONMEM's ETASHRINKSD and EPSSHRINKSD).
/// Censored observations (M3) have no residuals (NaN) and stay out of the shrinkages.
public struct Diagnostics: Sendable {
  public struct Row: Sendable {
    public var subject: Int
    public var record: Int
    public var dv: Double
    public var pred: Double
    public var ipred: Double
    public var res: Double
    public var wres: Double
    public var iwres: Double
    public var cwres: Double
    public var npde: Double
    public var censored: Bool
  }
  public var rows: [Row]
  public var etaShrinkage: [Double]
  public var epsShrinkage: Double

  /// The diagnostics of `fit` (simulations for NPDE from `seed`, `samples` per subject).
  public init(objective: FirstOrderObjective, parameters p: PopulationParameters, etas: [[Double]], samples: Int = 1000, seed: UInt64 = 1) {
    let model = objective.model
    let n = model.eta.count
    let predictor = Predictor(model: model)
    let omegaInverse = inverseSPD(p.omega, n) ?? []
    let omegaL = cholesky(p.omega, n) ?? []
    var rows: [Row] = []
    var iwres: [Double] = []
    for (i, s) in objective.data.subjects.enumerated() {
      let m = s.observations.count
      if m == 0 { continue }
      let eta = etas[i].count == n ? etas[i] : [Double](repeating: 0, count: n)
      let zero = [Double](repeating: 0, count: n)
      let population = FirstOrderObjective(model: model, data: objective.data, method: .focei)
      let atZero = population.local(s, p, omegaInverse, eta: zero, order: .first, predictor: predictor)
      let atMode = population.local(s, p, omegaInverse, eta: eta, order: .first, predictor: predictor)
      let y = s.observations.map { s.records[$0].dv }
      // Censored values, and values whose Y is a likelihood (F_FLAG), have no residuals.
      let censored = s.observations.enumerated().map { j, r in
        s.records[r].censoredBelow != nil || atMode?.v[j] == Predictor.likelihoodValued
      }
      func weighted(_ loc: FirstOrderObjective.Local?, at e: [Double]) -> [Double] {
        guard let loc else { return [Double](repeating: .nan, count: m) }
        let c = loc.marginalCovariance(p.omega, n)
        var r = [Double](repeating: 0, count: m)
        for j in 0..<m {
          var linear = loc.f[j]
          for k in 0..<n { linear -= loc.g[j * n + k] * e[k] }
          r[j] = y[j] - linear
        }
        return forwardSolve(cholesky(c, m), m, r) ?? [Double](repeating: .nan, count: m)
      }
      let wres = weighted(atZero, at: zero)
      let cwres = weighted(atMode, at: eta)
      let npde = Self.npde(
        s, subject: i, y: y, model: model, p: p, omegaL: omegaL, samples: samples, seed: seed, predictor: predictor)
      for j in 0..<m {
        let ipred = atMode?.f[j] ?? .nan
        let iw = (y[j] - ipred) / (atMode?.v[j].squareRoot() ?? .nan)
        let pred = atZero?.f[j] ?? .nan
        if !censored[j] { iwres.append(iw) }
        rows.append(
          Row(
            subject: i, record: s.observations[j], dv: y[j], pred: pred, ipred: ipred, res: y[j] - pred,
            wres: censored[j] ? .nan : wres[j], iwres: censored[j] ? .nan : iw, cwres: censored[j] ? .nan : cwres[j],
            npde: censored[j] ? .nan : npde[j], censored: censored[j]))
      }
    }
    self.rows = rows
    etaShrinkage = (0..<n).map { k in
      let values = etas.filter { $0.count == n }.map { $0[k] }
      return 1 - Self.sd(values) / p.omega[k * n + k].squareRoot()
    }
    epsShrinkage = 1 - Self.sd(iwres)
  }

  static func sd(_ v: [Double]) -> Double {
    guard v.count > 1 else { return .nan }
    let mean = v.reduce(0, +) / Double(v.count)
    return (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
  }

  static func npde(
    _ s: Dataset.Subject, subject: Int, y: [Double], model: NLMEModel, p: PopulationParameters, omegaL: [Double], samples: Int,
    seed: UInt64, predictor: Predictor
  ) -> [Double] {
    let m = y.count
    let n = model.eta.count
    guard samples > 1, omegaL.count == n * n || n == 0 else { return [Double](repeating: .nan, count: m) }
    // Simulation k from its own addressed stream, so the second pass below repeats the first
    // without keeping samples × observations values.
    var f = [Double](repeating: 0, count: m)
    var v = f
    func simulate(_ k: Int) -> [Double]? {
      var rng = RandomStream(seed: seed, id: RandomStream.address(0x4E50_4445, UInt64(subject), UInt64(k)))
      let z = (0..<n).map { _ in rng.normal() }
      let eta = (0..<n).map { a in (0...a).reduce(0) { $0 + omegaL[a * n + $1] * z[$1] } }
      guard predictor.predict(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v) else { return nil }
      return (0..<m).map { f[$0] + v[$0].squareRoot() * rng.normal() }
    }
    // First pass: the mean and covariance of the simulations (Welford's updates).
    var count = 0.0
    var mean = [Double](repeating: 0, count: m)
    var cov = [Double](repeating: 0, count: m * m)
    for k in 0..<samples {
      guard let sim = simulate(k) else { continue }
      count += 1
      let before = zip(sim, mean).map(-)
      for j in 0..<m { mean[j] += before[j] / count }
      for a in 0..<m { for b in 0..<m { cov[a * m + b] += before[a] * (sim[b] - mean[b]) } }
    }
    guard count > 1 else { return [Double](repeating: .nan, count: m) }
    for i in cov.indices { cov[i] /= count - 1 }
    let l = cholesky(cov, m)
    guard let observed = forwardSolve(l, m, zip(y, mean).map(-)) else { return [Double](repeating: .nan, count: m) }
    // Second pass: where the decorrelated observation falls among the decorrelated simulations.
    var below = [Double](repeating: 0, count: m)
    for k in 0..<samples {
      guard let sim = simulate(k), let d = forwardSolve(l, m, zip(sim, mean).map(-)) else { continue }
      for j in 0..<m where d[j] < observed[j] { below[j] += 1 }
    }
    return below.map { b in
      let pde = min(max(b / count, 1 / (2 * count)), 1 - 1 / (2 * count))
      return Distributions.normalQuantile(pde)
    }
  }
}

/// L⁻¹·b for the lower-triangular L, nil when L is nil.
func forwardSolve(_ l: [Double]?, _ m: Int, _ b: [Double]) -> [Double]? {
  guard let l else { return nil }
  var x = b
  for i in 0..<m {
    for k in 0..<i { x[i] -= l[i * m + k] * x[k] }
    x[i] /= l[i * m + i]
  }
  return x
}
