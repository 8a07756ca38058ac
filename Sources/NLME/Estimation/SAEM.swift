import Parallel
import RealModule
import StatKit

/// Stochastic approximation EM (Kuhn & Lavielle 2005, Comput. Stat. Data Anal. 49:1020–1038;
/// the algorithm of Monolix and NONMEM's METHOD=SAEM):
/// - E step: each subject's ETAs move by Metropolis–Hastings from their conditional
///   distribution, with three kernels per iteration as in Monolix — proposals from the prior
///   N(0, Ω), random walks on all ETAs, and random walks on one ETA at a time; the walks' scales
///   adapt towards an acceptance rate of 0.4 from the acceptance counts of all subjects.
/// - M step: Ω from the stochastic average S ← S + γ(mean ηηᵀ − S) of its sufficient statistic
///   (block structure and FIX kept); THETA and Σ, which need not be mu-referenced, by a few
///   trust-region steps on the conditional −2 log-likelihood Σ_ij q(y_ij | η_i) at the current
///   samples, averaged as (θ, Σ) ← (θ, Σ) + γ((θ̂, Σ̂) − (θ, Σ)) on the optimiser's scale.
/// - Step sizes: γ = 1 for the `burnIn` iterations, then 1/k for the `iterations` after.
/// The likelihood is not a by-product: the fit evaluates it afterwards by importance sampling.
/// Every draw comes from a stream addressed by (seed, iteration, subject): the result does not
/// depend on the thread count.
public struct SAEM: Sendable {
  public var burnIn = 300
  public var iterations = 200
  public var seed: UInt64 = 1
  public var threads = 1

  public init() {}

  public struct Result: Sendable {
    public var parameters: PopulationParameters
    /// The conditional −2 log-likelihood (plus ηᵀΩ⁻¹η and log det Ω terms) at every iteration.
    public var history: [Double]
    public var etas: [[Double]]
  }

  public func run(_ problem: NLMEProblem, progress: (@Sendable (Int, Double) -> Void)? = nil) -> Result {
    let param = Parameterization(problem.stream)
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .focei)
    let subjects = problem.data.subjects
    let nEta = objective.nEta
    var x = param.start
    var p = param.parameters(x)
    var etas = [[Double]](repeating: [Double](repeating: 0, count: nEta), count: subjects.count)
    var statistic = p.omega
    var scales = (all: 1.0, single: 1.0)
    // The optimiser's coordinates of Ω (held fixed in the M step for THETA and Σ).
    let omegaCoordinates = param.omegaCoordinates
    var history: [Double] = []
    var hessian: [Double] = []
    let total = burnIn + iterations
    for k in 1...max(1, total) {
      let gamma = k <= burnIn ? 1 : 1 / Double(k - burnIn)
      // E step.
      let current = p
      let chains = etas
      let kernelScales = scales
      let seed = self.seed
      let moved = Parallel.map(subjects.count, threads: threads) { i -> (eta: [Double], accepted: [Int], proposed: [Int]) in
        Self.sample(
          subjects[i], objective: objective, p: current, start: chains[i], scales: kernelScales,
          rng: RandomStream(seed: seed, id: RandomStream.address(0x5341_454D, UInt64(k), UInt64(i))))
      }
      etas = moved.map(\.eta)
      var accepted = [0, 0]
      var proposed = [0, 0]
      for m in moved {
        for j in 0..<2 {
          accepted[j] += m.accepted[j]
          proposed[j] += m.proposed[j]
        }
      }
      if proposed[0] > 0 { scales.all *= 1 + 0.4 * (Double(accepted[0]) / Double(proposed[0]) - 0.4) }
      if proposed[1] > 0 { scales.single *= 1 + 0.4 * (Double(accepted[1]) / Double(proposed[1]) - 0.4) }
      // M step: Ω.
      var mean = [Double](repeating: 0, count: nEta * nEta)
      for e in etas { for a in 0..<nEta { for b in 0..<nEta { mean[a * nEta + b] += e[a] * e[b] / Double(subjects.count) } } }
      for i in statistic.indices { statistic[i] += gamma * (mean[i] - statistic[i]) }
      // THETA and Σ: a Robbins–Monro step on the conditional objective at the current
      // samples, x ← x − γ·H̄⁻¹∇q(x), with H̄ the stochastic average of its Hessian.
      let samples = etas
      let omega = p.omega
      let free = x.indices.filter { !omegaCoordinates.contains($0) }
      let center = x
      let values = Parallel.map(1 + 2 * free.count * free.count, threads: threads) { e -> Double in
        var y = center
        for (c, d) in Self.offsets(e, free.count) { y[free[c]] += d * Self.step(center[free[c]]) }
        var q = param.parameters(y)
        q.omega = omega
        let predictor = Predictor(model: objective.model)
        var sum = 0.0
        for (i, s) in subjects.enumerated() {
          guard let loc = objective.local(s, q, [], eta: samples[i], order: .value, predictor: predictor, prior: false) else {
            return .infinity
          }
          sum += loc.l
        }
        return sum
      }
      let (g, h) = Self.derivatives(values, x: free.map { x[$0] })
      if hessian.isEmpty { hessian = h } else { for i in h.indices { hessian[i] += gamma * (h[i] - hessian[i]) } }
      if g.allSatisfy(\.isFinite), let step = Self.newtonStep(hessian, g) {
        for (c, i) in free.enumerated() { x[i] = min(max(x[i] - gamma * step[c], param.lower[i]), param.upper[i]) }
      }
      history.append(values[0])
      progress?(k, values[0])
      p = param.parameters(x)
      p.omega = param.restrictedOmega(statistic, base: p.omega)
      if let back = param.x(p) { x = back }
    }
    return Result(parameters: p, history: history, etas: etas)
  }

  static func step(_ x: Double) -> Double { 1e-4 * max(1, abs(x)) }

  /// The points of the central-difference gradient and Hessian in m coordinates: evaluation
  /// e is 0 (the centre), 1…2m (±1 along each), then ±1 on pairs (four per pair).
  static func offsets(_ e: Int, _ m: Int) -> [(Int, Double)] {
    if e == 0 { return [] }
    if e <= 2 * m { return [((e - 1) / 2, e % 2 == 1 ? 1 : -1)] }
    var k = e - 2 * m - 1
    for a in 0..<m {
      for b in 0..<a {
        if k < 4 { return [(a, k < 2 ? 1 : -1), (b, k % 2 == 0 ? 1 : -1)] }
        k -= 4
      }
    }
    return []
  }

  /// Gradient and Hessian (row-major) from the values at ``offsets(_:_:)``.
  static func derivatives(_ v: [Double], x: [Double]) -> ([Double], [Double]) {
    let m = x.count
    let h = x.map(step)
    var g = [Double](repeating: 0, count: m)
    var hess = [Double](repeating: 0, count: m * m)
    for a in 0..<m {
      g[a] = (v[1 + 2 * a] - v[2 + 2 * a]) / (2 * h[a])
      hess[a * m + a] = (v[1 + 2 * a] - 2 * v[0] + v[2 + 2 * a]) / (h[a] * h[a])
    }
    var e = 2 * m + 1
    for a in 0..<m {
      for b in 0..<a {
        let value = (v[e] - v[e + 1] - v[e + 2] + v[e + 3]) / (4 * h[a] * h[b])
        hess[a * m + b] = value
        hess[b * m + a] = value
        e += 4
      }
    }
    return (g, hess)
  }

  /// H⁻¹g, with H shifted by a multiple of the identity until positive definite, each
  /// coordinate of the step at most 1 in size.
  static func newtonStep(_ h: [Double], _ g: [Double]) -> [Double]? {
    let m = g.count
    var shift = 0.0
    let scale = (0..<m).map { abs(h[$0 * m + $0]) }.max() ?? 1
    for _ in 0..<30 {
      var a = h
      for i in 0..<m { a[i * m + i] += shift }
      if let l = cholesky(a, m) {
        let s = choleskySolve(l, m, g)
        let largest = s.map(abs).max() ?? 0
        return largest > 1 ? s.map { $0 / largest } : s
      }
      shift = shift == 0 ? 1e-8 * max(scale, 1e-12) : shift * 10
    }
    return nil
  }

  /// One E step for one subject: 2 prior proposals, 2 joint random walks, 1 sweep of
  /// single-ETA random walks. Returns the new ETAs and the walks' acceptance counts.
  static func sample(
    _ s: Dataset.Subject, objective: FirstOrderObjective, p: PopulationParameters, start: [Double],
    scales: (all: Double, single: Double), rng: RandomStream
  ) -> (eta: [Double], accepted: [Int], proposed: [Int]) {
    var rng = rng
    let n = objective.nEta
    let predictor = Predictor(model: objective.model)
    guard let omegaL = cholesky(p.omega, n), let omegaInverse = inverseSPD(p.omega, n) else { return (start, [0, 0], [0, 0]) }
    func data(_ eta: [Double]) -> Double {
      objective.local(s, p, omegaInverse, eta: eta, order: .value, predictor: predictor, prior: false)?.l ?? .infinity
    }
    func prior(_ eta: [Double]) -> Double {
      var v = 0.0
      for a in 0..<n { for b in 0..<n { v += eta[a] * omegaInverse[a * n + b] * eta[b] } }
      return v
    }
    var eta = start
    var dataTerm = data(eta)
    var accepted = [0, 0]
    var proposed = [0, 0]
    func draw() -> [Double] {
      let z = (0..<n).map { _ in rng.normal() }
      return (0..<n).map { a in (0...a).reduce(0) { $0 + omegaL[a * n + $1] * z[$1] } }
    }
    // Prior proposals: the acceptance ratio is the likelihood ratio.
    for _ in 0..<2 {
      let candidate = draw()
      let d = data(candidate)
      if Double.log(rng.uniform()) < -0.5 * (d - dataTerm) {
        eta = candidate
        dataTerm = d
      }
    }
    // Random walks (kernel 0 on all ETAs, kernel 1 on each): Metropolis on the posterior.
    func walk(to candidate: [Double], kernel: Int) {
      let d = data(candidate)
      proposed[kernel] += 1
      if Double.log(rng.uniform()) < -0.5 * (d + prior(candidate) - dataTerm - prior(eta)) {
        eta = candidate
        dataTerm = d
        accepted[kernel] += 1
      }
    }
    for _ in 0..<2 {
      let step = draw()
      walk(to: (0..<n).map { eta[$0] + scales.all * step[$0] }, kernel: 0)
    }
    for c in 0..<n {
      var candidate = eta
      candidate[c] += scales.single * p.omega[c * n + c].squareRoot() * rng.normal()
      walk(to: candidate, kernel: 1)
    }
    return (eta, accepted, proposed)
  }
}

extension Parameterization {
  /// The optimiser's coordinates that move Ω.
  var omegaCoordinates: Set<Int> {
    var set = Set<Int>()
    var i = thetaFixed.filter { !$0 }.count
    for b in blocks {
      let size = b.size * (b.size + 1) / 2
      if !b.sigma { for c in i..<(i + size) { set.insert(c) } }
      i += size
    }
    return set
  }

  /// Ω with its estimated blocks taken from `statistic` (a full second-moment matrix) and the
  /// rest (fixed blocks, zeros between blocks) from `base`.
  func restrictedOmega(_ statistic: [Double], base: [Double]) -> [Double] {
    var omega = base
    let n = nEta
    for b in blocks where !b.sigma {
      for target in [b.offset] + b.copies {
        for r in 0..<b.size {
          for c in 0..<b.size where b.full || r == c {
            omega[(target + r) * n + target + c] = statistic[(b.offset + r) * n + b.offset + c]
          }
        }
      }
    }
    return omega
  }
}
