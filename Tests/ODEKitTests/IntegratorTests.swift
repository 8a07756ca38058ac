import Foundation
import ODEKit
import Testing

struct IntegratorTests {
  /// A state that is exactly zero and decoupled from the others stays exactly zero under
  /// Rodas4, even when a large coupled state would win partial pivoting in unscaled
  /// variables (the linear solves run in error-weighted variables).
  @Test func zeroStateStaysZeroUnderRodas() {
    let sys = ODEFunction(dimension: 2, isAutonomous: true) { _, u, du in
      du[0] = -0.1 * u[0] - 1e3 * u[1]
      du[1] = -u[1]
    }
    let sol = solve(
      ODEProblem(system: sys, u0: [1e10, 0], tspan: (0, 50)), method: .rodas4,
      options: SolverOptions(rtol: 1e-6, atol: [1e-3], saveAt: [1, 10, 50]))
    #expect(sol.component(1) == [0, 0, 0])
    #expect(abs(sol[2, 0] - 1e10 * exp(-5.0)) < 1e-5 * 1e10 * exp(-5.0))
  }

  /// The same problem gives bit-identical results on repeated runs.
  @Test(arguments: ODEMethod.allCases)
  func deterministic(method: ODEMethod) {
    let p = ODEProblem(
      system: vanDerPol(mu: 10), u0: [2, 0], tspan: (0, 30),
      doses: [Dose(time: 7.5, target: 1, amount: 0.5)])
    let a = solve(p, method: method, options: SolverOptions(saveAt: [5, 10, 20, 30]))
    let b = solve(p, method: method, options: SolverOptions(saveAt: [5, 10, 20, 30]))
    #expect(a.values == b.values)
    #expect(a.stats == b.stats)
  }

  /// The output grid does not change the steps taken (dense output, not step-limited).
  @Test func outputGridIndependentOfSteps() {
    let p = ODEProblem(system: vanDerPol(mu: 5), u0: [2, 0], tspan: (0, 20))
    let coarse = solve(p, method: .dp5, options: SolverOptions(rtol: 1e-8, atol: [1e-10], saveAt: [20]))
    let fine = solve(
      p, method: .dp5,
      options: SolverOptions(
        rtol: 1e-8, atol: [1e-10],
        saveAt: stride(from: 0.0, through: 20, by: 0.01).map { $0 }))
    #expect(coarse.stats.acceptedSteps == fine.stats.acceptedSteps)
    #expect(fine.t.count == 2001)
    #expect(coarse[0, 0] == fine[2000, 0])
  }
}
