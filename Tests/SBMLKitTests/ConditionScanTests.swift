import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import Testing

/// The triggers of all of a model's events evaluated in one call after every step
/// (``SBMLSystem/conditionScan()``) give the same run, bit for bit, as their conditions
/// called one by one, in the interpreter and in machine code.
struct ConditionScanTests {
  /// x' = −k·x from x = 1 with k = 1 and y' = 1 from y = 0. Events: x < 0.25 refills x to 1;
  /// y > 2.5 sets k = 2; at time ≥ 3 (a known trigger time), x gains 0.5. With `compound`,
  /// the refill's trigger is `x < 0.25 and y > 0` (watched in its parts).
  func model(compound: Bool = false) -> String {
    let math = #"xmlns="http://www.w3.org/1998/Math/MathML""#
    let low = "<apply><lt/><ci>x</ci><cn>0.25</cn></apply>"
    let refill = compound ? "<apply><and/>\(low)<apply><gt/><ci>y</ci><cn>0</cn></apply></apply>" : low
    func event(_ id: String, _ trigger: String, _ variable: String, _ value: String) -> String {
      """
      <event id="\(id)" useValuesFromTriggerTime="true">
        <trigger initialValue="false" persistent="true"><math \(math)>\(trigger)</math></trigger>
        <listOfEventAssignments><eventAssignment variable="\(variable)"><math \(math)>\(value)</math></eventAssignment></listOfEventAssignments>
      </event>
      """
    }
    let time = #"<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>"#
    return """
      <?xml version="1.0" encoding="UTF-8"?>
      <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
        <model id="m">
          <listOfParameters>
            <parameter id="x" value="1" constant="false"/>
            <parameter id="y" value="0" constant="false"/>
            <parameter id="k" value="1" constant="false"/>
          </listOfParameters>
          <listOfRules>
            <rateRule variable="x"><math \(math)><apply><times/><cn>-1</cn><ci>k</ci><ci>x</ci></apply></math></rateRule>
            <rateRule variable="y"><math \(math)><cn>1</cn></math></rateRule>
          </listOfRules>
          <listOfEvents>
            \(event("refill", refill, "x", "<cn>1</cn>"))
            \(event("faster", "<apply><gt/><ci>y</ci><cn>2.5</cn></apply>", "k", "<cn>2</cn>"))
            \(event("boost", "<apply><geq/>\(time)<cn>3</cn></apply>", "x", "<apply><plus/><ci>x</ci><cn>0.5</cn></apply>"))
          </listOfEvents>
        </model>
      </sbml>
      """
  }

  func run(_ sys: SBMLSystem, scan: Bool, method: ODEMethod) -> ODESolution {
    let u0 = sys.initialState(at: 0)
    let problem = ODEProblem(
      system: sys, u0: u0, tspan: (0, 6), stateEvents: sys.stateEvents(), conditionScan: scan ? sys.conditionScan() : nil)
    return solve(problem, method: method, options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: (0...12).map { Double($0) / 2 }))
  }

  @Test(arguments: [ODEMethod.auto, .rodas4p2], [false, true])
  func scanGivesTheSameRun(method: ODEMethod, native: Bool) throws {
    var compiled = try CompiledSBML(try SBMLModel.parse(Data(model().utf8)))
    if native { try compiled.compileNative() }
    let sys = SBMLSystem(compiled)
    #expect(sys.conditionScan() != nil)
    let one = run(sys, scan: false, method: method), all = run(sys, scan: true, method: method)
    #expect(all.returnCode == .success)
    #expect(all.values.map(\.bitPattern) == one.values.map(\.bitPattern))
    #expect(all.eventLog.map(\.time) == one.eventLog.map(\.time))
    #expect(all.eventLog.map(\.label) == one.eventLog.map(\.label))
    #expect(all.stats.steps == one.stats.steps)
    // The event times worked out by hand: refills at ln 4 and, with k = 2 from t = 2.5
    // (x = 4·e^−2.5 there), at 2.5 + ln(16·e^−2.5)/2; the boost at 3.
    let refills = all.eventLog.filter { $0.label == "refill" }.map(\.time)
    #expect(refills.count >= 2)
    #expect(abs(refills[0] - log(4.0)) < 1e-8)
    #expect(abs(refills[1] - (2.5 + log(16 * exp(-2.5)) / 2)) < 1e-8)
    #expect(all.eventLog.contains { $0.label == "boost" && $0.time == 3 })
  }

  /// A trigger watched in parts needs each part's condition: no scan then.
  @Test func compoundTriggersAreCalledOneByOne() throws {
    let sys = SBMLSystem(try CompiledSBML(try SBMLModel.parse(Data(model(compound: true).utf8))))
    #expect(sys.conditionScan() == nil)
    #expect(sys.stateEvents().count > 3)
  }
}
