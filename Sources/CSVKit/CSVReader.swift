/// A malformed CSV input: the source it came from (a file name), the 1-based line and, where
/// known, the 1-based column (the field's number in its record). Callers with error types of
/// their own carry ``place`` and ``message`` over, so every reader names the place the same way.
public struct CSVError: Error, CustomStringConvertible, Equatable, Sendable {
  public var source: String
  public var line: Int
  public var column: Int?
  public var message: String

  public init(source: String, line: Int, column: Int? = nil, _ message: String) {
    self.source = source
    self.line = line
    self.column = column
    self.message = message
  }

  /// `line 3, column 2`, or `line 3` when no one field is at fault.
  public var place: String { column.map { "line \(line), column \($0)" } ?? "line \(line)" }

  public var description: String { "\(source): \(place): \(message)" }
}

/// One record as read: its fields, the line it starts on and where it ends in the input.
public struct CSVRecord: Equatable, Sendable {
  public var fields: [String]
  /// The 1-based line the record starts on (a quoted field may hold line breaks, so a record
  /// can span several lines).
  public var line: Int
  /// The number of input bytes up to and including the record's line break: a reader that
  /// copies the input can skip a header by it.
  public var end: Int

  public init(fields: [String], line: Int, end: Int) {
    self.fields = fields
    self.line = line
    self.end = end
  }
}

/// An RFC 4180 reader fed bytes in pieces of any size (a file read in chunks keeps memory flat
/// in its size): ``read(_:_:)`` hands over each complete record, ``finish(_:)`` the last one.
///
/// Fields are separated by the delimiter and records by LF, CRLF or a lone CR (old Mac files;
/// the readers this one replaced accepted them). A field may be enclosed in double quotes, and
/// then hold delimiters, line breaks and doubled quotes (`""` for one). A quote inside an
/// unquoted field, text after a closing quote and a quoted field never closed are errors.
/// A UTF-8 byte order mark at the start is skipped; empty lines are no records; the last line
/// break is optional. Invalid UTF-8 inside a field reads as U+FFFD.
///
/// A record of more than `maxFields` fields is refused when its field `maxFields + 1` starts,
/// so no input can exhaust memory through one row.
public struct CSVReader: Sendable {
  public let source: String
  public let maxFields: Int
  let delimiter: UInt8

  private enum State: Sendable {
    /// At the start of a field: after a delimiter, a line break or at the start of the input.
    case fieldStart
    case unquoted
    case quoted
    /// A quote inside a quoted field: the closing quote, or the first of a doubled one.
    case quoteInQuoted
  }

  private var state = State.fieldStart
  private var field: [UInt8] = []
  private var fields: [String] = []
  /// The record in `fields` ended with a CR and is handed over with the next byte (or at the
  /// end), so that a LF following the CR counts in its ``CSVRecord/end``.
  private var complete = false
  private var afterCR = false
  /// The line of the byte being read, and the line the current record and quoted field start on.
  private var line = 1
  private var recordLine = 1
  private var quoteLine = 1
  /// Bytes consumed so far, and leading bytes that may still turn out to be a byte order mark.
  private var offset = 0
  private var leading: [UInt8] = []
  private var pastBOM = false

  /// - Parameters:
  ///   - delimiter: one ASCII character other than a quote, CR or LF.
  ///   - source: names the input in errors.
  ///   - maxFields: the most fields a record may have.
  public init(delimiter: Character = ",", source: String, maxFields: Int = CSV.fieldLimit) {
    self.delimiter = CSV.byte(delimiter)
    self.source = source
    self.maxFields = max(1, maxFields)
  }

  /// Reads the next bytes of the input, calling `body` with each record they complete.
  public mutating func read(_ bytes: UnsafeRawBufferPointer, _ body: (CSVRecord) throws -> Void) throws {
    for b in bytes {
      if pastBOM {
        try step(b, body)
        continue
      }
      leading.append(b)
      if leading == CSV.bom {
        offset += leading.count
        leading = []
        pastBOM = true
      } else if !CSV.bom.starts(with: leading) {
        try replayLeading(body)
      }
    }
  }

  /// Ends the input: hands over the last record if it has no line break, and refuses a quoted
  /// field left open. The reader is not to be used afterwards, nor after an error.
  public mutating func finish(_ body: (CSVRecord) throws -> Void) throws {
    if !pastBOM { try replayLeading(body) }
    if complete { try deliver(body) }
    switch state {
    case .quoted:
      throw CSVError(source: source, line: quoteLine, column: fields.count + 1, "the quoted field starting on this line is never closed")
    case .fieldStart where fields.isEmpty:
      break
    case .fieldStart, .unquoted, .quoteInQuoted:
      endRecord()
      try deliver(body)
    }
  }

  /// The bytes held back while they could have been a byte order mark, read as text.
  private mutating func replayLeading(_ body: (CSVRecord) throws -> Void) throws {
    pastBOM = true
    let held = leading
    leading = []
    for b in held { try step(b, body) }
  }

  private mutating func step(_ b: UInt8, _ body: (CSVRecord) throws -> Void) throws {
    if complete {
      // The record ended with a CR: a LF right after it is part of the same line break.
      if b == CSV.lf {
        offset += 1
        afterCR = false
        try deliver(body)
        return
      }
      try deliver(body)
    }
    offset += 1
    switch state {
    case .fieldStart:
      if b == CSV.quote {
        if fields.isEmpty { recordLine = line }
        quoteLine = line
        state = .quoted
      } else if b == delimiter {
        if fields.isEmpty { recordLine = line }
        try endField()
      } else if b == CSV.lf || b == CSV.cr {
        try lineBreak(b, body)
      } else {
        if fields.isEmpty { recordLine = line }
        field.append(b)
        state = .unquoted
      }
    case .unquoted:
      if b == delimiter {
        try endField()
      } else if b == CSV.lf || b == CSV.cr {
        try lineBreak(b, body)
      } else if b == CSV.quote {
        throw CSVError(
          source: source, line: line, column: fields.count + 1,
          "a quote inside an unquoted field (enclose the whole field in quotes and double the quote)")
      } else {
        field.append(b)
      }
    case .quoted:
      if b == CSV.quote { state = .quoteInQuoted } else { field.append(b) }
    case .quoteInQuoted:
      if b == CSV.quote {
        field.append(b)
        state = .quoted
      } else if b == delimiter {
        try endField()
      } else if b == CSV.lf || b == CSV.cr {
        try lineBreak(b, body)
      } else {
        throw CSVError(source: source, line: line, column: fields.count + 1, "text after the closing quote of a quoted field")
      }
    }
    if b == CSV.cr || (b == CSV.lf && !afterCR) { line += 1 }
    afterCR = b == CSV.cr
  }

  /// A line break outside quotes ends the record (an empty line is none). A record ended by a
  /// CR waits for the next byte, which may be the LF of a CRLF.
  private mutating func lineBreak(_ b: UInt8, _ body: (CSVRecord) throws -> Void) throws {
    if state == .fieldStart && fields.isEmpty { return }
    endRecord()
    if b == CSV.lf { try deliver(body) }
  }

  /// A delimiter ended the current field; another one follows in the same record.
  private mutating func endField() throws {
    fields.append(String(decoding: field, as: UTF8.self))
    field.removeAll(keepingCapacity: true)
    state = .fieldStart
    guard fields.count < maxFields else {
      throw CSVError(source: source, line: line, "more than \(maxFields) fields in one record")
    }
  }

  /// A line break (or the input's end) ended the current record.
  private mutating func endRecord() {
    fields.append(String(decoding: field, as: UTF8.self))
    field.removeAll(keepingCapacity: true)
    state = .fieldStart
    complete = true
  }

  private mutating func deliver(_ body: (CSVRecord) throws -> Void) throws {
    let record = CSVRecord(fields: fields, line: recordLine, end: offset)
    fields = []
    complete = false
    try body(record)
  }
}
