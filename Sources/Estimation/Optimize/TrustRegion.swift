import Foundation

/// A trust-region method for bound-constrained problems in the spirit of fides (Fröhlich &
/// Sorger 2022, PLoS Comput. Biol. 18:e1010322): Coleman–Li affine scaling, the subproblem
/// solved exactly, reflective steps at the bounds (``ScaledStepCandidates``), fides' ratio,
/// radius update and convergence test, and the Fisher information (Gauss–Newton) as Hessian model, replaced by BFGS once the
/// trust region stops changing (fides' HybridFixed).
public struct TrustRegionOptimizer: Sendable {
  public var rules = StoppingRules()
  /// Iterations in a row without a change of the trust-region radius after which the BFGS
  /// approximation (started from the identity, as pyPESTO starts fides', and updated at
  /// every accepted step) replaces the Fisher information (fides' HybridFixed, default 20).
  public var switchAfter = 20
  public var hessian = HessianApproximation.hybrid
  public init() {}

  public func minimize(_ problem: BoundedProblem, from start: [Double]) -> OptimizerResult {
    let d = problem.dimension, lo = problem.lower, hi = problem.upper
    let began = Date()
    var x = clip(start, lo, hi)
    var evaluations = 0, gradients = 0
    func eval(_ x: [Double], _ derivatives: Bool) -> (f: Double, gradient: [Double]?, fim: [Double]?) {
      evaluations += 1
      if derivatives { gradients += 1 }
      return problem.evaluate(x, derivatives)
    }
    var current = eval(x, true)
    guard current.f.isFinite, var g = current.gradient else {
      return .unevaluableStart(x, current.f)
    }
    var f = current.f
    var B = current.fim ?? Self.identity(d)
    var useBFGS = current.fim == nil || hessian == .bfgs
    if hessian == .bfgs, let fim = current.fim { B = fim }
    var radius = 1.0
    var unchanged = 0
    var bfgs = hessian == .hybrid ? Self.identity(d) : B
    let switchAfter = hessian == .hybrid ? self.switchAfter : hessian == .fim ? Int.max : 0
    var reason = "maximum iterations reached", converged = false
    var iteration = 0
    while iteration < rules.maxIterations {
      iteration += 1
      let pg = projectedGradient(x, g, lo, hi)
      if let stop = rules.stop(began: began, projectedGradient: pg) {
        (reason, converged) = stop
        break
      }
      // Coleman–Li affine scaling (Coleman & Li 1996, SIAM J. Optim. 6:418; as fides):
      // v is the distance to the bound the gradient points to, D = √|v|, and the scaled
      // Hessian gains diag(|g|) for those bounds. Variables approaching a bound take ever
      // smaller steps toward it; iterates stay strictly inside the box.
      var D = Array(repeating: 1.0, count: d), C = Array(repeating: 0.0, count: d)
      for i in 0..<d {
        if g[i] < 0 && hi[i].isFinite {
          D[i] = max(hi[i] - x[i], 0).squareRoot()
          C[i] = -g[i]
        } else if g[i] > 0 && lo[i].isFinite {
          D[i] = max(x[i] - lo[i], 0).squareRoot()
          C[i] = g[i]
        }
      }
      let free = (0..<d).filter { D[$0] > 0 }
      let gh = free.map { D[$0] * g[$0] }
      var Bh = Array(repeating: 0.0, count: free.count * free.count)
      for (a, i) in free.enumerated() {
        for (b, j) in free.enumerated() { Bh[a * free.count + b] = D[i] * B[i * d + j] * D[j] }
        Bh[a * free.count + a] += C[i]
      }
      // θ: how close to a bound a step may go (fides: max(0.95, 1 − ‖v·∇f‖∞), v the
      // distance to the bound the gradient points at, 1 where there is none).
      var vg = 0.0
      for i in 0..<d { vg = max(vg, abs((C[i] > 0 ? D[i] * D[i] : 1) * g[i])) }
      let steps = ScaledStepCandidates(
        x: x, lower: lo, upper: hi, D: D, free: free, H: Bh, g: gh, radius: radius, theta: max(0.95, 1 - vg))
      let sh = steps.best(trustRegionStep: trustRegionStep(gh, Bh, radius: radius))
      let s = steps.unscaled(sh)
      let predicted = -steps.model(sh), stepNorm = norm(sh)
      if stepNorm == 0 || predicted <= 0 {
        if radius < 1e-12 {
          reason = "trust region collapsed"
          break
        }
        radius *= 0.25
        continue
      }
      let xNew = clip(zip(x, s).map(+), lo, hi)
      let trial = eval(xNew, true)
      // The decrease the model's scaling term ½ŝᵀCŝ does not account for is not credited
      // (fides' ratio).
      var augment = 0.0
      for (a, i) in free.enumerated() { augment += 0.5 * C[i] * sh[a] * sh[a] }
      let rho = trial.f.isFinite ? (f - trial.f - augment) / predicted : -1
      let radiusUsed = radius
      if rho <= 0.25 {
        radius = min(0.25 * radius, 0.25 * stepNorm)
      } else if rho >= 0.75 && stepNorm >= 0.9 * radius {
        radius = min(2 * radius, 1e3)
      }
      unchanged = radius == radiusUsed ? unchanged + 1 : 0
      if rho > 0, let gNew = trial.gradient {
        let change = f - trial.f
        // BFGS is tracked from the start (from the identity with `hybrid`) and takes over
        // once the radius has not changed for `switchAfter` iterations (fides' HybridFixed).
        let y = zip(gNew, g).map(-), Bs = multiply(bfgs, s)
        let sy = dot(s, y), sBs = dot(s, Bs)
        if sy > 1e-12 * norm(s) * norm(y) && sBs > 0 {
          for i in 0..<d { for j in 0..<d { bfgs[i * d + j] += y[i] * y[j] / sy - Bs[i] * Bs[j] / sBs } }
        }
        if !useBFGS && unchanged >= switchAfter { useBFGS = true }
        if useBFGS { B = bfgs } else if let fim = trial.fim { B = fim }
        x = xNew
        f = trial.f
        g = gNew
        current = trial
        // Converged (as fides): a step the model predicted well that changed the objective
        // by less than fatol + frtol·|f|.
        if rho > 0.25 && change < rules.fatol + rules.frtol * abs(f) {
          reason = "objective change below tolerance"
          converged = true
          break
        }
      }
      if radius < 1e-12 {
        reason = "trust region collapsed"
        break
      }
    }
    return OptimizerResult(
      x: x, f: f, iterations: iteration, functionEvaluations: evaluations, gradientEvaluations: gradients,
      exitReason: reason, converged: converged)
  }

  static func identity(_ d: Int) -> [Double] {
    var I = Array(repeating: 0.0, count: d * d)
    for i in 0..<d { I[i * d + i] = 1 }
    return I
  }
}
