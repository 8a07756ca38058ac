import Foundation
import SBMLKit
import Testing

/// MathML reading and compiled evaluation against values computed by hand.
struct MathTests {
  func model(_ body: String, extra: String = "") -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
      <model id="m">
        \(extra)
        <listOfParameters>
          <parameter id="x" value="2" constant="true"/>
          <parameter id="y" constant="false"/>
        </listOfParameters>
        <listOfRules>
          <assignmentRule variable="y"><math xmlns="http://www.w3.org/1998/Math/MathML">\(body)</math></assignmentRule>
        </listOfRules>
      </model>
    </sbml>
    """
  }

  func evaluate(_ body: String, extra: String = "", at t: Double = 0) throws -> Double {
    let m = try SBMLModel.parse(Data(model(body, extra: extra).utf8))
    let sys = SBMLSystem(try CompiledSBML(m))
    let tc = sys.simulate(start: t, duration: 1, steps: 1, variables: [("y", .symbol)])
    return tc.values[0][0]
  }

  @Test func arithmeticAndNumbers() throws {
    #expect(try evaluate("<apply><plus/><ci>x</ci><cn type=\"e-notation\">1.5<sep/>2</cn><cn type=\"rational\">1<sep/>4</cn></apply>") == 152.25)
    #expect(try evaluate("<apply><minus/><ci>x</ci></apply>") == -2)
    #expect(try evaluate("<apply><power/><ci>x</ci><cn>10</cn></apply>") == 1024)
    #expect(try evaluate("<apply><root/><degree><cn>3</cn></degree><cn>27</cn></apply>") == 3)
    #expect(abs(try evaluate("<apply><log/><logbase><cn>2</cn></logbase><cn>8</cn></apply>") - 3) < 1e-15)
    #expect(try evaluate("<apply><factorial/><cn>5</cn></apply>") == 120)
    #expect(abs(try evaluate("<apply><arccot/><cn>-0.1</cn></apply>") - atan(-10)) < 1e-15)
    #expect(try evaluate("<apply><plus/></apply>") == 0)
    #expect(try evaluate("<apply><times/></apply>") == 1)
  }

  @Test func logicAndPiecewise() throws {
    #expect(try evaluate("<apply><lt/><cn>1</cn><ci>x</ci><cn>3</cn></apply>") == 1)
    #expect(try evaluate("<apply><lt/><cn>1</cn><cn>3</cn><ci>x</ci></apply>") == 0)
    #expect(try evaluate("<apply><xor/><true/><true/><true/></apply>") == 1)
    let pw = "<piecewise><piece><cn>10</cn><apply><gt/><ci>x</ci><cn>5</cn></apply></piece><piece><cn>20</cn><apply><gt/><ci>x</ci><cn>1</cn></apply></piece><otherwise><cn>30</cn></otherwise></piecewise>"
    #expect(try evaluate(pw) == 20)
    #expect(try evaluate("<apply><times/><csymbol definitionURL=\"http://www.sbml.org/sbml/symbols/time\">t</csymbol><cn>3</cn></apply>", at: 2) == 6)
  }

  @Test func functionDefinitionsAreInlined() throws {
    let f = """
      <listOfFunctionDefinitions>
        <functionDefinition id="f"><math xmlns="http://www.w3.org/1998/Math/MathML">
          <lambda><bvar><ci>a</ci></bvar><bvar><ci>b</ci></bvar><apply><minus/><ci>a</ci><ci>b</ci></apply></lambda>
        </math></functionDefinition>
      </listOfFunctionDefinitions>
      """
    #expect(try evaluate("<apply><ci>f</ci><cn>10</cn><ci>x</ci></apply>", extra: f) == 8)
  }

  @Test func errorsNameTheProblem() {
    #expect(throws: SBMLError.self) { try SBMLModel.parse(Data("<sbml><model".utf8)) }
    do {
      _ = try evaluate("<apply><foo/><cn>1</cn></apply>")
      Issue.record("accepted an unknown operator")
    } catch let e as SBMLError {
      #expect(e.kind == .unsupported && e.description.contains("<foo>"))
    } catch { Issue.record("\(error)") }
    do {
      _ = try evaluate("<apply><plus/><ci>nope</ci><cn>1</cn></apply>")
      Issue.record("accepted an unknown symbol")
    } catch let e as SBMLError {
      #expect(e.description.contains("unknown symbol 'nope'"))
    } catch { Issue.record("\(error)") }
  }
}
