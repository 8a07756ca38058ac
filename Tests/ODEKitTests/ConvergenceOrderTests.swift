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
  /// Observed global order at the end point: DP5 ≈ 5, Rodas4 ≈ 4 (tolerance ±0.3, as
  /// DiffEqDevTools' 𝒪est checks).
  @Test(arguments: [(ODEMethod.dp5, 5.0), (.rodas4, 4.0)])
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

  /// Dense output between steps: DP5's interpolant is of order 4 (local 5), Rodas4's of order 3.
  @Test(arguments: [(ODEMethod.dp5, 4.0), (.rodas4, 3.0)])
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

  /// The DP5 tableau satisfies the order conditions up to order 5 (b) and 4 (b̂).
  @Test func dormandPrinceOrderConditions() {
    let (a, b, bHat, c) = DormandPrince5.tableau
    func A(_ i: Int, _ j: Int) -> Double { j < a[i].count ? a[i][j] : 0 }
    let s = 7
    for i in 0..<s { #expect(abs((0..<s).map { A(i, $0) }.reduce(0, +) - c[i]) < 1e-14, "row sum \(i)") }
    func conditions(_ w: [Double]) -> [Double] {
      let sum = { (f: (Int) -> Double) in (0..<s).reduce(0.0) { $0 + w[$1] * f($1) } }
      let ac = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A(i, $1) * c[$1] } }
      let ac2 = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A(i, $1) * c[$1] * c[$1] } }
      let aac = (0..<s).map { i in (0..<s).reduce(0.0) { $0 + A(i, $1) * ac[$1] } }
      return [
        sum { _ in 1 } - 1,
        sum { c[$0] } - 1.0 / 2,
        sum { c[$0] * c[$0] } - 1.0 / 3, sum { ac[$0] } - 1.0 / 6,
        sum { pow(c[$0], 3) } - 1.0 / 4, sum { c[$0] * ac[$0] } - 1.0 / 8, sum { ac2[$0] } - 1.0 / 12,
        sum { aac[$0] } - 1.0 / 24,
        sum { pow(c[$0], 4) } - 1.0 / 5, sum { c[$0] * c[$0] * ac[$0] } - 1.0 / 10,
        sum { ac[$0] * ac[$0] } - 1.0 / 20, sum { c[$0] * ac2[$0] } - 1.0 / 15,
        sum { c[$0] * aac[$0] } - 1.0 / 30,
      ]
    }
    for (k, r) in conditions(b).enumerated() { #expect(abs(r) < 1e-14, "b condition \(k): \(r)") }
    for (k, r) in conditions(bHat).prefix(8).enumerated() { #expect(abs(r) < 1e-14, "b̂ condition \(k): \(r)") }
    // b̂ is a different (4th-order) method: some 5th-order condition must fail.
    #expect(conditions(bHat).suffix(5).contains { abs($0) > 1e-6 })
  }
}
