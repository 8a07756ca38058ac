/// A whole CSV (or TSV) text as read by ``CSV/parse(_:delimiter:source:maxFields:maxRows:skip:)``:
/// the first record is the header, the others the rows.
public struct CSVTable: Equatable, Sendable {
  /// The first record's fields; empty only when the text holds no record at all.
  public var header: [String]
  /// The 1-based line the header is on (0 without one).
  public var headerLine: Int
  public var rows: [[String]]
  /// The 1-based line each row starts on, for errors: skipped lines and quoted line breaks
  /// make row and line numbers differ.
  public var lines: [Int]

  public init(header: [String] = [], headerLine: Int = 0, rows: [[String]] = [], lines: [Int] = []) {
    self.header = header
    self.headerLine = headerLine
    self.rows = rows
    self.lines = lines
  }
}

/// Reading and writing CSV and TSV per RFC 4180, in one place so that every reader and writer
/// of the package quotes alike (see ``CSVReader`` for what is accepted). Writers quote a field
/// only when it must be, so files of plain fields are the same as joining with the delimiter.
public enum CSV {
  /// The most fields one record may have unless a reader asks for fewer: far above any real
  /// table, low enough that one hostile row cannot exhaust memory.
  public static let fieldLimit = 100_000

  /// Reads a whole text.
  /// - Parameters:
  ///   - delimiter: one ASCII character other than a quote, CR or LF (`"\t"` for TSV).
  ///   - source: names the text in errors (a file name).
  ///   - maxFields: the most fields a record may have.
  ///   - maxRows: the most rows (besides the header); more are refused as they are read.
  ///   - skip: records to pass over as if they were empty lines, e.g. lines of white space
  ///     only, for readers that always allowed them; the header is the first record kept.
  /// - Throws: ``CSVError``.
  public static func parse(
    _ text: String, delimiter: Character = ",", source: String, maxFields: Int = CSV.fieldLimit,
    maxRows: Int = .max, skip: ([String]) -> Bool = { _ in false }
  ) throws -> CSVTable {
    var reader = CSVReader(delimiter: delimiter, source: source, maxFields: maxFields)
    var table = CSVTable()
    func add(_ record: CSVRecord) throws {
      if skip(record.fields) { return }
      if table.headerLine == 0 {
        table.header = record.fields
        table.headerLine = record.line
        return
      }
      guard table.rows.count < maxRows else { throw CSVError(source: source, line: record.line, "more than \(maxRows) rows") }
      table.rows.append(record.fields)
      table.lines.append(record.line)
    }
    var text = text
    text.makeContiguousUTF8()
    let contiguous: Void? = try text.utf8.withContiguousStorageIfAvailable { try reader.read(UnsafeRawBufferPointer($0), add) }
    if contiguous == nil { try Array(text.utf8).withUnsafeBytes { try reader.read($0, add) } }
    try reader.finish(add)
    return table
  }

  /// `s` as one field: unchanged unless it holds the delimiter, a quote, CR or LF; then in
  /// quotes, each quote doubled.
  public static func field(_ s: String, delimiter: Character = ",") -> String {
    let d = byte(delimiter)
    guard s.utf8.contains(where: { $0 == d || $0 == quote || $0 == lf || $0 == cr }) else { return s }
    var out = String.UnicodeScalarView()
    out.append("\"")
    // By scalar, not by character: a quote followed by a combining mark is one character.
    for u in s.unicodeScalars {
      if u == "\"" { out.append(u) }
      out.append(u)
    }
    out.append("\"")
    return String(out)
  }

  /// One record's line, without its line break. A record of one empty field is written `""`:
  /// an empty line would be read as no record.
  public static func row(_ fields: [String], delimiter: Character = ",") -> String {
    if fields.count == 1 && fields[0].isEmpty { return "\"\"" }
    return fields.map { field($0, delimiter: delimiter) }.joined(separator: String(delimiter))
  }

  static let quote: UInt8 = 0x22, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
  static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

  /// The delimiter's byte. Any other delimiter is a programming error, not an input error.
  static func byte(_ delimiter: Character) -> UInt8 {
    guard let b = delimiter.asciiValue, delimiter.utf8.count == 1, b != quote, b != lf, b != cr else {
      preconditionFailure("a CSV delimiter is one ASCII character other than a quote, CR or LF (got \(delimiter.debugDescription))")
    }
    return b
  }
}
