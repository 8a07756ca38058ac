import CSVKit
import Foundation

/// A malformed PEtab problem: the file and, where known, the row (1-based, the header is
/// row 1) or line, and the column.
public struct PEtabError: Error, CustomStringConvertible, Equatable {
  public var file: String
  public var line: Int?
  public var column: String?
  public var message: String

  public init(file: String, line: Int? = nil, column: String? = nil, _ message: String) {
    self.file = file
    self.line = line
    self.column = column
    self.message = message
  }

  public var description: String {
    var s = file
    if let l = line { s += ", row \(l)" }
    if let c = column { s += ", column '\(c)'" }
    return s + ": " + message
  }
}

/// PEtab numbers: decimal literals, `inf`/`-inf`, `nan` (any case).
public enum PEtabNumber {
  public static func parse(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    switch t.lowercased() {
    case "nan": return .nan
    case "inf", "+inf", "infinity": return .infinity
    case "-inf", "-infinity": return -.infinity
    default: break
    }
    guard !t.isEmpty, t.count < 64, t.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }) else { return nil }
    return Double(t)
  }
}

/// A tab-separated PEtab table: a header row of column names, then rows of cells (missing
/// trailing cells are empty). Limits keep a hostile file from exhausting memory.
public struct PEtabTable: Sendable {
  public static let maxBytes = 256 << 20, maxRows = 5_000_000, maxColumns = 10_000
  public let file: String
  public let columns: [String]
  public let rows: [[String]]
  let index: [String: Int]

  public init(contentsOf url: URL, name: String) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw PEtabError(file: name, "cannot be read (\(error.localizedDescription))") }
    guard data.count <= Self.maxBytes else { throw PEtabError(file: name, "larger than \(Self.maxBytes >> 20) MiB") }
    guard let text = String(data: data, encoding: .utf8) else { throw PEtabError(file: name, "is not UTF-8 text") }
    try self.init(text: text, file: name)
  }

  /// Reads the table per RFC 4180 with tabs between cells (as pandas reads PEtab files: a
  /// quoted cell may hold tabs and line breaks). Cells are trimmed of spaces and tabs, lines of
  /// white space only are skipped, and rows may leave out trailing cells.
  public init(text: String, file: String) throws {
    self.file = file
    let table: CSVTable
    do {
      table = try CSV.parse(
        text, delimiter: "\t", source: file, maxRows: Self.maxRows,
        skip: { $0.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } })
    } catch let e as CSVError {
      throw PEtabError(file: file, line: e.line, e.column.map { "cell \($0): " + e.message } ?? e.message)
    }
    guard !table.header.isEmpty else { throw PEtabError(file: file, "is empty (a header row is required)") }
    let cols = table.header.map { $0.trimmingCharacters(in: .whitespaces) }
    guard cols.count <= Self.maxColumns else {
      throw PEtabError(file: file, line: table.headerLine, "more than \(Self.maxColumns) columns")
    }
    var index: [String: Int] = [:]
    for (k, c) in cols.enumerated() where !c.isEmpty {
      guard index[c] == nil else { throw PEtabError(file: file, line: table.headerLine, column: c, "column appears twice") }
      index[c] = k
    }
    var rows: [[String]] = []
    rows.reserveCapacity(table.rows.count)
    for (row, line) in zip(table.rows, table.lines) {
      var cells = row.map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count <= cols.count else {
        throw PEtabError(file: file, line: line, "has \(cells.count) cells, the header \(cols.count) columns")
      }
      while cells.count < cols.count { cells.append("") }
      rows.append(cells)
    }
    self.columns = cols
    self.rows = rows
    self.index = index
    headerLine = table.headerLine
    rowNumbers = table.lines
  }

  /// The 1-based line of the header and of each row (blank lines are skipped and quoted cells
  /// may span lines, so rows and lines differ).
  let headerLine: Int
  let rowNumbers: [Int]

  public func has(_ column: String) -> Bool { index[column] != nil }

  public func require(_ column: String) throws {
    guard has(column) else { throw PEtabError(file: file, line: headerLine, column: column, "required column is missing") }
  }

  /// The cell, or "" when the column is absent.
  public func cell(_ row: Int, _ column: String) -> String {
    guard let c = index[column] else { return "" }
    return rows[row][c]
  }

  public func line(_ row: Int) -> Int { rowNumbers[row] }

  public func error(_ row: Int, _ column: String?, _ message: String) -> PEtabError {
    PEtabError(file: file, line: line(row), column: column, message)
  }

  /// A required number (NaN allowed only if `allowNaN`).
  public func number(_ row: Int, _ column: String, allowNaN: Bool = false) throws -> Double {
    let s = cell(row, column)
    guard let v = PEtabNumber.parse(s) else { throw error(row, column, s.isEmpty ? "a number is required" : "'\(s)' is not a number") }
    if v.isNaN && !allowNaN { throw error(row, column, "NaN is not allowed here") }
    return v
  }

  /// A non-empty identifier: a letter or underscore, then letters, digits, underscores.
  public func identifier(_ row: Int, _ column: String) throws -> String {
    let s = cell(row, column)
    guard PEtabTable.isIdentifier(s) else {
      throw error(row, column, s.isEmpty ? "an identifier is required" : "'\(s)' is not a valid identifier")
    }
    return s
  }

  public static func isIdentifier(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, s.unicodeScalars.count <= 256 else { return false }
    func letter(_ u: Unicode.Scalar) -> Bool { (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || u == "_" }
    return letter(f) && s.unicodeScalars.allSatisfy { letter($0) || ($0 >= "0" && $0 <= "9") }
  }
}
