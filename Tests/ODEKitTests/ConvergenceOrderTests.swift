import Foundation
import ODEKit
import Testing

/// y' = y·cos t, y(0) = 1: y = exp(sin t). Non-autonomous, so Rodas4 uses ∂f/∂t.
let expSin = ODEFunction(dimension: 1, jacobian: { t, _, J in J[0] = cos(t) }) { t, y, dy in
  dy[0] = y[0] * cos(t)
}
/// Same problem without an analytic Jacobian (finite differences).
let expSinFD = ODEFunction(dimension: 1) { t, y, dy in dy[0] = y[0] * cos(t) }

/// A linear 2×2 rotation-decay system: u = e^{−t}(cos 2t, −sin 2t) from (1, 0).
let spiral = ODEFunction(dimension: 2, isAutonomous: true) { _, y, dy in
  dy[0] = -y[0] + 2 * y[1]
  dy[1] = -2 * y[0] - y[1]
}

struct ConvergenceOrderTests {
  /// Observed global order at the end point: DP5 ≈ 5, Rodas4 and Rodas4P2 ≈ 4 (tolerance ±0.3,
  /// as DiffEqDevTools' 𝒪est checks).
  @Test(arguments: [(ODEMethod.dp5, 5.0), (.rodas4, 4.0), (.rodas4p2, 4.0)])
  func endPointOrder(method: ODEMethod, order: Double) {
    for system in [expSin, expSinFD] {
      // T = 1: on [0, 2] the coarse steps are pre-asymptotic (the error changes sign).
      let T = 1.0
      let ns = [10.0, 20, 40, 80]
      let errors = ns.map { n -> Double in
        let sol = solve(
          ODEProblem(system: system, u0: [1], tspan: (0, T)), method: method,
          options: fixedStep(T / n, saveAt: [T]))
        return abs(sol[0, 0] - exp(sin(T)))
      }
      let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
      #expect(abs(p - order) < 0.3, "\(method): observed order \(p), errors \(errors)")
    }
    let T = 3.0
    let ns = [10.0, 20, 40, 80]
    let errors = ns.map { n -> Double in
      let sol = solve(
        ODEProblem(system: spiral, u0: [1, 0], tspan: (0, T)), method: method,
        options: fixedStep(T / n, saveAt: [T]))
      return hypot(sol[0, 0] - exp(-T) * cos(2 * T), sol[0, 1] + exp(-T) * sin(2 * T))
    }
    let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
    #expect(abs(p - order) < 0.3, "\(method) on the spiral: observed order \(p)")
  }

  /// Dense output between steps: DP5's interpolant is of order 4 (local 5), Rodas4's and
  /// Rodas4P2's of order 3.
  @Test(arguments: [(ODEMethod.dp5, 4.0), (.rodas4, 3.0), (.rodas4p2, 3.0)])
  func denseOutputOrder(method: ODEMethod, order: Double) {
    let T = 2.0
    let ns = [8.0, 16, 32, 64]
    let errors = ns.map { n -> Double in
      let h = T / n
      // Points at 1/3 of each step, never on a step boundary.
      let ts = (0..<Int(n)).map { (Double($0) + 1.0 / 3) * h }
      let sol = solve(
        ODEProblem(system: expSin, u0: [1], tspan: (0, T)), method: method,
        options: fixedStep(h, saveAt: ts))
      return zip(sol.t, sol.component(0)).map { abs($1 - exp(sin($0))) }.max()!
    }
    let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
    #expect(p > order - 0.3, "\(method) dense output: observed order \(p), errors \(errors)")
  }

  /// The BDF limited to order 1 converges with order 1 at fixed steps.
  @Test func bdfOrderOne() {
    let T = 1.0
    let ns = [20.0, 40, 80, 160]
    let errors = ns.map { n -> Double in
      var o = fixedStep(T / n, saveAt: [T])
      o.maxOrder = 1
      let sol = solve(ODEProblem(system: expSin, u0: [1], tspan: (0, T)), method: .bdf, options: o)
      return abs(sol[0, 0] - exp(sin(T)))
    }
    let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
    #expect(abs(p - 1) < 0.15, "BDF order 1: observed order \(p), errors \(errors)")
  }

  /// The variable-order BDF runs at high order on a smooth problem: its step count grows like
  /// rtol^(−1/(q+1)) with an effective order q ≥ 3 (q = 1 would give a slope of 1/2), and
  /// limiting it to order 2 costs more steps at a tight tolerance.
  @Test func bdfUsesHighOrders() {
    let rtols = [1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
    func steps(_ rtol: Double, maxOrder: Int = 5) -> Double {
      var o = SolverOptions(rtol: rtol, atol: [rtol * 1e-3], saveAt: [10])
      o.maxOrder = maxOrder
      let sol = solve(ODEProblem(system: expSin, u0: [1], tspan: (0, 10)), method: .bdf, options: o)
      #expect(sol.returnCode == .success)
      return Double(sol.stats.acceptedSteps)
    }
    let counts = rtols.map { steps($0) }
    let slope = -observedOrder(steps: rtols, errors: counts)
    #expect(slope > 0 && slope < 0.25, "steps \(counts), slope \(slope)")
    #expect(steps(1e-10, maxOrder: 2) > 3 * counts.last!)
  }

  /// Adaptive runs meet the tolerance they were given (within a factor for global growth).
  @Test(arguments: ODEMethod.allCases)
  func toleranceProportionality(method: ODEMethod) {
    var last = Double.infinity
    for rtol in [1e-4, 1e-6, 1e-8] {
      let sol = solve(
        ODEProblem(system: expSin, u0: [1], tspan: (0, 10)), method: method,
        options: SolverOptions(rtol: rtol, atol: [rtol * 1e-2], saveAt: [2, 5, 10]))
      let err = zip(sol.t, sol.component(0)).map { abs($1 - exp(sin($0))) / exp(sin($0)) }.max()!
      #expect(sol.returnCode == .success)
      #expect(err < 50 * rtol, "\(method) rtol \(rtol): error \(err)")
      #expect(err < last)
      last = err
    }
  }

  /// DP5's two weight vectors against every order condition, from the rooted trees of
  /// ``DormandPrince853Tests``: b meets all 17 up to order 5; b̂ all 8 up to order 4 but not
  /// the 9 of order 5, since it is the embedded 4th-order method.
  @Test func dormandPrinceOrderConditions() {
    let (a, b, bHat, c) = DormandPrince5.tableau
    let s = 7
    let rows = (0..<s).map { i in (0..<s).map { $0 < a[i].count ? a[i][$0] : 0 } }
    for i in 0..<s { #expect(abs(rows[i].reduce(0, +) - c[i]) < 1e-14, "row sum \(i)") }
    let trees = DormandPrince853Tests.trees(upTo: 5)
    func residuals(_ w: [Double], order: Int) -> [Double] {
      trees[order].map { t in zip(w, DormandPrince853Tests.weights(t, rows)).reduce(0.0) { $0 + $1.0 * $1.1 } - 1 / t.density }
    }
    #expect(trees.map(\.count) == [0, 1, 1, 2, 4, 9])
    for order in 1...5 {
      for (k, r) in residuals(b, order: order).enumerated() { #expect(abs(r) < 1e-13, "b, order \(order), tree \(k): \(r)") }
    }
    for order in 1...4 {
      for (k, r) in residuals(bHat, order: order).enumerated() { #expect(abs(r) < 1e-13, "b̂, order \(order), tree \(k): \(r)") }
    }
    #expect(residuals(bHat, order: 5).contains { abs($0) > 1e-6 })
  }
}
