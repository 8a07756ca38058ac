import CARTModels
import CARTSimCore
import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import TestSupport
import Testing

/// Export of the built-in models to SBML: valid per libSBML, and the round trip through
/// our importer reproduces the built-in simulation.
struct SBMLExportTests {
  /// Built-in run and SBML round trip of a scenario at tight tolerances; returns the worst
  /// relative difference over all states and output days, after allowing ten times the
  /// built-in run's absolute tolerance (the noise level of values near zero, such as
  /// 1e-11 mg of fludarabine months after the dose).
  func roundTrip<M: TherapyModel>(_ model: M, _ scenarioName: String, sbml: (M, Scenario) -> SBMLModel) throws -> Double {
    var s = try Scenario.load(path: example(scenarioName))
    s.rtol = 1e-10
    let (m, problem, _, _) = try Simulator.prepare(model, s)
    let times = stride(from: s.startDay, through: s.horizonDays, by: 1.0).map { $0 }
    let mp = m.makeProblem(patient: s.patient, regimen: s.regimen, start: s.startDay, end: s.horizonDays)
    let native = solve(
      problem, method: .auto,
      options: SolverOptions(
        rtol: 1e-10, atol: mp.absoluteTolerances.map { $0 * 1e-3 },
        saveAt: times, nonNegative: mp.nonNegative))
    #expect(native.returnCode == .success)
    // Import the exported document (text, so the writer and reader are both exercised).
    let text = sbml(m, s).xml()
    let imported = try CompiledSBML(try SBMLModel.parse(Data(text.utf8)))
    let sys = SBMLSystem(imported)
    let tc = sys.simulate(
      start: 0, duration: s.horizonDays - s.startDay, steps: times.count - 1,
      variables: m.stateNames.map { ($0, .symbol) }, rtol: 1e-10, atol: 1e-12)
    #expect(tc.returnCode == .success)
    #expect(tc.times.count == times.count)
    var worst = 0.0, worstAt = ""
    for j in 0..<m.stateNames.count {
      let column = native.component(j)
      let atol = mp.absoluteTolerances[j] * 1e-3
      for i in 0..<min(tc.times.count, native.t.count) {
        let a = tc.values[i][j], b = column[i]
        let d = max(0, abs(a - b) - 10 * atol) / max(abs(b), 1e-300)
        if d > worst { worstAt = "\(m.stateNames[j]) at t = \(times[i]): SBML \(a), built-in \(b)" }
        worst = max(worst, d)
      }
    }
    print("round trip \(scenarioName): worst \(worst) (\(worstAt))")
    return worst
  }

  @Test func herosRoundTrip() throws {
    let worst = try roundTrip(HEROSModel(), "heros2-cohortB") { m, s in
      m.sbml(patient: s.patient, regimen: s.regimen, start: s.startDay, end: s.horizonDays)
    }
    #expect(worst < 1e-6, "worst relative difference \(worst)")
  }

  @Test func cartmathRoundTrip() throws {
    let worst = try roundTrip(CARTmathModel(.hdlm2), "cartmath-hdlm2") { m, s in
      m.sbml(patient: s.patient, regimen: s.regimen, start: s.startDay, end: s.horizonDays)
    }
    #expect(worst < 1e-6, "worst relative difference \(worst)")
  }

  /// libSBML (python-libsbml, provided by Scripts/test.sh) finds no errors in the exported documents.
  @Test(arguments: ["heros2-cohortB", "heros3", "cartmath-hdlm2"])
  func libsbmlValidates(scenario: String) throws {
    let s = try Scenario.load(path: example(scenario))
    let xml = try SBMLExport.document(for: s)
    let dir = try temporaryDirectory()
    let file = dir + "/model.xml"
    try xml.write(toFile: file, atomically: true, encoding: .utf8)
    let script = """
      import sys, libsbml
      d = libsbml.readSBMLFromFile(sys.argv[1])
      d.checkConsistency()
      bad = [d.getError(i) for i in range(d.getNumErrors()) if d.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
      for e in bad[:5]: print(e.getErrorId(), e.getMessage().strip()[:200])
      print("errors", len(bad))
      sys.exit(1 if bad else 0)
      """
    let r = try runTool([ProcessInfo.processInfo.environment["CARTSIM_PYTHON"] ?? "python3", "-c", script, file])
    #expect(r.status == 0, "libSBML: \(r.output) (run the tests with Scripts/test.sh, which provides python-libsbml)")
  }
}
