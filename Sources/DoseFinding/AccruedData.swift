import CSVKit

/// A real trial's accrued data, as `cartsim design next --data FILE` reads it: a CSV with the
/// columns `dose,patients,dlts` (any order, other columns ignored), one row per cohort or one
/// per dose. Doses are 1-based in the file; every count is checked, so no row can overflow the
/// totals or name a dose the design does not have.
public struct AccruedData: Sendable {
  /// Patients and DLTs per dose (0-based).
  public var patients: [Int]
  public var dlts: [Int]
  /// The dose (1-based) and counts of the last row.
  public var lastDose: Int
  public var lastRow: (size: Int, dlts: Int)
  /// Whether some dose appears in several rows: the rows are then cohorts, and the last row is
  /// the last cohort (otherwise rows are per-dose totals).
  public var rowsAreCohorts: Bool

  /// The most patients one row may count, and all rows together.
  public static let maxPatients = 100_000

  /// Reads `csv`; `source` names it in errors, which give the line and column.
  /// - Throws: ``DoseFindingInputError``.
  public init(csv: String, source: String, doses: Int) throws {
    guard (1...TrialConfig.maxDoses).contains(doses) else {
      throw DoseFindingInputError(source: source, field: "doses", "must be 1…\(TrialConfig.maxDoses) (got \(doses))")
    }
    // RFC 4180 (quoted fields may hold commas); lines of white space only are skipped, as ever.
    let table: CSVTable
    do {
      table = try CSV.parse(csv, source: source, skip: { $0.count == 1 && Self.trimmed($0[0]).isEmpty })
    } catch let e as CSVError {
      throw DoseFindingInputError(source: source, field: e.place, e.message)
    }
    guard !table.header.isEmpty else { throw DoseFindingInputError(source: source, field: "header", "the file is empty") }
    let cols = table.header.map { Self.trimmed($0).lowercased() }
    guard let di = cols.firstIndex(of: "dose"), let ni = cols.firstIndex(of: "patients"), let yi = cols.firstIndex(of: "dlts") else {
      let header = Self.trimmed(table.header.joined(separator: ","))
      throw DoseFindingInputError(source: source, field: "header", "must name the columns dose,patients,dlts (got '\(header)')")
    }
    var n = Array(repeating: 0, count: doses), y = n, seen = Set<Int>(), repeated = false, total = 0
    var last: (dose: Int, size: Int, dlts: Int)? = nil
    for (row, line) in zip(table.rows, table.lines) {
      let f = row.map(Self.trimmed)
      func int(_ i: Int, _ name: String) throws -> Int {
        guard i < f.count, let v = Int(f[i]) else {
          throw DoseFindingInputError(source: source, field: "line \(line): \(name)", "'\(i < f.count ? f[i] : "")' is not an integer")
        }
        return v
      }
      let d = try int(di, "dose"), p = try int(ni, "patients"), t = try int(yi, "dlts")
      guard (1...doses).contains(d) else {
        throw DoseFindingInputError(source: source, field: "line \(line): dose", "\(d) is not between 1 and \(doses)")
      }
      guard (0...Self.maxPatients).contains(p) else {
        throw DoseFindingInputError(source: source, field: "line \(line): patients", "\(p) is not between 0 and \(Self.maxPatients)")
      }
      guard t >= 0 && t <= p else {
        throw DoseFindingInputError(source: source, field: "line \(line): dlts", "\(t) is not between 0 and patients (\(p))")
      }
      total += p
      guard total <= Self.maxPatients else {
        throw DoseFindingInputError(
          source: source, field: "line \(line): patients", "the rows count more than \(Self.maxPatients) patients")
      }
      if !seen.insert(d).inserted { repeated = true }
      n[d - 1] += p
      y[d - 1] += t
      last = (d, p, t)
    }
    guard let last else { throw DoseFindingInputError(source: source, field: "rows", "no data rows") }
    patients = n
    dlts = y
    lastDose = last.dose
    lastRow = (last.size, last.dlts)
    rowsAreCohorts = repeated
  }

  /// `s` without leading and trailing white space.
  static func trimmed<S: StringProtocol>(_ s: S) -> String {
    String(s.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }
}
