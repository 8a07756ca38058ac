import Foundation

/// Projected limited-memory BFGS for box constraints: the two-loop recursion on the free
/// variables (Nocedal 1980), a projected backtracking line search with the Armijo
/// condition along `P(x + αd)` (Bertsekas 1982). A simpler relative of L-BFGS-B (Byrd, Lu,
/// Nocedal & Zhu 1995) without its generalised Cauchy point.
public struct LBFGSBOptimizer: Sendable {
  public var rules = StoppingRules()
  public var memory = 10
  public init() {}

  public func minimize(_ problem: BoundedProblem, from start: [Double]) -> OptimizerResult {
    let d = problem.dimension, lo = problem.lower, hi = problem.upper
    let began = Date()
    var x = clip(start, lo, hi)
    var evaluations = 1, gradients = 1
    let first = problem.evaluate(x, true)
    guard first.f.isFinite, var g = first.gradient else {
      return .unevaluableStart(x, first.f)
    }
    var f = first.f
    var S: [[Double]] = [], Y: [[Double]] = []
    var reason = "maximum iterations reached", converged = false
    var iteration = 0
    while iteration < rules.maxIterations {
      iteration += 1
      let pg = projectedGradient(x, g, lo, hi)
      if let stop = rules.stop(began: began, projectedGradient: pg) {
        (reason, converged) = stop
        break
      }
      let free = (0..<d).map { pg[$0] != 0 || (x[$0] > lo[$0] && x[$0] < hi[$0]) }
      // Two-loop recursion on the free variables.
      var q = (0..<d).map { free[$0] ? g[$0] : 0 }
      var alphas: [Double] = []
      for k in stride(from: S.count - 1, through: 0, by: -1) {
        let rho = 1 / dot(Y[k], S[k])
        let a = rho * dot(S[k], q)
        alphas.append(a)
        for i in 0..<d { q[i] -= a * Y[k][i] }
      }
      if let s = S.last, let y = Y.last {
        let gamma = dot(s, y) / dot(y, y)
        q = q.map { $0 * gamma }
      } else {
        let n = norm(q)
        q = q.map { $0 / max(n, 1) }
      }
      for k in 0..<S.count {
        let rho = 1 / dot(Y[k], S[k])
        let b = rho * dot(Y[k], q)
        let a = alphas[S.count - 1 - k]
        for i in 0..<d { q[i] += (a - b) * S[k][i] }
      }
      var direction = (0..<d).map { free[$0] ? -q[$0] : 0 }
      if dot(direction, g) >= 0 {
        direction = pg.map { -$0 }
        S.removeAll()
        Y.removeAll()
      }
      // Projected backtracking.
      var step = 1.0
      var accepted = false
      var xNew = x, fNew = f, gNew = g
      for _ in 0..<40 {
        xNew = clip((0..<d).map { x[$0] + step * direction[$0] }, lo, hi)
        let r = problem.evaluate(xNew, true)
        evaluations += 1
        gradients += 1
        let decrease = dot(g, zip(xNew, x).map(-))
        if r.f.isFinite, let gr = r.gradient, r.f <= f + 1e-4 * decrease {
          fNew = r.f
          gNew = gr
          accepted = true
          break
        }
        step *= 0.5
      }
      guard accepted else {
        reason = "line search failed"
        break
      }
      let s = zip(xNew, x).map(-), y = zip(gNew, g).map(-)
      if dot(s, y) > 1e-10 * norm(s) * norm(y) {
        S.append(s)
        Y.append(y)
        if S.count > memory {
          S.removeFirst()
          Y.removeFirst()
        }
      }
      let change = f - fNew
      x = xNew
      f = fNew
      g = gNew
      if change < rules.fatol || change < rules.frtol * abs(f) {
        reason = "objective change below tolerance"
        converged = true
        break
      }
    }
    return OptimizerResult(
      x: x, f: f, iterations: iteration, functionEvaluations: evaluations, gradientEvaluations: gradients,
      exitReason: reason, converged: converged)
  }
}
