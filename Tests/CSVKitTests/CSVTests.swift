import CSVKit
import Testing

/// Reads `bytes` through a ``CSVReader`` fed in pieces cut at `cuts` (ascending offsets).
func stream(_ bytes: [UInt8], cuts: [Int] = [], delimiter: Character = ",") throws -> [CSVRecord] {
  var reader = CSVReader(delimiter: delimiter, source: "s.csv")
  var out: [CSVRecord] = []
  var start = 0
  for cut in cuts + [bytes.count] {
    try bytes[start..<cut].withUnsafeBytes { buffer in try reader.read(buffer) { record in out.append(record) } }
    start = cut
  }
  try reader.finish { record in out.append(record) }
  return out
}

/// The error `CSV.parse` throws for `text`, or nil when it reads it.
func failure(_ text: String, maxFields: Int = CSV.fieldLimit, maxRows: Int = .max) -> CSVError? {
  do {
    _ = try CSV.parse(text, source: "e.csv", maxFields: maxFields, maxRows: maxRows)
    return nil
  } catch let e as CSVError {
    return e
  } catch {
    return nil
  }
}

/// RFC 4180 reading and writing: the RFC's own examples, line numbers for errors, round trips
/// of awkward fields, TSV, the byte order mark and reading in pieces.
struct CSVTests {
  @Test func rfc4180Examples() throws {
    // §2.1–2.2: records end with CRLF, the last one optionally.
    #expect(
      try CSV.parse("aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n", source: "t")
        == CSVTable(header: ["aaa", "bbb", "ccc"], headerLine: 1, rows: [["zzz", "yyy", "xxx"]], lines: [2]))
    #expect(try CSV.parse("aaa,bbb,ccc\r\nzzz,yyy,xxx", source: "t").rows == [["zzz", "yyy", "xxx"]])
    // §2.5: fields may be enclosed in quotes.
    #expect(try CSV.parse("\"aaa\",\"bbb\",\"ccc\"\r\nzzz,yyy,xxx", source: "t").header == ["aaa", "bbb", "ccc"])
    // §2.6: quoted fields hold line breaks, quotes and commas; the row's line is where it starts.
    let t = try CSV.parse("\"aaa\",\"b\r\nbb\",\"ccc\"\r\nzzz,yyy,xxx", source: "t")
    #expect(t.header == ["aaa", "b\r\nbb", "ccc"])
    #expect(t.rows == [["zzz", "yyy", "xxx"]] && t.lines == [3])
    #expect(try CSV.parse("a,\"b,c\",d\n", source: "t").header == ["a", "b,c", "d"])
    // §2.7: a quote inside a quoted field is doubled.
    #expect(try CSV.parse("\"aaa\",\"b\"\"bb\",\"ccc\"", source: "t").header == ["aaa", "b\"bb", "ccc"])
  }

  @Test func emptyLinesAndFields() throws {
    let t = try CSV.parse("\n\na,b\n\n1,2\r\n\r\n3,\"x\ny\"\n4,5", source: "t")
    #expect(t.header == ["a", "b"] && t.headerLine == 3)
    #expect(t.rows == [["1", "2"], ["3", "x\ny"], ["4", "5"]])
    #expect(t.lines == [5, 7, 9])
    // Empty fields are kept; a lone CR ends a line too.
    #expect(
      try CSV.parse(",\n\"\"\n,x,\r\"\",\"\"", source: "t")
        == CSVTable(header: ["", ""], headerLine: 1, rows: [[""], ["", "x", ""], ["", ""]], lines: [2, 3, 4]))
    #expect(try CSV.parse("", source: "t") == CSVTable())
    #expect(try CSV.parse("\u{FEFF}\r\n\n", source: "t") == CSVTable())
    // Records a reader skips (here: white space only) do not count as the header.
    let s = try CSV.parse("  \na\n \n1\n", source: "t", skip: { $0 == ["  "] || $0 == [" "] })
    #expect(s == CSVTable(header: ["a"], headerLine: 2, rows: [["1"]], lines: [4]))
  }

  @Test func writingQuotesOnlyWhatMustBe() {
    #expect(CSV.row(["arm A", "12", "1.5e-06", "nan", "", "-3"]) == "arm A,12,1.5e-06,nan,,-3")
    #expect(CSV.field("a,b") == "\"a,b\"")
    #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
    #expect(CSV.field("two\nlines") == "\"two\nlines\"")
    #expect(CSV.field("cr\rhere") == "\"cr\rhere\"")
    #expect(CSV.field("tab\there") == "tab\there")
    #expect(CSV.field("tab\there", delimiter: "\t") == "\"tab\there\"")
    #expect(CSV.row(["a", "b,c"], delimiter: "\t") == "a\tb,c")
    #expect(CSV.row([""]) == "\"\"")
    #expect(CSV.row(["", ""]) == ",")
    #expect(CSV.row([]) == "")
  }

  @Test func roundTrip() throws {
    let awkward = [
      "", "plain", "a,b", "say \"hi\"", "\"", "\"\"", "line\nbreak", "cr\ronly", "crlf\r\n", " spaced ",
      "tab\there", "e\u{301}", "\"\u{301}", ",", "\n", "mid\u{FEFF}bom", "ünïcödé, 漢字",
    ]
    for d: Character in [",", "\t", ";"] {
      for f in awkward {
        #expect(
          try CSV.parse(CSV.row([f, "x", f], delimiter: d) + "\n", delimiter: d, source: "t").header == [f, "x", f],
          "\(f.debugDescription)")
        #expect(try CSV.parse(CSV.row([f], delimiter: d), delimiter: d, source: "t").header == [f], "\(f.debugDescription)")
      }
      let rows = awkward.map { [$0, $0 + "!"] }
      let text = rows.map { CSV.row($0, delimiter: d) + "\r\n" }.joined()
      let t = try CSV.parse(CSV.row(["h1", "h2"], delimiter: d) + "\n" + text, delimiter: d, source: "t")
      #expect(t.rows == rows)
    }
  }

  @Test func errorsNameLineAndColumn() {
    let unquoted = "a quote inside an unquoted field (enclose the whole field in quotes and double the quote)"
    #expect(failure("a,b\"c\n") == CSVError(source: "e.csv", line: 1, column: 2, unquoted))
    #expect(failure("x\ny\na, \"b\"\n") == CSVError(source: "e.csv", line: 3, column: 2, unquoted))
    #expect(failure("a,\"b\"c\n") == CSVError(source: "e.csv", line: 1, column: 2, "text after the closing quote of a quoted field"))
    #expect(failure("a\r\n\"x\r\ny\"z") == CSVError(source: "e.csv", line: 3, column: 1, "text after the closing quote of a quoted field"))
    #expect(
      failure("a\n1,\"b,\nc\n\n") == CSVError(source: "e.csv", line: 2, column: 2, "the quoted field starting on this line is never closed")
    )
    #expect(failure("a,b,c\n", maxFields: 2) == CSVError(source: "e.csv", line: 1, "more than 2 fields in one record"))
    #expect(failure("a,b\n", maxFields: 2) == nil)
    #expect(failure("h\n1\n\n2\n3\n", maxRows: 2) == CSVError(source: "e.csv", line: 5, "more than 2 rows"))
    #expect(
      failure(String(repeating: ",", count: CSV.fieldLimit))
        == CSVError(source: "e.csv", line: 1, "more than \(CSV.fieldLimit) fields in one record"))
    #expect(CSVError(source: "e.csv", line: 3, column: 2, "m").description == "e.csv: line 3, column 2: m")
    #expect(CSVError(source: "e.csv", line: 3, "m").description == "e.csv: line 3: m")
  }

  @Test func tabSeparated() throws {
    let t = try CSV.parse("id\tname\tnote\n1\t\"a\tb\"\t x \n2\t\t\n", delimiter: "\t", source: "t.tsv")
    #expect(t == CSVTable(header: ["id", "name", "note"], headerLine: 1, rows: [["1", "a\tb", " x "], ["2", "", ""]], lines: [2, 3]))
    #expect(try CSV.parse("a,b\tc\n", delimiter: "\t", source: "t.tsv").header == ["a,b", "c"])
  }

  @Test func byteOrderMark() throws {
    #expect(try CSV.parse("\u{FEFF}a,b\n1,2\n", source: "t").header == ["a", "b"])
    #expect(try CSV.parse("\u{FEFF}\"a,b\",c\n", source: "t").header == ["a,b", "c"])
    // Only at the start: elsewhere it is text.
    #expect(try CSV.parse("a,\u{FEFF}b\n", source: "t").header == ["a", "\u{FEFF}b"])
    #expect(try stream([0xEF, 0xBB]).map(\.fields) == [["\u{FFFD}"]])
  }

  @Test func streamingInAnyPieces() throws {
    let bytes = Array("\u{FEFF}id,\"x\r\ny\"\r\n1,\"a\"\"b\"\r2,3".utf8)
    let whole = try stream(bytes)
    #expect(
      whole == [
        CSVRecord(fields: ["id", "x\r\ny"], line: 1, end: 14), CSVRecord(fields: ["1", "a\"b"], line: 3, end: 23),
        CSVRecord(fields: ["2", "3"], line: 4, end: 26),
      ])
    for i in 0...bytes.count {
      for j in i...bytes.count {
        if try stream(bytes, cuts: [i, j]) != whole { Issue.record("cut at \(i) and \(j) reads differently") }
      }
    }
  }
}
