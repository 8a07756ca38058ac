import Foundation
import SBMLDocument
import SBMLKit
import Synchronization
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
    #expect(
      try evaluate("<apply><plus/><ci>x</ci><cn type=\"e-notation\">1.5<sep/>2</cn><cn type=\"rational\">1<sep/>4</cn></apply>") == 152.25)
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
    let pw =
      "<piecewise><piece><cn>10</cn><apply><gt/><ci>x</ci><cn>5</cn></apply></piece><piece><cn>20</cn><apply><gt/><ci>x</ci><cn>1</cn></apply></piece><otherwise><cn>30</cn></otherwise></piecewise>"
    #expect(try evaluate(pw) == 20)
    #expect(
      try evaluate("<apply><times/><csymbol definitionURL=\"http://www.sbml.org/sbml/symbols/time\">t</csymbol><cn>3</cn></apply>", at: 2)
        == 6)
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

  /// A document cut short is refused, not read as a smaller model.
  @Test func truncatedDocumentIsRefused() throws {
    let text = model("<apply><plus/><ci>x</ci><cn>1</cn></apply>")
    for cut in [text.count / 2, text.count - 10, text.count - 1] {
      let e = #expect(throws: SBMLError.self) { try SBMLModel.parse(Data(text.prefix(cut).utf8)) }
      #expect(e?.kind == .malformed, "cut at \(cut): \(String(describing: e))")
    }
    #expect(try evaluate("<apply><plus/><ci>x</ci><cn>1</cn></apply>") == 3)
  }

  /// A repeated id, or a function naming an argument twice, is an invalid model (found by the
  /// sbml fuzz target: the compiler trapped on a species id used twice).
  @Test func repeatedIdsAreRefused() throws {
    let twice = model("<ci>x</ci>").replacingOccurrences(
      of: "<parameter id=\"y\"", with: "<parameter id=\"x\" value=\"1\" constant=\"true\"/><parameter id=\"y\"")
    let e = #expect(throws: SBMLError.self) { try SBMLModel.parse(Data(twice.utf8)) }
    #expect(e?.message.contains("'x' is used twice") == true, "\(String(describing: e))")
    let f =
      "<listOfFunctionDefinitions><functionDefinition id=\"f\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><lambda><bvar><ci>a</ci></bvar><bvar><ci>a</ci></bvar><ci>a</ci></lambda></math></functionDefinition></listOfFunctionDefinitions>"
    let arg = #expect(throws: SBMLError.self) { try SBMLModel.parse(Data(model("<ci>x</ci>", extra: f).utf8)) }
    #expect(arg?.message.contains("argument twice") == true)
  }

  /// Functions that each call the one before twice would inline to 2^40 nodes: refused by
  /// the inlining budget, not by running out of memory.
  @Test func exponentialInliningIsRefused() throws {
    var defs =
      "<listOfFunctionDefinitions><functionDefinition id=\"f0\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><lambda><bvar><ci>a</ci></bvar><ci>a</ci></lambda></math></functionDefinition>"
    for k in 1...40 {
      defs +=
        "<functionDefinition id=\"f\(k)\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><lambda><bvar><ci>a</ci></bvar><apply><plus/><apply><ci>f\(k - 1)</ci><ci>a</ci></apply><apply><ci>f\(k - 1)</ci><ci>a</ci></apply></apply></lambda></math></functionDefinition>"
    }
    defs += "</listOfFunctionDefinitions>"
    let m = try SBMLModel.parse(Data(model("<apply><ci>f40</ci><ci>x</ci></apply>", extra: defs).utf8))
    let e = #expect(throws: SBMLError.self) { try CompiledSBML(m) }
    #expect(e?.message.contains("more than") == true, "\(String(describing: e))")
    // Ten levels (1024 terms) are fine: 2^10 · x = 2048.
    #expect(try evaluate("<apply><ci>f10</ci><ci>x</ci></apply>", extra: defs) == 2048)
  }

  /// Bytes that are not UTF-8 in an element name (found by the sbml fuzz target: Foundation's
  /// parser trapped on them) and NUL characters are refused with their line.
  @Test func bytesThatAreNotUTF8AreRefused() throws {
    let text = model("<apply><plus/><ci>x</ci><cn>1</cn></apply>")
    var bad = Data(text.replacingOccurrences(of: "<math xmlns", with: "<mQQQZ xmlns").utf8)
    for (i, b) in bad.enumerated() where b == UInt8(ascii: "Q") { bad[i] = 0xFF }
    if let z = bad.firstIndex(of: UInt8(ascii: "Z")) { bad[z] = 0 }
    let e = #expect(throws: SBMLError.self) { try SBMLModel.parse(bad) }
    #expect(e?.message.contains("not UTF-8") == true && e?.line == 10, "\(String(describing: e))")
    let nul = #expect(throws: SBMLError.self) {
      try SBMLModel.parse(Data(text.replacingOccurrences(of: "<apply>", with: "<apply>\u{0}").utf8))
    }
    #expect(nul?.message.contains("NUL") == true)
  }

  /// MathML or an annotation nested 30,000 deep is refused with a message (no stack
  /// overflow), also on a thread with a quarter of a worker's usual 8 MiB stack; MathML as
  /// deep as the reader accepts still compiles and runs there (in a debug build).
  @Test func deepNestingIsRefused() throws {
    let deep = String(repeating: "<apply><minus/>", count: 30_000) + "<ci>x</ci>" + String(repeating: "</apply>", count: 30_000)
    let annotation = "<annotation>" + String(repeating: "<a>", count: 30_000) + String(repeating: "</a>", count: 30_000) + "</annotation>"
    // 250 levels of <apply> inside <sbml><model><listOfRules><assignmentRule><math>.
    let shallow = String(repeating: "<apply><minus/>", count: 250) + "<ci>x</ci>" + String(repeating: "</apply>", count: 250)
    let results = Mutex<[String]>([])
    let thread = Thread { [self] in
      var out: [String] = []
      for doc in [model(deep), model("<ci>x</ci>", extra: annotation)] {
        do {
          _ = try SBMLModel.parse(Data(doc.utf8))
          out.append("accepted")
        } catch let e as SBMLError { out.append(e.description) } catch { out.append("\(error)") }
      }
      out.append((try? evaluate(shallow)).map { "\($0)" } ?? "failed")
      results.withLock { $0 = out }
    }
    thread.stackSize = 1 << 21
    thread.start()
    while results.withLock({ $0.isEmpty }) { Thread.sleep(forTimeInterval: 0.01) }
    let r = results.withLock { $0 }
    #expect(r[0].contains("nested more than"), "\(r[0])")
    #expect(r[1].contains("nested more than"), "\(r[1])")
    #expect(r[2] == "2.0")
  }
}
