import Foundation
import TestSupport
import Testing

@testable import Estimation

@Suite("PEtab readers")
struct ReaderTests {
  @Test("formulas: precedence, powers, functions, and errors")
  func formulas() throws {
    func value(_ text: String, _ symbols: [String: Double] = [:]) throws -> Double {
      let f = try Formula(text)
      let names = Array(symbols.keys)
      let b = try f.bind { names.firstIndex(of: $0)! }
      return b.evaluate(names.map { symbols[$0]! })
    }
    #expect(try value("1 + 2 * 3") == 7)
    #expect(try value("-2^2") == -4)
    #expect(try value("2**3**2") == 512)
    #expect(try value("log(100, 10)") == 2)
    #expect(try value("log10(1000) + exp(0) + sqrt(16)") == 8)
    #expect(try value("a * (b - 1) / 2", ["a": 3, "b": 5]) == 6)
    #expect(try value("1.5e-3 * 2e3") == 3)
    #expect(try value("piecewise(1, x > 2, 0)", ["x": 3]) == 1)
    #expect(throws: FormulaError.self) { try Formula("2 +") }
    #expect(throws: FormulaError.self) { try Formula("foo(1)") }
    #expect(throws: FormulaError.self) { try Formula(String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)) }
  }

  @Test("YAML subset: mappings, block and flow lists, comments, quoting")
  func yaml() throws {
    let y = try YAML.parse(
      """
      # a problem
      format_version: 1
      parameter_file: 'p.tsv'
      problems:
      - condition_files: [c1.tsv, c2.tsv]
        sbml_files:
          - m.xml   # the model
      """, file: "x.yaml")
    #expect(y["format_version"]?.string == "1")
    #expect(y["parameter_file"]?.string == "p.tsv")
    #expect(y["problems"]?.array?.first?["condition_files"]?.strings == ["c1.tsv", "c2.tsv"])
    #expect(y["problems"]?.array?.first?["sbml_files"]?.strings == ["m.xml"])
    #expect(throws: PEtabError.self) { try YAML.parse("a: 1\na: 2", file: "x.yaml") }
    #expect(throws: PEtabError.self) { try YAML.parse("a: &anchor 1", file: "x.yaml") }
  }

  /// PEtab tables per RFC 4180 with tabs (as pandas reads them): quoted cells may hold tabs,
  /// quotes and line breaks; cells are trimmed, white-space lines skipped, short rows padded,
  /// and row numbers are lines in the file.
  @Test("tables: quoting, blank lines, trimming and line numbers")
  func tables() throws {
    let t = try PEtabTable(
      text: "\u{FEFF}id\t name \tnote\r\n\r\n a \t\"x\ty\"\t\"say \"\"hi\"\"\"\r\n \t \r\nb\t\"two\nlines\"\r\nc\n\n",
      file: "t.tsv")
    #expect(t.columns == ["id", "name", "note"])
    #expect(t.rows == [["a", "x\ty", "say \"hi\""], ["b", "two\nlines", ""], ["c", "", ""]])
    #expect(t.rows.indices.map(t.line) == [3, 5, 7])
    #expect(t.cell(1, "name") == "two\nlines")
    func error(_ text: String) -> PEtabError? {
      do {
        _ = try PEtabTable(text: text, file: "t.tsv")
        return nil
      } catch { return error as? PEtabError }
    }
    #expect(error("a\tb\n1\t2\t3\n") == PEtabError(file: "t.tsv", line: 2, "has 3 cells, the header 2 columns"))
    #expect(
      error("a\tb\n\n1\t2\"\n")
        == PEtabError(
          file: "t.tsv", line: 3, "cell 2: a quote inside an unquoted field (enclose the whole field in quotes and double the quote)"))
    #expect(error("a\tb\n1\t\"2\n") == PEtabError(file: "t.tsv", line: 2, "cell 2: the quoted field starting on this line is never closed"))
    #expect(error(" \t \n\n") == PEtabError(file: "t.tsv", "is empty (a header row is required)"))
    #expect(error("\na\ta\n") == PEtabError(file: "t.tsv", line: 2, column: "a", "column appears twice"))
  }

  /// Copies a test-suite case to a temporary folder with one file replaced.
  static func brokenCase(_ file: String, _ edit: (String) -> String) throws -> String {
    let src = sharedRoot.appendingPathComponent("petab-test-suite/cases/0002")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("petab-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: src, to: dir)
    let url = dir.appendingPathComponent(file)
    try edit(try String(contentsOf: url, encoding: .utf8)).write(to: url, atomically: true, encoding: .utf8)
    return dir.appendingPathComponent("_0002.yaml").path
  }

  @Test(
    "a malformed problem is refused with the file, row and column named",
    arguments: [
      ("_measurements.tsv", "0.7", "abc", "_measurements.tsv", "measurement"),
      ("_measurements.tsv", "\tc0\t", "\tnope\t", "_measurements.tsv", "simulationConditionId"),
      ("_parameters.tsv", "\tlin\t", "\tlog2\t", "_parameters.tsv", "parameterScale"),
      ("_observables.tsv", "A", "A +", "_observables.tsv", "observableFormula"),
      ("_conditions.tsv", "a0", "zz", "_conditions.tsv", "zz"),
    ])
  func malformed(_ file: String, _ find: String, _ replace: String, _ named: String, _ column: String) throws {
    let path = try Self.brokenCase(file) { text in
      guard let r = text.range(of: find) else { return text }
      return text.replacingCharacters(in: r, with: replace)
    }
    do {
      _ = try PEtabProblem.load(path)
      Issue.record("accepted a malformed \(file)")
    } catch let e as PEtabError {
      #expect(e.file.hasSuffix(named), "\(e)")
      #expect(e.column == column, "\(e)")
      if file != "_conditions.tsv" { #expect(e.line != nil, "\(e)") }
    }
  }
}
