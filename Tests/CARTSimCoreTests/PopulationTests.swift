import CARTSimCore
import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import StatKit
import TestSupport
import Testing

/// `cartsim population`: parameter draws, reuse of the compiled model, ordering and refusals.
struct PopulationTests {
  /// x' = −k·x (reaction, x(0) = x0 by an initial assignment), y' = −k2·y (rate rule) with
  /// k2 = 2k set by an initial assignment: x(t) = x0·e^(−kt), y(t) = e^(−2kt). Settable: k,
  /// x0 (k2 has an initial assignment, y a rate rule).
  static let decay = """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
      <model id="decay">
        <listOfCompartments><compartment id="c" size="2" constant="true"/></listOfCompartments>
        <listOfSpecies>
          <species id="x" compartment="c" initialConcentration="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
        </listOfSpecies>
        <listOfParameters>
          <parameter id="k" value="0.3" constant="true"/>
          <parameter id="x0" value="2" constant="true"/>
          <parameter id="k2" value="0" constant="true"/>
          <parameter id="y" value="1" constant="false"/>
        </listOfParameters>
        <listOfInitialAssignments>
          <initialAssignment symbol="x"><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>x0</ci></math></initialAssignment>
          <initialAssignment symbol="k2"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><cn>2</cn><ci>k</ci></apply></math></initialAssignment>
        </listOfInitialAssignments>
        <listOfRules>
          <rateRule variable="y"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><apply><minus/><ci>k2</ci></apply><ci>y</ci></apply></math></rateRule>
        </listOfRules>
        <listOfReactions>
          <reaction id="r" reversible="false">
            <listOfReactants><speciesReference species="x" stoichiometry="1" constant="true"/></listOfReactants>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>c</ci><ci>k</ci><ci>x</ci></apply></math></kineticLaw>
          </reaction>
        </listOfReactions>
      </model>
    </sbml>
    """

  static func write(_ text: String, name: String) throws -> String {
    let path = try temporaryDirectory() + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// The HEROS 2.0 cohort B scenario exported as SBML (doses as events).
  static func herosB() throws -> String {
    try write(try SBMLExport.document(for: try Scenario.load(path: example("heros2-cohortB")), file: "heros2-cohortB"), name: "herosB.xml")
  }

  /// population.csv as a header and rows of fields.
  static func read(_ dir: String) throws -> (header: [String], rows: [[String]]) {
    let lines = try String(contentsOfFile: dir + "/population.csv", encoding: .utf8).split(separator: "\n").map(String.init)
    return (lines[0].components(separatedBy: ","), lines.dropFirst().map { $0.components(separatedBy: ",") })
  }

  @Test func settableParametersAndOutputs() throws {
    let m = try SBMLPopulationRun.load(file: try Self.write(Self.decay, name: "decay.xml"))
    #expect(m.parameterIDs == ["k", "x0"])
    #expect(m.baseValues == [0.3, 2])
    #expect(m.outputIDs == ["x", "y"])
  }

  /// (c) Final values equal the analytic solution with each patient's parameters recomputed
  /// from the same random stream.
  @Test func matchesAnalyticSolutionPerPatient() throws {
    let file = try Self.write(Self.decay, name: "decay.xml")
    let dir = try temporaryDirectory()
    var o = SBMLPopulationRun.Options(patients: 25, omega: 0.4, duration: 5, steps: 50)
    o.seed = 7
    o.simulation.rtol = 1e-10
    o.simulation.atol = 1e-14
    o.writeParameters = true
    o.threads = 2
    let report = try SBMLPopulationRun.run(file: file, options: o, to: dir)
    #expect(report.patients == 25 && report.failed == 0)
    let (header, rows) = try Self.read(dir)
    #expect(header == ["id", "status", "param_k", "param_x0", "x", "y"])
    #expect(rows.count == 25)
    for (i, row) in rows.enumerated() {
      var rng = RandomStream(seed: 7, id: RandomStream.address(UInt64(i)))
      let k = 0.3 * exp(0.4 * rng.normal()), x0 = 2 * exp(0.4 * rng.normal())
      #expect(row[0] == String(i) && row[1] == "Success")
      #expect(Double(row[2]) == k && Double(row[3]) == x0)
      let x = Double(row[4])!, y = Double(row[5])!
      #expect(abs(x - x0 * exp(-k * 5)) <= 1e-7 * x0 * exp(-k * 5), "patient \(i): x")
      #expect(abs(y - exp(-2 * k * 5)) <= 1e-7 * exp(-2 * k * 5), "patient \(i): y")
    }
  }

  /// Rodas4 along the Jacobian's sparsity pattern (HEROS cohort B: 19 states) gives dense
  /// LU's results up to round-off, with the same steps.
  @Test func sparseLUMatchesDenseOnHEROS() throws {
    let compiled = try CompiledSBML(try SBMLModel.load(path: try Self.herosB()))
    let plan = try #require(compiled.sparsity)
    let n = compiled.states.count
    #expect(plan.positions.count * 2 <= n * n)
    let sparse = SBMLSystem(compiled)
    let dense = SBMLSystem(compiled)
    dense.useDenseLU = true
    let variables = compiled.stateNames.map { (id: $0, quantity: SBMLSystem.Quantity.symbol) }
    let a = sparse.simulate(start: 0, duration: 120, steps: 12, variables: variables, rtol: 1e-6, atol: 1e-12, method: .rodas4)
    let b = dense.simulate(start: 0, duration: 120, steps: 12, variables: variables, rtol: 1e-6, atol: 1e-12, method: .rodas4)
    #expect(a.returnCode == .success && b.returnCode == .success)
    #expect(a.stats.luDecompositions > 0 && a.stats.sparseFallbacks == 0)
    #expect(a.stats.acceptedSteps == b.stats.acceptedSteps)
    for (ra, rb) in zip(a.values, b.values) {
      for (x, y) in zip(ra, rb) { #expect(abs(x - y) <= 1e-9 * max(abs(y), 1e-6)) }
    }
  }

  /// (a) With omega 0 every patient is the model itself: the same final values as one
  /// `simulate --sbml` run (same step policy and tolerances: bit for bit).
  @Test func omegaZeroEqualsSingleRun() throws {
    for file in [try Self.write(Self.decay, name: "decay.xml"), try Self.herosB()] {
      let single = try SBMLRun.run(file: file, duration: 60, steps: 60)
      let dir = try temporaryDirectory()
      var o = SBMLPopulationRun.Options(patients: 3, omega: 0, duration: 60, steps: 60)
      o.simulation.rtol = 1e-8  // SBMLRun's defaults
      o.simulation.atol = 1e-12
      o.simulation.capSteps = true
      o.threads = 2
      try SBMLPopulationRun.run(file: file, options: o, to: dir)
      let (header, rows) = try Self.read(dir)
      let last = single.timeCourse.values.last!
      for row in rows {
        #expect(row[1] == "Success")
        for (j, id) in header.enumerated().dropFirst(2) {
          let k = single.timeCourse.variables.firstIndex(of: id)!
          #expect(Double(row[j]) == last[k], "\(file): \(id)")
        }
        #expect(row.dropFirst() == rows[0].dropFirst())
      }
    }
  }

  /// (b) The file does not depend on the thread count: HEROS (patients alone), and the decay
  /// model (four patients at a time, 37 patients: the last batch is short).
  @Test(arguments: [12, 37])
  func threadCountIndependence(patients: Int) throws {
    let file = patients == 12 ? try Self.herosB() : try Self.write(Self.decay, name: "decay.xml")
    var texts: [String] = []
    for threads in [1, 2] {
      let dir = try temporaryDirectory()
      var o = SBMLPopulationRun.Options(patients: patients, omega: 0.3, duration: 60, steps: 60)
      o.seed = 11
      o.threads = threads
      o.writeParameters = true
      try SBMLPopulationRun.run(file: file, options: o, to: dir)
      texts.append(try String(contentsOfFile: dir + "/population.csv", encoding: .utf8))
    }
    #expect(texts[0] == texts[1])
    #expect(texts[0].split(separator: "\n").count == patients + 1)
  }

  /// (d) Bad input is refused, naming the file or the option.
  @Test func badInputIsRefused() throws {
    let dir = try temporaryDirectory()
    let ok = SBMLPopulationRun.Options(patients: 2, omega: 0.1, duration: 1, steps: 1)
    let missing = dir + "/missing.xml"
    #expect(throws: InputError(file: missing, path: "", message: "no such file")) {
      try SBMLPopulationRun.run(file: missing, options: ok, to: dir + "/out")
    }
    let invalid = try Self.write("<sbml><model><listOf", name: "invalid.xml")
    do {
      try SBMLPopulationRun.run(file: invalid, options: ok, to: dir + "/out")
      Issue.record("invalid SBML accepted")
    } catch let e as InputError {
      #expect(e.file == invalid)
    }
    let file = try Self.write(Self.decay, name: "decay.xml")
    for (option, change) in [
      ("--n", { (o: inout SBMLPopulationRun.Options) in o.patients = 0 }),
      ("--omega", { $0.omega = -0.5 }), ("--duration", { $0.simulation.duration = 0 }), ("--steps", { $0.simulation.steps = 0 }),
      ("--lanes", { $0.lanes = 3 }),
    ] {
      var o = ok
      change(&o)
      do {
        try SBMLPopulationRun.run(file: file, options: o, to: dir + "/out")
        Issue.record("\(option) accepted")
      } catch let e as InputError {
        #expect(e.path == option)
      }
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
  }
}
