import Foundation
import ODEKit
import TestSupport
import Testing

@testable import Estimation

@Suite("PEtab objective")
struct ObjectiveTests {
  @Test("every case of the PEtab test suite passes (chi2, llh and simulations)")
  func testSuite() throws {
    let cases = PEtabTestCase.find(under: sharedRoot.appendingPathComponent("petab-test-suite/cases").path)
    #expect(cases.count == 15)
    for c in cases {
      let o = PEtabTestCase.run(c)
      #expect(o.verdict == .pass, "\(o.id): \(o.detail)")
    }
  }

  /// The reference log-likelihoods at the published best fits: AMICI's benchmark test values
  /// (see ../shared/petab-benchmarks/README.md).
  @Test(
    "benchmark problems: llh at the nominal parameters matches AMICI",
    arguments: [
      ("Boehm_JProteomeRes2014", -138.22199693517703, 1e-3),
      ("Fujita_SciSignal2010", 53.08377736998929, 1e-2),
    ])
  func benchmarkNominal(_ name: String, _ llh: Double, _ tolerance: Double) throws {
    let objective = try PEtabObjective(try PEtabProblem.load(benchmark(name)))
    let ev = objective.evaluate(objective.nominal)
    #expect(ev.returnCode.isSuccessful)
    #expect(abs(ev.llh - llh) < tolerance, "llh \(ev.llh)")
  }

  /// Forward-sensitivity gradients against central differences of the objective.
  static func checkGradient(_ objective: PEtabObjective, at x: [Double], relative: Double = 2e-3) {
    let ev = objective.evaluate(x, sensitivities: true)
    guard let g = ev.gradient else {
      Issue.record("no gradient")
      return
    }
    for k in 0..<x.count {
      let h = 1e-4
      var up = x, down = x
      up[k] += h
      down[k] -= h
      let fd = (objective.evaluate(up).nllh - objective.evaluate(down).nllh) / (2 * h)
      let scale = max(abs(fd), abs(g[k]), 1e-2)
      #expect(abs(g[k] - fd) / scale < relative, "\(objective.parameterIDs[k]): sensitivities \(g[k]), central differences \(fd)")
    }
  }

  @Test("gradient by forward sensitivities equals central differences (Boehm, at and away from the optimum)")
  func gradientBoehm() throws {
    var options = PEtabObjective.Options()
    options.rtol = 1e-11
    options.atol = 1e-12
    let objective = try PEtabObjective(try PEtabProblem.load(benchmark("Boehm_JProteomeRes2014")), options: options)
    Self.checkGradient(objective, at: objective.nominal)
    Self.checkGradient(objective, at: objective.nominal.enumerated().map { $1 + 0.3 * sin(Double($0 + 1)) })
  }

  @Test(
    "gradient through preequilibration, state resets and parametric initial values",
    arguments: ["0009", "0017", "0018", "0019", "0005", "0015"])
  func gradientSuite(_ id: String) throws {
    let objective = try PEtabObjective(try PEtabProblem.load(suiteCase(id)))
    #expect(objective.hasGradient)
    Self.checkGradient(objective, at: objective.nominal.map { $0 * 1.1 + 0.05 })
  }

  @Test(
    "adjoint gradient equals forward sensitivities and central differences (Boehm, Fujita; preequilibration, resets, parametric initial values)",
    arguments: [benchmark("Boehm_JProteomeRes2014"), benchmark("Fujita_SciSignal2010")] + ["0009", "0017", "0018", "0005"].map(suiteCase))
  func adjointGradient(_ path: String) throws {
    var options = PEtabObjective.Options()
    options.rtol = 1e-10
    options.atol = 1e-12
    let forward = try PEtabObjective(try PEtabProblem.load(path), options: options)
    options.sensitivities = .adjoint
    let adjoint = try PEtabObjective(try PEtabProblem.load(path), options: options)
    #expect(adjoint.usesAdjoint)
    let x = adjoint.nominal.enumerated().map { $1 + 0.05 * sin(Double($0 + 1)) }
    let a = adjoint.evaluate(x, sensitivities: true), f = forward.evaluate(x, sensitivities: true)
    #expect(a.fim == nil && f.fim != nil)
    // The same objective; the runs differ only in the steps the error control takes with and without sensitivities.
    #expect(abs(a.nllh - f.nllh) <= 1e-5 * max(1, abs(f.nllh)))
    let ga = try #require(a.gradient), gf = try #require(f.gradient)
    let scale = max(gf.map { abs($0) }.max() ?? 0, 1e-2)
    for k in ga.indices {
      #expect(abs(ga[k] - gf[k]) / scale < 1e-4, "\(adjoint.parameterIDs[k]): adjoint \(ga[k]), forward \(gf[k])")
    }
    Self.checkGradient(adjoint, at: x)
  }

  @Test("Fisher information is symmetric positive semi-definite and matches the gradient's outer products at zero noise derivative")
  func fisherInformation() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(benchmark("Fujita_SciSignal2010")))
    let ev = objective.evaluate(objective.nominal, sensitivities: true)
    let d = objective.dimension
    let F = try #require(ev.fim)
    for a in 0..<d { for b in 0..<d { #expect(abs(F[a * d + b] - F[b * d + a]) <= 1e-9 * max(abs(F[a * d + b]), 1)) } }
    for a in 0..<d { #expect(F[a * d + a] >= 0) }
  }
}
