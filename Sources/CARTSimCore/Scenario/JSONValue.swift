import CARTModels
import Foundation

/// A parsed JSON document that keeps the difference between booleans, numbers and
/// strings, so that validation can name wrong types exactly.
public enum JSONValue: Decodable, Equatable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  /// Decodes JSON text; malformed text throws ``InputError`` naming the file.
  public static func decode(_ data: Data, file: String) throws -> JSONValue {
    if let v = JSONParser.parse(data) { return v }
    return try decodeWithFoundation(data, file: file)
  }

  /// ``decode(_:file:)`` by `JSONDecoder`: for what ``JSONParser`` leaves to it, and the
  /// reference its tests compare with.
  static func decodeWithFoundation(_ data: Data, file: String) throws -> JSONValue {
    do {
      return try JSONDecoder().decode(JSONValue.self, from: data)
    } catch let DecodingError.dataCorrupted(ctx) {
      throw InputError(file: file, path: "", message: "not valid JSON: \(syntaxError(data) ?? ctx.debugDescription)")
    } catch let DecodingError.typeMismatch(_, ctx) {
      // Every JSON value decodes as one of the cases; what does not is a number a double cannot
      // hold (beyond its range, or a non-zero number that would round to 0).
      let path = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      throw InputError(
        file: file, path: path.hasPrefix(".") ? String(path.dropFirst()) : path,
        message: "a number too large or too small to represent (beyond ±1.8e308, or not zero but below 4.9e-324)")
    } catch {
      throw InputError(file: file, path: "", message: "not valid JSON: \(error)")
    }
  }

  /// Where and why `data` is not JSON, as Foundation's parser says ("Invalid value around
  /// character 29."), with the character offset turned into a line and column.
  static func syntaxError(_ data: Data) -> String? {
    do {
      _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
      return nil
    } catch {
      guard let text = (error as NSError).userInfo["NSDebugDescription"] as? String else { return nil }
      guard let r = text.range(of: #"character (\d+)"#, options: .regularExpression),
        let offset = Int(text[r].dropFirst("character ".count))
      else { return text }
      let before = String(decoding: data.prefix(offset), as: UTF8.self)
      let line = before.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
      let column = before.count - (before.lastIndex(of: "\n").map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0) + 1
      return text.replacingCharacters(in: r, with: "line \(line), column \(column)")
    }
  }

  /// Reads and decodes a JSON file.
  public static func load(path: String) throws -> JSONValue {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw InputError(file: path, path: "", message: "cannot read the file (\(error.localizedDescription))")
    }
    return try decode(data, file: path)
  }

  /// The kind of value, for messages.
  public var kind: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}

/// Bad input in a scenario: names the file, the field path and what is wrong.
public struct InputError: Error, CustomStringConvertible, Equatable {
  public var file: String
  public var path: String
  public var message: String

  public init(file: String, path: String, message: String) {
    self.file = file
    self.path = path
    self.message = message
  }

  public var description: String { path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)" }
}

/// Reads fields of a JSON object with exact type and range checks, and refuses unknown
/// fields. Every error carries the file and the dotted path of the field.
struct FieldReader {
  let file: String
  let path: String
  let fields: [String: JSONValue]
  private(set) var used: Set<String> = []

  init(file: String, path: String, value: JSONValue) throws {
    self.file = file
    self.path = path
    guard case .object(let o) = value else {
      throw InputError(file: file, path: path, message: "expected an object, found \(value.kind)")
    }
    self.fields = o
  }

  func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

  /// An error at field `key` of this object, or at the object itself when `key` is empty.
  func fail(_ key: String, _ message: String) -> InputError {
    InputError(file: file, path: key.isEmpty ? path : sub(key), message: message)
  }

  mutating func has(_ key: String) -> Bool {
    used.insert(key)
    if case .null? = fields[key] { return false }
    return fields[key] != nil
  }

  mutating func value(_ key: String) -> JSONValue? {
    used.insert(key)
    if case .null? = fields[key] { return nil }
    return fields[key]
  }

  /// A number; `range` is checked and NaN/inf refused.
  mutating func number(
    _ key: String, default def: Double? = nil, min: Double? = nil, max: Double? = nil,
    exclusiveMin: Bool = false, _ what: String = ""
  ) throws -> Double {
    guard let v = value(key) else {
      if let def { return def }
      throw fail(key, "is required" + (what.isEmpty ? "" : " (\(what))"))
    }
    guard case .number(let x) = v else { throw fail(key, "expected a number, found \(v.kind)") }
    guard x.isFinite else { throw fail(key, "must be a finite number, found \(x)") }
    if let min {
      if exclusiveMin && x <= min { throw fail(key, "must be > \(fmt(min)), found \(fmt(x))") }
      if !exclusiveMin && x < min { throw fail(key, "must be ≥ \(fmt(min)), found \(fmt(x))") }
    }
    if let max, x > max { throw fail(key, "must be ≤ \(fmt(max)), found \(fmt(x))") }
    return x
  }

  mutating func optionalNumber(_ key: String, min: Double? = nil, max: Double? = nil, exclusiveMin: Bool = false) throws -> Double? {
    guard has(key) else { return nil }
    return try number(key, min: min, max: max, exclusiveMin: exclusiveMin)
  }

  mutating func integer(_ key: String, default def: Int? = nil, min: Int, max: Int = Int.max) throws -> Int {
    let x = try number(key, default: def.map(Double.init), min: Double(min), max: Double(max))
    guard let n = Limits.count(x, in: min...max) else { throw fail(key, "must be a whole number \(min)…\(max), found \(fmt(x))") }
    return n
  }

  mutating func string(_ key: String, default def: String? = nil, oneOf allowed: [String]? = nil) throws -> String {
    guard let v = value(key) else {
      if let def { return def }
      throw fail(key, "is required")
    }
    guard case .string(let s) = v else { throw fail(key, "expected a string, found \(v.kind)") }
    if let allowed, !allowed.contains(s) {
      throw fail(key, "unknown value '\(s)' (expected one of: \(allowed.joined(separator: ", ")))")
    }
    return s
  }

  mutating func bool(_ key: String, default def: Bool) throws -> Bool {
    guard let v = value(key) else { return def }
    guard case .bool(let b) = v else { throw fail(key, "expected true or false, found \(v.kind)") }
    return b
  }

  mutating func numbers(_ key: String, default def: [Double]? = nil) throws -> [Double] {
    guard let v = value(key) else {
      if let def { return def }
      throw fail(key, "is required")
    }
    guard case .array(let a) = v else { throw fail(key, "expected an array of numbers, found \(v.kind)") }
    return try a.enumerated().map { i, e in
      guard case .number(let x) = e, x.isFinite else {
        throw InputError(file: file, path: "\(sub(key))[\(i)]", message: "expected a finite number, found \(e.kind)")
      }
      return x
    }
  }

  /// A list of strings, each one of `allowed` when given.
  mutating func strings(_ key: String, oneOf allowed: [String]? = nil) throws -> [String] {
    guard let v = value(key) else { throw fail(key, "is required") }
    guard case .array(let a) = v else { throw fail(key, "expected an array of strings, found \(v.kind)") }
    return try a.enumerated().map { i, e in
      guard case .string(let s) = e else {
        throw InputError(file: file, path: "\(sub(key))[\(i)]", message: "expected a string, found \(e.kind)")
      }
      if let allowed, !allowed.contains(s) {
        throw InputError(
          file: file, path: "\(sub(key))[\(i)]",
          message: "unknown value '\(s)' (expected one of: \(allowed.joined(separator: ", ")))")
      }
      return s
    }
  }

  mutating func object(_ key: String) throws -> FieldReader? {
    guard let v = value(key) else { return nil }
    return try FieldReader(file: file, path: sub(key), value: v)
  }

  mutating func objects(_ key: String) throws -> [FieldReader] {
    guard let v = value(key) else { return [] }
    guard case .array(let a) = v else { throw fail(key, "expected an array of objects, found \(v.kind)") }
    return try a.enumerated().map { try FieldReader(file: file, path: "\(sub(key))[\($0)]", value: $1) }
  }

  /// Refuses fields that were never read.
  func finish() throws {
    let unknown = fields.keys.filter { !used.contains($0) }.sorted()
    if let first = unknown.first {
      throw fail(first, "unknown field (allowed here: \(used.sorted().joined(separator: ", ")))")
    }
  }
}

func fmt(_ x: Double) -> String { formatNumber(x) }
