import CSVKit
import Foundation

/// A NONMEM-style dataset, read as NM-TRAN reads it: one column per `$INPUT` item, records
/// grouped into subjects by runs of the same ID, the data items NONMEM reserves (ID, TIME, DV,
/// AMT, EVID, MDV, CMT, RATE, II, ADDL, SS) interpreted, every other column a covariate carried
/// with its record. Below-quantification values are marked by a `CENS`/`BLQ` column (1: DV is
/// the limit and the value lies below it) or an `LLOQ`/`LOQ` column (DV below it is censored).
public struct Dataset: Sendable {
  public var source: String
  /// The names of the kept columns, in `$INPUT` order (synonyms resolved to the first name).
  public var items: [String]
  public var subjects: [Subject]

  public struct Subject: Sendable {
    public var id: Double
    public var records: [Record]
    /// The observation records that enter the likelihood (EVID 0, MDV 0), as indices into
    /// ``records``.
    public var observations: [Int]
  }

  public struct Record: Sendable {
    /// The row's line in the data file.
    public var line: Int
    /// All kept data items of the row, in ``Dataset/items`` order.
    public var values: [Double]
    public var time: Double
    public var evid: Int
    public var mdv: Bool
    public var amt: Double
    public var rate: Double
    /// The compartment, 0 for the default one (dose or observation).
    public var cmt: Int
    public var ii: Double
    public var addl: Int
    public var ss: Int
    public var dv: Double
    /// The quantification limit when the value is censored below it (M3/M4), else nil.
    public var censoredBelow: Double?
    /// The quantification limit that applies to the record (what a simulated value is
    /// censored by): the LLOQ column, or with a CENS column alone the subject's censored
    /// value (the study's largest when the subject has none); nil without censoring.
    public var limit: Double?
  }

  public var observationCount: Int { subjects.reduce(0) { $0 + $1.observations.count } }
}

extension Dataset {
  /// Reads `text` with the columns of `input` and the record filters of `record`.
  /// - Throws: ``NLMEError`` naming the file, the row's line and the column at fault.
  public init(text: String, source: String, input: [ControlStream.InputItem], record: ControlStream.DataRecord) throws {
    self.source = source
    let kept = input.enumerated().filter { !$0.element.dropped }
    items = kept.map { $0.element.name }
    func column(_ names: String...) -> Int? {
      kept.firstIndex { names.contains($0.element.name) || $0.element.synonym.map(names.contains) == true }
    }
    let id = column("ID")
    guard let id else { throw NLMEError(source, field: "$INPUT", "no ID item") }
    guard let timeColumn = column("TIME") else { throw NLMEError(source, field: "$INPUT", "no TIME item") }
    guard let dvColumn = column("DV") else { throw NLMEError(source, field: "$INPUT", "no DV item") }
    let c = (
      amt: column("AMT"), evid: column("EVID"), mdv: column("MDV"), cmt: column("CMT"), rate: column("RATE"), ii: column("II"),
      addl: column("ADDL"), ss: column("SS"), cens: column("CENS", "BLQ"), lloq: column("LLOQ", "LOQ")
    )
    let conditionColumns = try (record.ignore + record.accept).map { cond -> Int in
      guard let k = kept.firstIndex(where: { $0.element.name == cond.item || $0.element.synonym == cond.item }) else {
        throw NLMEError(source, line: record.line, field: "$DATA", "condition on \(cond.item), which is not a kept $INPUT item")
      }
      return k
    }
    var subjects: [Subject] = []
    var total = 0
    for (lineIndex, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let lineNumber = lineIndex + 1
      let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
      let trimmed = line.drop { $0 == " " || $0 == "\t" }
      guard let first = trimmed.first else { continue }
      if record.ignoreCharacter == "@" ? (first.isLetter || first == "@") : first == record.ignoreCharacter { continue }
      let fields = Self.fields(line)
      // A CSV header naming the $INPUT items (a file given with --data) is not data.
      if subjects.isEmpty, fields.count >= input.count,
        zip(fields, input).allSatisfy({ $0.uppercased() == $1.name || $0.uppercased() == $1.synonym })
      {
        continue
      }
      guard fields.count >= input.count else {
        throw NLMEError(source, line: lineNumber, "\(fields.count) fields where $INPUT names \(input.count)")
      }
      var values = [Double](repeating: 0, count: kept.count)
      for (k, item) in kept.enumerated() {
        let f = fields[item.offset]
        if f == "." || f.isEmpty { continue }
        guard let v = Double(f.replacingOccurrences(of: "D", with: "E").replacingOccurrences(of: "d", with: "e")), v.isFinite else {
          throw NLMEError(source, line: lineNumber, field: item.element.name, "'\(f)' is not a number")
        }
        values[k] = v
      }
      // IGNORE=(…) drops a row when any condition holds; ACCEPT=(…) keeps it when any holds.
      let holds = zip(record.ignore + record.accept, conditionColumns).map { cond, k in
        Expr.binary(cond.op, .constant(values[k]), .constant(cond.value)).evaluateConstant() != 0
      }
      if !record.ignore.isEmpty && holds.contains(true) { continue }
      if !record.accept.isEmpty && !holds.contains(true) { continue }

      func value(_ k: Int?) -> Double { k.map { values[$0] } ?? 0 }
      func integer(_ k: Int?, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        let v = value(k)
        guard v == v.rounded(), v >= Double(range.lowerBound), v <= Double(range.upperBound) else {
          throw NLMEError(
            source, line: lineNumber, field: name, "\(NLMEError.shown(v)) is not an integer in \(range.lowerBound)–\(range.upperBound)")
        }
        return Int(v)
      }
      let amt = value(c.amt)
      let evid = c.evid == nil ? (amt != 0 ? 1 : 0) : try integer(c.evid, "EVID", 0...4)
      let mdv = c.mdv == nil ? evid != 0 : try integer(c.mdv, "MDV", 0...1) == 1
      let time = values[timeColumn]
      var r = Record(
        line: lineNumber, values: values, time: time, evid: evid, mdv: mdv, amt: amt, rate: value(c.rate),
        cmt: try integer(c.cmt, "CMT", -NLMELimits.maxCompartments...NLMELimits.maxCompartments), ii: value(c.ii),
        addl: try integer(c.addl, "ADDL", 0...NLMELimits.maxAdditionalDoses), ss: try integer(c.ss, "SS", 0...2), dv: values[dvColumn],
        censoredBelow: nil, limit: nil)
      guard time >= 0 else { throw NLMEError(source, line: lineNumber, field: "TIME", "negative time \(time)") }
      if evid == 1 || evid == 4 {
        guard amt >= 0 || r.ss != 0 else { throw NLMEError(source, line: lineNumber, field: "AMT", "a negative dose") }
        guard r.rate >= 0 || r.rate == -1 || r.rate == -2 else {
          throw NLMEError(source, line: lineNumber, field: "RATE", "\(r.rate): expected ≥ 0, −1 (modelled rate) or −2 (modelled duration)")
        }
        guard r.ii >= 0 else { throw NLMEError(source, line: lineNumber, field: "II", "negative interval") }
        guard r.addl == 0 || r.ii > 0 else { throw NLMEError(source, line: lineNumber, field: "II", "ADDL > 0 needs II > 0") }
        guard r.ss == 0 || r.ii > 0 || r.rate > 0 else {
          throw NLMEError(source, line: lineNumber, field: "II", "SS needs II > 0 (or a constant infusion)")
        }
      } else if r.addl != 0 || r.ss != 0 {
        throw NLMEError(source, line: lineNumber, field: r.addl != 0 ? "ADDL" : "SS", "only dose records (EVID 1, 4) may have it")
      }
      if evid == 0 && !mdv {
        if value(c.cens) == 1 {
          r.censoredBelow = r.dv
        } else if value(c.cens) != 0 {
          throw NLMEError(source, line: lineNumber, field: "CENS", "only 0 and 1 (below the limit) are supported")
        } else if let l = c.lloq, values[l] > 0, r.dv < values[l] {
          r.censoredBelow = values[l]
        }
      }
      let subjectID = values[id]
      if subjects.last?.id != subjectID {
        subjects.append(Subject(id: subjectID, records: [], observations: []))
      } else if let previous = subjects.last?.records.last, time < previous.time, evid != 3, evid != 4 {
        throw NLMEError(
          source, line: lineNumber, field: "TIME",
          "time goes back from \(NLMEError.shown(previous.time)) to \(NLMEError.shown(time)) within ID \(NLMEError.shown(subjectID))")
      }
      total += 1 + r.addl
      guard total <= NLMELimits.maxRecords else { throw NLMEError(source, line: lineNumber, "more than \(NLMELimits.maxRecords) records") }
      if evid == 0 && !mdv {
        guard subjects[subjects.count - 1].observations.count < NLMELimits.maxSubjectObservations else {
          throw NLMEError(
            source, line: lineNumber, field: "ID",
            "ID \(NLMEError.shown(subjectID)) has more than \(NLMELimits.maxSubjectObservations) observations")
        }
        subjects[subjects.count - 1].observations.append(subjects[subjects.count - 1].records.count)
      }
      subjects[subjects.count - 1].records.append(r)
    }
    guard !subjects.isEmpty else { throw NLMEError(source, "no data records") }
    if let l = c.lloq {
      for i in subjects.indices {
        for j in subjects[i].records.indices where subjects[i].records[j].values[l] > 0 {
          subjects[i].records[j].limit = subjects[i].records[j].values[l]
        }
      }
    } else {
      let study = subjects.flatMap { $0.records.compactMap(\.censoredBelow) }.max()
      for i in subjects.indices {
        let own = subjects[i].records.compactMap(\.censoredBelow).max() ?? study
        for j in subjects[i].records.indices { subjects[i].records[j].limit = own }
      }
    }
    self.subjects = subjects
  }

  /// Splits a row on commas and blanks, as NM-TRAN does: blanks around a comma belong to it,
  /// an empty field between two commas is 0.
  static func fields(_ line: Substring) -> [String] {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard line.contains(",") else { return line.split(whereSeparator: blank).map(String.init) }
    return line.split(separator: ",", omittingEmptySubsequences: false).flatMap { part -> [String] in
      let words = part.split(whereSeparator: blank).map(String.init)
      return words.isEmpty ? [""] : words
    }
  }
}

extension Expr {
  /// The value of an expression without slots.
  func evaluateConstant() -> Double {
    var none = 0.0
    return withUnsafeMutablePointer(to: &none) { evaluate($0) }
  }
}
