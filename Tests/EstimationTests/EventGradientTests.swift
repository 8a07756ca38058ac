import Foundation
import Testing

@testable import Estimation

/// A PEtab problem whose events are triggered by the state, by a compound condition and by
/// time, with delays whose assignments take their values at trigger or at execution time,
/// all depending on estimated parameters.
@Suite("Sensitivities through state-triggered and delayed events")
struct EventGradientTests {
  /// x decays and is topped up by `dose` whenever it falls below `x_min` (twice in 15 time
  /// units); y, made from x, is cut to `keep`·y a delay `lag` after it exceeds `y_max` past
  /// t = 4 (values from trigger time); at t = 7, x gains `keep`·y a delay `lag` later
  /// (values at execution).
  static let model = """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
      <model id="events">
        <listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>
        <listOfSpecies>
          <species id="x" compartment="c" initialAmount="10" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
          <species id="y" compartment="c" initialAmount="0" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
        </listOfSpecies>
        <listOfParameters>
          <parameter id="k" value="0.3" constant="true"/>
          <parameter id="a" value="0.5" constant="true"/>
          <parameter id="b" value="0.2" constant="true"/>
          <parameter id="x_min" value="2" constant="true"/>
          <parameter id="dose" value="5" constant="true"/>
          <parameter id="y_max" value="6" constant="true"/>
          <parameter id="lag" value="1.5" constant="true"/>
          <parameter id="keep" value="0.5" constant="true"/>
        </listOfParameters>
        <listOfReactions>
          <reaction id="decay" reversible="false">
            <listOfReactants><speciesReference species="x" stoichiometry="1" constant="true"/></listOfReactants>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>x</ci></apply></math></kineticLaw>
          </reaction>
          <reaction id="make" reversible="false">
            <listOfProducts><speciesReference species="y" stoichiometry="1" constant="true"/></listOfProducts>
            <listOfModifiers><modifierSpeciesReference species="x"/></listOfModifiers>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>a</ci><ci>x</ci></apply></math></kineticLaw>
          </reaction>
          <reaction id="clear" reversible="false">
            <listOfReactants><speciesReference species="y" stoichiometry="1" constant="true"/></listOfReactants>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>b</ci><ci>y</ci></apply></math></kineticLaw>
          </reaction>
        </listOfReactions>
        <listOfEvents>
          <event id="top_up" useValuesFromTriggerTime="true">
            <trigger initialValue="false" persistent="true">
              <math xmlns="http://www.w3.org/1998/Math/MathML"><apply><lt/><ci>x</ci><ci>x_min</ci></apply></math>
            </trigger>
            <listOfEventAssignments>
              <eventAssignment variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><plus/><ci>x</ci><ci>dose</ci></apply></math></eventAssignment>
            </listOfEventAssignments>
          </event>
          <event id="cut" useValuesFromTriggerTime="true">
            <trigger initialValue="false" persistent="true">
              <math xmlns="http://www.w3.org/1998/Math/MathML"><apply><and/>
                <apply><gt/><ci>y</ci><ci>y_max</ci></apply>
                <apply><gt/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>4</cn></apply>
              </apply></math>
            </trigger>
            <delay><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>lag</ci></math></delay>
            <listOfEventAssignments>
              <eventAssignment variable="y"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>keep</ci><ci>y</ci></apply></math></eventAssignment>
            </listOfEventAssignments>
          </event>
          <event id="transfer" useValuesFromTriggerTime="false">
            <trigger initialValue="false" persistent="true">
              <math xmlns="http://www.w3.org/1998/Math/MathML"><apply><geq/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>7</cn></apply></math>
            </trigger>
            <delay><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>lag</ci></math></delay>
            <listOfEventAssignments>
              <eventAssignment variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><plus/><ci>x</ci><apply><times/><ci>keep</ci><ci>y</ci></apply></apply></math></eventAssignment>
            </listOfEventAssignments>
          </event>
        </listOfEvents>
      </model>
    </sbml>
    """

  /// The problem in a fresh folder: x and y observed every 0.7 time units up to 14.7.
  static func problem() throws -> PEtabObjective {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("petab-events-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let parameters = [("k", 0.3), ("a", 0.5), ("b", 0.2), ("x_min", 2), ("dose", 5), ("y_max", 6), ("lag", 1.5), ("keep", 0.5)]
    var measurements = "observableId\tsimulationConditionId\ttime\tmeasurement\n"
    for i in 1...21 {
      let t = 0.7 * Double(i)
      measurements += "obs_x\tc0\t\(t)\t\(4 + 2 * sin(t))\nobs_y\tc0\t\(t)\t\(5 + cos(t))\n"
    }
    let files = [
      "model.xml": model,
      "conditions.tsv": "conditionId\nc0\n",
      "observables.tsv":
        "observableId\tobservableFormula\tnoiseFormula\tnoiseDistribution\nobs_x\tx\t0.5\tnormal\nobs_y\ty\t0.5\tnormal\n",
      "measurements.tsv": measurements,
      "parameters.tsv": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
        + parameters.map { "\($0.0)\tlog10\t\($0.1 / 10)\t\($0.1 * 10)\t\($0.1)\t1\n" }.joined(),
      "problem.yaml": """
      format_version: 1
      parameter_file: parameters.tsv
      problems:
        - condition_files: [conditions.tsv]
          measurement_files: [measurements.tsv]
          observable_files: [observables.tsv]
          sbml_files: [model.xml]
      """,
    ]
    for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    var options = PEtabObjective.Options()
    options.rtol = 1e-10
    options.atol = 1e-12
    return try PEtabObjective(try PEtabProblem.load(dir.appendingPathComponent("problem.yaml").path), options: options)
  }

  @Test("the events fire as designed: x topped up twice, y cut after its delay, x raised at 7 + lag")
  func eventsFire() throws {
    let objective = try Self.problem()
    let ev = objective.evaluate(objective.nominal)
    #expect(ev.isFinite)
    // x = 10·e^{−0.3t} until it falls below 2 at t = ln 5 / 0.3 ≈ 5.36, then 7.
    let x = stride(from: 0, to: ev.simulations.count, by: 2).map { ev.simulations[$0] }
    #expect(abs(x[0] - 10 * exp(-0.3 * 0.7)) < 1e-6)
    #expect(abs(x[6] - 10 * exp(-0.3 * 4.9)) < 1e-6)
    #expect(abs(x[7] - 7 * exp(-0.3 * (5.6 - log(5) / 0.3))) < 1e-6)
    let jumps = zip(x, x.dropFirst()).filter { $1 > $0 }.count
    #expect(jumps == 3, "x rises at two top-ups and the transfer: \(x)")
  }

  @Test("gradient by forward sensitivities equals central differences, at and away from the nominal point")
  func gradient() throws {
    let objective = try Self.problem()
    #expect(objective.hasGradient)
    ObjectiveTests.checkGradient(objective, at: objective.nominal, relative: 1e-4)
    ObjectiveTests.checkGradient(objective, at: objective.nominal.enumerated().map { $1 + 0.04 * sin(Double($0 + 1)) }, relative: 1e-4)
  }
}
