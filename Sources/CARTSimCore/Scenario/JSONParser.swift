import Foundation

/// A strict RFC 8259 reader of UTF-8 JSON text into ``JSONValue``, for the large documents
/// CARTSim reads back (a trial's `aggregate.json` is several MB of numbers): about ten times
/// faster than decoding ``JSONValue`` through `JSONDecoder`, which tries each case in turn
/// and pays for a thrown error on every number.
///
/// It accepts only what it is sure of and returns nil for anything else — a syntax error,
/// invalid UTF-8, a lone surrogate, a duplicate key, a number beyond a double, nesting deeper
/// than ``maxDepth``, a number that underflows to zero — and ``JSONValue/decode(_:file:)``
/// then leaves the text to `JSONDecoder`, whose answer (a value, or the error it names)
/// stands. Numbers are read by `strtod`, correctly rounded as `JSONDecoder`'s are.
struct JSONParser {
  /// Containers nested deeper than this are left to `JSONDecoder` (which reads up to 512).
  static let maxDepth = 500

  private let bytes: UnsafeBufferPointer<UInt8>
  private var i = 0
  /// Scratch for a number's text, NUL-terminated for `strtod`.
  private var numberText: [CChar] = []

  private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  /// The value of `data`, or nil when the text is not plain, valid JSON (see above).
  static func parse(_ data: Data) -> JSONValue? {
    data.withUnsafeBytes { raw -> JSONValue? in
      var p = JSONParser(raw.bindMemory(to: UInt8.self))
      guard let v = p.value(depth: 0) else { return nil }
      p.skipSpace()
      return p.i == p.bytes.count ? v : nil
    }
  }

  private mutating func skipSpace() {
    while i < bytes.count {
      switch bytes[i] {
      case 0x20, 0x0A, 0x0D, 0x09: i += 1
      default: return
      }
    }
  }

  private mutating func literal(_ word: StaticString, _ v: JSONValue) -> JSONValue? {
    let n = word.utf8CodeUnitCount
    guard i + n <= bytes.count else { return nil }
    for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return nil }
    i += n
    return v
  }

  private mutating func value(depth: Int) -> JSONValue? {
    skipSpace()
    guard i < bytes.count else { return nil }
    switch bytes[i] {
    case UInt8(ascii: "{"): return object(depth: depth + 1)
    case UInt8(ascii: "["): return array(depth: depth + 1)
    case UInt8(ascii: "\""): return string().map { .string($0) }
    case UInt8(ascii: "t"): return literal("true", .bool(true))
    case UInt8(ascii: "f"): return literal("false", .bool(false))
    case UInt8(ascii: "n"): return literal("null", .null)
    default: return number().map { .number($0) }
    }
  }

  /// Consumes `byte` if it is next.
  private mutating func take(_ byte: UInt8) -> Bool {
    guard i < bytes.count, bytes[i] == byte else { return false }
    i += 1
    return true
  }

  /// After a container's item: true at a comma, false at `close` (either consumed), nil at
  /// anything else.
  private mutating func moreItems(close: UInt8) -> Bool? {
    skipSpace()
    if take(UInt8(ascii: ",")) { return true }
    if take(close) { return false }
    return nil
  }

  private mutating func array(depth: Int) -> JSONValue? {
    guard depth <= Self.maxDepth else { return nil }
    i += 1  // [
    var items: [JSONValue] = []
    skipSpace()
    if take(UInt8(ascii: "]")) { return .array(items) }
    while true {
      guard let v = value(depth: depth) else { return nil }
      items.append(v)
      guard let more = moreItems(close: UInt8(ascii: "]")) else { return nil }
      if !more { return .array(items) }
    }
  }

  private mutating func object(depth: Int) -> JSONValue? {
    guard depth <= Self.maxDepth else { return nil }
    i += 1  // {
    var fields: [String: JSONValue] = [:]
    skipSpace()
    if take(UInt8(ascii: "}")) { return .object(fields) }
    while true {
      skipSpace()
      guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let key = string() else { return nil }
      skipSpace()
      guard take(UInt8(ascii: ":")), let v = value(depth: depth) else { return nil }
      guard fields.updateValue(v, forKey: key) == nil else { return nil }  // a duplicate key
      guard let more = moreItems(close: UInt8(ascii: "}")) else { return nil }
      if !more { return .object(fields) }
    }
  }

  /// A string from its opening quote; escapes decoded, the bytes validated as UTF-8.
  private mutating func string() -> String? {
    i += 1  // "
    let start = i
    // Fast path: no escapes.
    while i < bytes.count {
      let b = bytes[i]
      if b == UInt8(ascii: "\"") {
        let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        i += 1
        return s
      }
      if b == UInt8(ascii: "\\") { break }
      if b < 0x20 { return nil }
      i += 1
    }
    var out = Array(bytes[start..<i])
    while i < bytes.count {
      let b = bytes[i]
      if b == UInt8(ascii: "\"") {
        i += 1
        return String(validating: out, as: UTF8.self)
      }
      if b < 0x20 { return nil }
      if b != UInt8(ascii: "\\") {
        out.append(b)
        i += 1
        continue
      }
      i += 1
      guard i < bytes.count else { return nil }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        guard var scalar = hex4() else { return nil }
        if scalar >= 0xD800 && scalar < 0xDC00 {
          // A high surrogate must be followed by an escaped low one.
          guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { return nil }
          i += 2
          guard let low = hex4(), low >= 0xDC00 && low < 0xE000 else { return nil }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = Unicode.Scalar(scalar) else { return nil }  // a lone low surrogate
        out.append(contentsOf: Array(String(Character(u)).utf8))
      default: return nil
      }
    }
    return nil
  }

  private mutating func hex4() -> UInt32? {
    guard i + 4 <= bytes.count else { return nil }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[i]
      let d: UInt32
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a")) + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A")) + 10
      default: return nil
      }
      v = v << 4 | d
      i += 1
    }
    return v
  }

  /// A number in JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`),
  /// finite as a double, and not a non-zero number that underflows to 0 (`JSONDecoder`
  /// refuses those: `1e-400`).
  private mutating func number() -> Double? {
    let start = i
    func digit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= UInt8(ascii: "0") && bytes[k] <= UInt8(ascii: "9") }
    if i < bytes.count && bytes[i] == UInt8(ascii: "-") { i += 1 }
    guard digit(i) else { return nil }
    var nonZero = false  // a digit 1–9 before the exponent
    if bytes[i] == UInt8(ascii: "0") {
      i += 1
    } else {
      while digit(i) {
        nonZero = true
        i += 1
      }
    }
    if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
      i += 1
      guard digit(i) else { return nil }
      while digit(i) {
        if bytes[i] != UInt8(ascii: "0") { nonZero = true }
        i += 1
      }
    }
    if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
      i += 1
      if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
      guard digit(i) else { return nil }
      while digit(i) { i += 1 }
    }
    numberText.removeAll(keepingCapacity: true)
    for k in start..<i { numberText.append(CChar(bitPattern: bytes[k])) }
    numberText.append(0)
    // The whole text must be read (a locale whose decimal point is not "." would stop early).
    var complete = false
    let x = numberText.withUnsafeBufferPointer { text in
      var end: UnsafeMutablePointer<CChar>? = nil
      let x = strtod(text.baseAddress!, &end)
      complete = end.map { UnsafePointer($0) == text.baseAddress! + (text.count - 1) } ?? false
      return x
    }
    return complete && x.isFinite && (x != 0 || !nonZero) ? x : nil
  }
}
