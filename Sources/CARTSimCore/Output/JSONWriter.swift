import Foundation

/// A JSON value with ordered object keys, for readable output files.
public indirect enum JSONOut {
  case null
  case bool(Bool)
  case number(Double)
  case int(Int)
  case string(String)
  case array([JSONOut])
  case object([(String, JSONOut)])

  /// `nil` becomes `null`; non-finite numbers become `null`.
  public static func num(_ x: Double?) -> JSONOut { x.map { $0.isFinite ? .number($0) : .null } ?? .null }
  public static func str(_ s: String?) -> JSONOut { s.map { .string($0) } ?? .null }

  /// Pretty-printed JSON text with two-space indentation.
  public func render(indent: Int = 0) -> String {
    let pad = String(repeating: "  ", count: indent + 1), end = String(repeating: "  ", count: indent)
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .number(let x):
      if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
      return "\(x)"
    case .string(let s): return JSONOut.quote(s)
    case .array(let a):
      if a.isEmpty { return "[]" }
      if a.allSatisfy({
        if case .number = $0 { return true }
        if case .int = $0 { return true }
        return false
      }) {
        return "[" + a.map { $0.render() }.joined(separator: ", ") + "]"
      }
      return "[\n" + a.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(end)]"
    case .object(let o):
      if o.isEmpty { return "{}" }
      return "{\n" + o.map { pad + JSONOut.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(end)}"
    }
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if c.value < 0x20 {
          out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    return out + "\""
  }
}

extension JSONOut: Encodable {
  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  /// Encodes the value as it renders: non-finite numbers as `null`, object keys in order
  /// (an encoder that sorts keys sorts them).
  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .null:
      var c = encoder.singleValueContainer()
      try c.encodeNil()
    case .bool(let b):
      var c = encoder.singleValueContainer()
      try c.encode(b)
    case .number(let x):
      var c = encoder.singleValueContainer()
      if x.isFinite { try c.encode(x) } else { try c.encodeNil() }
    case .int(let i):
      var c = encoder.singleValueContainer()
      try c.encode(i)
    case .string(let s):
      var c = encoder.singleValueContainer()
      try c.encode(s)
    case .array(let a):
      var c = encoder.unkeyedContainer()
      for v in a { try c.encode(v) }
    case .object(let o):
      var c = encoder.container(keyedBy: Key.self)
      for (k, v) in o { try c.encode(v, forKey: Key(stringValue: k)) }
    }
  }
}

/// Pretty-printed JSON of an `Encodable` value with sorted keys and unescaped slashes, ending
/// in a newline: what `--json` prints and what the server answers.
public enum JSONText {
  public static func render(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
  }
}

/// An optional that encodes as `null` when absent (a synthesized `Encodable` leaves the key out).
@propertyWrapper
public struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
  public var wrappedValue: Value?
  public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
  }
}
