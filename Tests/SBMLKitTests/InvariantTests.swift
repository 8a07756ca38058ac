import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import Testing

/// Parts of the evaluation that read no state and no time run once per run, not at every
/// evaluation; an event that changes their inputs keeps them in the evaluation.
struct InvariantTests {
  /// dx/dt = −k·x with the allometric k = 0.2·(WT/70)^0.75, x(0) = 1; with `event`, WT
  /// becomes 140 at t = 5.
  func model(event: Bool) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
      <model id="m">
        <listOfParameters>
          <parameter id="x" value="1" constant="false"/>
          <parameter id="k" constant="false"/>
          <parameter id="WT" value="35" constant="\(!event)"/>
        </listOfParameters>
        <listOfRules>
          <assignmentRule variable="k"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><cn>0.2</cn><apply><power/><apply><divide/><ci>WT</ci><cn>70</cn></apply><cn>0.75</cn></apply></apply>
          </math></assignmentRule>
          <rateRule variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><cn>-1</cn><ci>k</ci><ci>x</ci></apply></math></rateRule>
        </listOfRules>
        \(event ? """
        <listOfEvents><event id="e" useValuesFromTriggerTime="true">
          <trigger initialValue="false" persistent="true"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><geq/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>5</cn></apply></math></trigger>
          <listOfEventAssignments><eventAssignment variable="WT"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>140</cn></math></eventAssignment></listOfEventAssignments>
        </event></listOfEvents>
        """ : "")
      </model>
    </sbml>
    """
  }

  func k(_ weight: Double) -> Double { 0.2 * pow(weight / 70, 0.75) }

  @Test(arguments: [ODEMethod.dp5, .rodas4])
  func parameterOnlyRuleRunsOncePerRun(method: ODEMethod) throws {
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(model(event: false).utf8)))
    #expect(compiled.invariant.instructions.contains { $0.code == .pow })
    #expect(!compiled.main.instructions.contains { $0.code == .pow })
    let tc = SBMLSystem(compiled).simulate(
      start: 0, duration: 10, steps: 2, variables: [("x", .symbol), ("k", .symbol)],
      rtol: 1e-10, atol: 1e-14, method: method)
    #expect(tc.returnCode == .success)
    for (i, t) in tc.times.enumerated() {
      #expect(abs(tc.values[i][0] - exp(-k(35) * t)) < 1e-8)
      #expect(tc.values[i][1] == k(35))
    }
  }

  @Test(arguments: [ODEMethod.dp5, .rodas4])
  func ruleOfAParameterAnEventChangesStaysInTheEvaluation(method: ODEMethod) throws {
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(model(event: true).utf8)))
    #expect(!compiled.invariant.instructions.contains { $0.code == .pow })
    #expect(compiled.main.instructions.contains { $0.code == .pow })
    let tc = SBMLSystem(compiled).simulate(
      start: 0, duration: 10, steps: 2, variables: [("x", .symbol), ("k", .symbol)],
      rtol: 1e-10, atol: 1e-14, method: method)
    #expect(tc.returnCode == .success)
    #expect(abs(tc.values[1][0] - exp(-k(35) * 5)) < 1e-8)
    #expect(abs(tc.values[2][0] - exp(-k(35) * 5 - k(140) * 5)) < 1e-8)
    #expect(tc.values[2][1] == k(140))
  }

  /// A hoisted rule fed by an initial assignment of a parameter each patient sets: WT = 2·W0,
  /// k = 0.2·(WT/70)^0.75, dx/dt = −k·x; x(10) for several W0 through the population runner.
  @Test func invariantPartFollowsEachPatientsParameters() throws {
    let initial =
      #"<listOfInitialAssignments><initialAssignment symbol="WT"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><cn>2</cn><ci>W0</ci></apply></math></initialAssignment></listOfInitialAssignments>"#
    let xml = model(event: false)
      .replacingOccurrences(
        of: #"<parameter id="WT" value="35" constant="true"/>"#,
        with: #"<parameter id="WT" constant="true"/><parameter id="W0" value="35" constant="true"/>"#
      )
      .replacingOccurrences(of: "<listOfRules>", with: initial + "<listOfRules>")
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
    #expect(compiled.invariant.instructions.contains { $0.code == .pow })
    let population = SBMLPopulationModel(compiled)
    #expect(population.parameterIDs == ["W0"])
    var options = SBMLPopulationModel.Options(duration: 10, steps: 2)
    options.rtol = 1e-10
    options.atol = 1e-14
    let ix = try #require(population.outputIDs.firstIndex(of: "x"))
    for w0 in [20.0, 35, 50, 35] {
      let outcome = population.simulate(parameters: [w0], options: options)
      #expect(outcome.returnCode == .success)
      #expect(abs(outcome.finalValues[ix] - exp(-k(2 * w0) * 10)) < 1e-8, "W0 = \(w0)")
    }
  }

  /// The split of a program: the part to run once, the rest in order; nil when a slot is
  /// read before it is written.
  @Test func programSplit() {
    typealias I = Program.Instruction
    // Slots: 0 time, 1 state, 2 and 3 parameters; 4 = 2·3, 5 = 4 + 1, 6 = exp(4), 7 = 6·5.
    let program = Program(instructions: [
      I(code: .mul, dst: 4, a: 2, b: 3, c: 0), I(code: .add, dst: 5, a: 4, b: 1, c: 0),
      I(code: .exp, dst: 6, a: 4, b: 0, c: 0), I(code: .mul, dst: 7, a: 6, b: 5, c: 0),
    ])
    let split = program.hoistingInvariants(varying: [0, 1])
    #expect(split?.invariant.instructions.map(\.dst) == [4, 6])
    #expect(split?.rest.instructions.map(\.dst) == [5, 7])
    var whole: [Double] = [0, 0.5, 1.5, -2, 0, 0, 0, 0], parts = whole
    whole.withUnsafeMutableBufferPointer { program.run($0.baseAddress!) }
    parts.withUnsafeMutableBufferPointer {
      split!.invariant.run($0.baseAddress!)
      split!.rest.run($0.baseAddress!)
    }
    #expect(whole == parts)
    // Slot 5 read before it is written.
    let early = Program(instructions: [I(code: .mul, dst: 4, a: 5, b: 3, c: 0), I(code: .add, dst: 5, a: 2, b: 1, c: 0)])
    #expect(early.hoistingInvariants(varying: [0, 1]) == nil)
  }
}
