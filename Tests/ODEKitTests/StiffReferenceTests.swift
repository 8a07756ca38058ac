import Foundation
import ODEKit
import Testing

/// Stiff problems against reference solutions from an independent simulator (scipy's
/// Radau IIA at rtol 1e-12, cross-checked with BDF; see Fixtures/README.md).
struct StiffReferenceTests {
  @Test(arguments: [ODEMethod.rodas4, .rodas4p2, .auto, .bdf])
  func rober(method: ODEMethod) throws {
    let ref = try loadFixture("rober")
    let ts = ref.rows.map { $0[0] }
    let sol = solve(
      ODEProblem(system: roberSystem, u0: [1, 0, 0], tspan: (0, ts.last!)), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-14, 1e-20, 1e-14], saveAt: ts))
    #expect(sol.returnCode == .success)
    #expect(sol.t.count == ts.count)
    // y2 is ~1e-5 at most: relative error per component, floor 1e-16. The BDF controls the
    // error of the solution it carries on (the one-step methods carry their higher-order
    // solution), so it is held to the tolerances it was given: relative error against
    // max(|y_j|, atol_j/rtol), i.e. y1 and y3 below 1e-4 and y2 below 1e-10 are judged by
    // atol (y3(1e-5) ≈ 1.6e-11).
    let err = maxRelativeError(sol, ref.rows, floors: method == .bdf ? [1e-4, 1e-10, 1e-4] : [1e-16, 1e-16, 1e-16])
    #expect(err < 1e-6, "ROBER \(method): max relative error \(err)")
    // Mass conservation y1 + y2 + y3 = 1.
    for i in sol.t.indices {
      let mass: Double = sol[i, 0] + sol[i, 1] + sol[i, 2]
      #expect(abs(mass - 1) < 1e-9)
    }
  }

  @Test(arguments: [ODEMethod.rodas4, .rodas4p2, .auto, .bdf])
  func vanDerPolMu1000(method: ODEMethod) throws {
    let ref = try loadFixture("vanderpol_mu1000")
    let ts = ref.rows.map { $0[0] }
    let sol = solve(
      ODEProblem(system: vanDerPol(mu: 1000), u0: [2, 0], tspan: (0, ts.last!)),
      method: method, options: SolverOptions(rtol: 1e-10, atol: [1e-10], saveAt: ts))
    #expect(sol.returnCode == .success)
    // y2 passes through 0; relative error with a floor of 1e-3 on |y|.
    let err = maxRelativeError(sol, ref.rows, floor: 1e-3)
    #expect(err < 1e-5, "Van der Pol \(method): max relative error \(err)")
    if method == .auto { #expect(sol.stats.stiffSteps > 0, "auto must detect stiffness on Van der Pol μ = 1000") }
  }

  @Test(arguments: [ODEMethod.rodas4, .rodas4p2, .auto, .bdf])
  func hires(method: ODEMethod) throws {
    let ref = try loadFixture("hires")
    let ts = ref.rows.map { $0[0] }
    var u0 = [Double](repeating: 0, count: 8)
    u0[0] = 1
    u0[7] = 0.0057
    let sol = solve(
      ODEProblem(system: hiresSystem, u0: u0, tspan: (0, ts.last!)), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-14], saveAt: ts))
    #expect(sol.returnCode == .success)
    let err = maxRelativeError(sol, ref.rows, floor: 1e-10)
    #expect(err < 1e-6, "HIRES \(method): max relative error \(err)")
  }

  @Test(arguments: [ODEMethod.rodas4, .rodas4p2, .auto, .bdf])
  func orego(method: ODEMethod) throws {
    let ref = try loadFixture("orego")
    let ts = ref.rows.map { $0[0] }
    let sol = solve(
      ODEProblem(system: oregoSystem, u0: [1, 2, 3], tspan: (0, ts.last!)), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-10], saveAt: ts))
    #expect(sol.returnCode == .success)
    // The relaxation oscillation turns sharply: relative error with a floor of 1e-3 on |y|.
    let err = maxRelativeError(sol, ref.rows, floor: 1e-3)
    #expect(err < 1e-5, "OREGO \(method): max relative error \(err)")
  }

  @Test(arguments: [ODEMethod.rodas4, .rodas4p2, .auto, .bdf])
  func pollution(method: ODEMethod) throws {
    let ref = try loadFixture("pollution")
    let ts = ref.rows.map { $0[0] }
    var u0 = [Double](repeating: 0, count: 20)
    for (i, v) in [(1, 0.2), (3, 0.04), (6, 0.1), (7, 0.3), (8, 0.01), (16, 0.007)] { u0[i] = v }
    let sol = solve(
      ODEProblem(system: polluSystem, u0: u0, tspan: (0, ts.last!)), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-16], saveAt: ts))
    #expect(sol.returnCode == .success)
    // y16 is about 4e-18: relative error with a floor of 1e-12.
    let err = maxRelativeError(sol, ref.rows, floor: 1e-12)
    #expect(err < 1e-6, "POLLU \(method): max relative error \(err)")
  }

  /// The BDF keeps its Jacobian across steps: on ROBER it needs far fewer Jacobians and
  /// factorisations than steps, and fewer RHS evaluations than Rodas4 at the same tolerance.
  @Test func bdfReusesItsJacobian() {
    let p = ODEProblem(system: roberSystem, u0: [1, 0, 0], tspan: (0, 1e5))
    let opts = SolverOptions(rtol: 1e-6, atol: [1e-8, 1e-14, 1e-8], saveAt: [1e5])
    let bdf = solve(p, method: .bdf, options: opts), rodas = solve(p, method: .rodas4, options: opts)
    #expect(bdf.returnCode == .success && rodas.returnCode == .success)
    #expect(bdf.stats.jacobianEvaluations * 5 < bdf.stats.acceptedSteps, "\(bdf.stats)")
    #expect(bdf.stats.luDecompositions * 2 < bdf.stats.acceptedSteps, "\(bdf.stats)")
    #expect(bdf.stats.rhsEvaluations < rodas.stats.rhsEvaluations, "BDF \(bdf.stats), Rodas4 \(rodas.stats)")
  }

  /// A nonstiff problem stays on DP5 under `.auto`; a stiff one costs far fewer RHS
  /// evaluations under `.auto` than under DP5 alone.
  @Test func autoSwitchingPaysOff() {
    let nonstiff = solve(ODEProblem(system: vanDerPol(mu: 1), u0: [2, 0], tspan: (0, 20)), method: .auto)
    #expect(nonstiff.stats.stiffSteps == 0)
    let opts = SolverOptions(rtol: 1e-6, atol: [1e-8], saveAt: [1e5])
    let auto = solve(ODEProblem(system: roberSystem, u0: [1, 0, 0], tspan: (0, 1e5)), method: .auto, options: opts)
    let explicit = solve(
      ODEProblem(system: roberSystem, u0: [1, 0, 0], tspan: (0, 1e5)), method: .dp5,
      options: SolverOptions(rtol: 1e-6, atol: [1e-8], saveAt: [1e5], maxSteps: 200_000))
    #expect(auto.returnCode == .success)
    #expect(auto.stats.methodSwitches >= 1)
    #expect(auto.stats.rhsEvaluations * 10 < explicit.stats.rhsEvaluations || explicit.returnCode == .maxSteps)
    // Van der Pol μ = 1000 over two periods: DP5 alone needs over a million steps.
    let vdp = ODEProblem(system: vanDerPol(mu: 1000), u0: [2, 0], tspan: (0, 3000))
    let vdpAuto = solve(vdp, method: .auto, options: SolverOptions(rtol: 1e-6, atol: [1e-6], saveAt: [3000]))
    let vdpDP5 = solve(vdp, method: .dp5, options: SolverOptions(rtol: 1e-6, atol: [1e-6], saveAt: [3000], maxSteps: 100_000))
    #expect(vdpAuto.returnCode == .success && vdpAuto.stats.steps < 5_000)
    #expect(vdpDP5.returnCode == .maxSteps)
  }
}

/// The Prothero–Robinson problem `u' = λ(u − sin t) + cos t`, `u(0) = 0`, solution `sin t`:
/// with `|hλ|` large the stiff component follows its moving quasi-steady state, the situation
/// Rodas4P2 was built for (Steinebach 2020) and where Rodas4's order falls.
struct ProtheroRobinsonTests {
  static func problem(lambda: Double) -> ODEProblem<ODEFunction> {
    ODEProblem(
      system: ODEFunction(dimension: 1, jacobian: { _, _, J in J[0] = lambda }) { t, u, du in
        du[0] = lambda * (u[0] - sin(t)) + cos(t)
      }, u0: [0], tspan: (0, 2))
  }

  /// Fixed steps with hλ from −2e4 to −2.5e3 (λ = −1e5): Rodas4P2's error falls with order 3,
  /// Rodas4's with an order at least half a unit lower (measured: 3.0 and 0.9), and Rodas4P2 is
  /// the more accurate at every step size.
  @Test func fixedStepOrder() {
    let ns = [10.0, 20, 40, 80]
    func errors(_ method: ODEMethod) -> [Double] {
      ns.map { n in
        let sol = solve(Self.problem(lambda: -1e5), method: method, options: fixedStep(2 / n, saveAt: [2]))
        return abs(sol[0, 0] - sin(2))
      }
    }
    let e4 = errors(.rodas4), p2 = errors(.rodas4p2)
    let order4 = observedOrder(steps: ns.map { 2 / $0 }, errors: e4)
    let orderP2 = observedOrder(steps: ns.map { 2 / $0 }, errors: p2)
    #expect(orderP2 > 2.7, "Rodas4P2 on Prothero–Robinson: order \(orderP2), errors \(p2)")
    #expect(order4 < orderP2 - 0.5, "Rodas4 order \(order4) (errors \(e4)), Rodas4P2 order \(orderP2) (errors \(p2))")
    for (a, b) in zip(e4, p2) { #expect(b < a, "Rodas4 errors \(e4), Rodas4P2 errors \(p2)") }
  }

  /// Adaptive steps at rtol 1e-6: both meet the tolerance against sin t at the end; Rodas4P2
  /// needs fewer steps (measured: 8 steps and an error of 3e-9, Rodas4 13 steps and 1.8e-7).
  @Test func adaptiveSteps() {
    let opts = SolverOptions(rtol: 1e-6, atol: [1e-10], saveAt: [2])
    let a = solve(Self.problem(lambda: -1e5), method: .rodas4, options: opts)
    let b = solve(Self.problem(lambda: -1e5), method: .rodas4p2, options: opts)
    #expect(a.returnCode == .success && b.returnCode == .success)
    for sol in [a, b] {
      let err = abs(sol[sol.t.count - 1, 0] - sin(2))
      #expect(err < 1e-6, "\(sol.methodDescription): error \(err) at t = 2, \(sol.stats)")
    }
    #expect(b.stats.acceptedSteps < a.stats.acceptedSteps, "Rodas4 \(a.stats), Rodas4P2 \(b.stats)")
  }
}
