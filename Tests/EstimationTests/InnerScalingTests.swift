import Foundation
import TestSupport
import Testing

@testable import Estimation

@Suite("Hierarchical optimisation: observable scalings in closed form")
struct InnerScalingTests {
  /// Fujita at tight tolerances: the plain and the sensitivity integrations take different
  /// steps, and central differences need their errors well below h·tolerance.
  static func fujita() throws -> InnerScalings {
    var options = PEtabObjective.Options()
    options.rtol = 1e-10
    options.atol = 1e-12
    options.maxSteps = 100_000
    let objective = try PEtabObjective(try PEtabProblem.load(benchmark("Fujita_SciSignal2010")), options: options)
    return try #require(InnerScalings(objective))
  }

  @Test("Fujita's three scaling_* parameters, and only they, are found; Boehm (no scalings) has none")
  func detection() throws {
    let inner = try Self.fujita()
    #expect(inner.parameterIDs == ["scaling_pAkt_tot", "scaling_pEGFR_tot", "scaling_pS6_tot"])
    #expect(inner.outer.count == 16)
    let boehm = try PEtabObjective(try PEtabProblem.load(benchmark("Boehm_JProteomeRes2014")))
    #expect(boehm.scalings.isEmpty)
  }

  /// The scalings found in a copy of Fujita with `edits` (file suffix, text, replacement) made.
  static func scalings(_ edits: [(String, String, String)]) throws -> [String] {
    let name = "Fujita_SciSignal2010"
    let src = sharedRoot.appendingPathComponent("petab-benchmarks/\(name)")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("petab-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: src, to: dir)
    defer { try? FileManager.default.removeItem(at: dir) }
    for (file, find, replace) in edits {
      let url = dir.appendingPathComponent(file)
      let text = try String(contentsOf: url, encoding: .utf8)
      #expect(text.contains(find), "\(file) has no '\(find)'")
      try text.replacingOccurrences(of: find, with: replace).write(to: url, atomically: true, encoding: .utf8)
    }
    let objective = try PEtabObjective(try PEtabProblem.load(dir.appendingPathComponent("\(name).yaml").path))
    return objective.scalings.map { objective.parameterIDs[$0.parameter] }
  }

  @Test(
    "a scaling read by the noise formula or by another factor, or shared by observables of different transformations, is left to the optimiser"
  )
  func detectionRules() throws {
    let observables = "observables_Fujita_SciSignal2010.tsv", measurements = "measurementData_step_Fujita_SciSignal2010.tsv"
    #expect(
      try Self.scalings([(observables, "\tnoiseParameter1_pS6_tot\t", "\tnoiseParameter1_pS6_tot * observableParameter1_pS6_tot\t")])
        == ["scaling_pAkt_tot", "scaling_pEGFR_tot"])
    #expect(
      try Self.scalings([(observables, "(pAkt + pAkt_S6)", "(pAkt + pAkt_S6 * observableParameter1_pAkt_tot)")])
        == ["scaling_pEGFR_tot", "scaling_pS6_tot"])
    // One scaling for pAkt and pEGFR: still one closed form while both are `lin` …
    let shared = (measurements, "scaling_pEGFR_tot", "scaling_pAkt_tot")
    #expect(try Self.scalings([shared]) == ["scaling_pAkt_tot", "scaling_pS6_tot"])
    // … but not once pEGFR is compared on the log10 scale (its zero readings at t = 0 made positive).
    let log10 = (observables, "noiseParameter1_pEGFR_tot\tlin", "noiseParameter1_pEGFR_tot\tlog10")
    #expect(try Self.scalings([shared, log10, (measurements, "\t0.0\t0\t", "\t0.001\t0\t")]) == ["scaling_pS6_tot"])
  }

  /// Outer points: the published optimum and two points away from it.
  static func points(_ inner: InnerScalings) -> [[Double]] {
    let y = inner.outerPoint(inner.objective.nominal)
    return [y, y.enumerated().map { $0.element + 0.2 * sin(Double($0.offset + 1)) }, y.map { $0 - 0.1 }]
  }

  @Test("the closed-form scalings minimise the full objective: its scaling derivatives vanish, and moving a scaling raises it")
  func innerOptimum() throws {
    let inner = try Self.fujita()
    let objective = inner.objective
    for y in Self.points(inner) {
      let best = inner.optimum(y)
      let ev = objective.evaluate(best.x, sensitivities: true)
      #expect(abs(ev.nllh - best.nllh) <= 1e-6 * max(1, abs(ev.nllh)))
      let g = try #require(ev.gradient), F = try #require(ev.fim)
      let d = objective.dimension
      for (j, s) in objective.scalings.enumerated() where !best.atBound[j] {
        // The Newton step to the zero of ∂f/∂c (f is quadratic in c): under 1e-6 in log10 c.
        let k = s.parameter
        #expect(abs(g[k] / F[k * d + k]) <= 1e-6, "∂f/∂\(objective.parameterIDs[k]) = \(g[k]), ∂²f = \(F[k * d + k])")
        for step in [-1e-3, 1e-3] {
          var x = best.x
          x[s.parameter] += step
          #expect(objective.evaluate(x).nllh > best.nllh)
        }
      }
    }
  }

  @Test("the outer gradient equals central differences of g(y) = min_c f(y, c)")
  func outerGradient() throws {
    let inner = try Self.fujita()
    let problem = inner.boundedProblem
    for y in Self.points(inner) {
      let at = problem.evaluate(y, true)
      let g = try #require(at.gradient)
      #expect(at.fim?.count == y.count * y.count)
      for k in y.indices {
        // f carries the integrations' error, about 1e-6 even at rtol 1e-10, which a central
        // difference divides by h (at h = 3e-5 one is off by 0.02), while its truncation
        // error grows as h² (at h = 1e-2 some are off by 0.1): the gradient must match the
        // central difference at one of three steps, the first that does.
        func centralDifference(_ h: Double) -> Double {
          var up = y, down = y
          up[k] += h
          down[k] -= h
          return (problem.evaluate(up, false).f - problem.evaluate(down, false).f) / (2 * h)
        }
        let differences = [1e-4, 1e-3, 1e-2].lazy.map(centralDifference)
        let match = differences.first { abs(g[k] - $0) <= 2e-3 * max(abs($0), 1) }
        #expect(match != nil, "parameter \(k): gradient \(g[k]), central differences \(Array(differences)) at h = 1e-4, 1e-3, 1e-2")
      }
    }
  }
}
