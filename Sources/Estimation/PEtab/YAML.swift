import Foundation

/// A YAML value of the subset PEtab problem and solution files use: block mappings, block
/// sequences (`- item`, including `- key: value` mappings), flow sequences (`[a, b]`),
/// plain and quoted scalars, `#` comments. Anchors, multi-line scalars, tags and flow
/// mappings are refused with the line named.
public indirect enum YAMLValue: Equatable, Sendable {
  case scalar(String)
  case sequence([YAMLValue])
  case mapping([(String, YAMLValue)])

  public static func == (a: YAMLValue, b: YAMLValue) -> Bool {
    switch (a, b) {
    case let (.scalar(x), .scalar(y)): return x == y
    case let (.sequence(x), .sequence(y)): return x == y
    case let (.mapping(x), .mapping(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    default: return false
    }
  }

  public subscript(key: String) -> YAMLValue? {
    if case .mapping(let m) = self { return m.first { $0.0 == key }?.1 }
    return nil
  }
  public var string: String? {
    if case .scalar(let s) = self { return s }
    return nil
  }
  public var double: Double? { string.flatMap { PEtabNumber.parse($0) } }
  public var array: [YAMLValue]? {
    if case .sequence(let s) = self { return s }
    return nil
  }
  /// A scalar or a sequence of scalars as strings.
  public var strings: [String]? {
    if let s = string { return [s] }
    return array?.compactMap(\.string)
  }
}

/// Parses the YAML subset of ``YAMLValue``.
public enum YAML {
  /// Size limits: a PEtab problem file is a few hundred bytes.
  public static let maxBytes = 4 << 20, maxDepth = 64

  public static func parse(_ text: String, file: String) throws -> YAMLValue {
    guard text.utf8.count <= maxBytes else { throw PEtabError(file: file, "larger than \(maxBytes) bytes") }
    var lines: [(indent: Int, text: String, number: Int)] = []
    for (k, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated()
    {
      var line = String(raw)
      if line.hasSuffix("\r") { line.removeLast() }
      line = stripComment(line)
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty || trimmed == "---" || trimmed == "..." { continue }
      if line.contains("\t") && line.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
        throw PEtabError(file: file, line: k + 1, "tab in indentation")
      }
      let indent = line.prefix(while: { $0 == " " }).count
      if trimmed.hasPrefix("&") || trimmed.hasPrefix("*") || trimmed.hasPrefix("!") || trimmed.hasPrefix("{") || trimmed.hasPrefix("|")
        || trimmed.hasPrefix(">")
      {
        throw PEtabError(file: file, line: k + 1, "unsupported YAML construct '\(trimmed.prefix(1))'")
      }
      lines.append((indent, trimmed, k + 1))
    }
    var i = 0
    if lines.isEmpty { return .mapping([]) }
    let v = try block(&i, lines, indent: lines[0].indent, file: file, depth: 0)
    if i < lines.count { throw PEtabError(file: file, line: lines[i].number, "unexpected indentation") }
    return v
  }

  static func stripComment(_ line: String) -> String {
    var quote: Character? = nil
    var previous: Character = " "
    for (k, ch) in line.enumerated() {
      if let q = quote {
        if ch == q { quote = nil }
      } else if ch == "'" || ch == "\"" {
        quote = ch
      } else if ch == "#" && (previous == " " || k == 0) {
        return String(line.prefix(k))
      }
      previous = ch
    }
    return line
  }

  static func block(_ i: inout Int, _ lines: [(indent: Int, text: String, number: Int)], indent: Int, file: String, depth: Int) throws
    -> YAMLValue
  {
    guard depth < maxDepth else { throw PEtabError(file: file, line: lines[i].number, "nested deeper than \(maxDepth)") }
    if lines[i].text.hasPrefix("- ") || lines[i].text == "-" {
      var items: [YAMLValue] = []
      while i < lines.count, lines[i].indent == indent, lines[i].text.hasPrefix("- ") || lines[i].text == "-" {
        let rest = lines[i].text == "-" ? "" : String(lines[i].text.dropFirst(2)).trimmingCharacters(in: .whitespaces)
        let number = lines[i].number
        if rest.isEmpty {
          i += 1
          guard i < lines.count, lines[i].indent > indent else {
            items.append(.scalar(""))
            continue
          }
          items.append(try block(&i, lines, indent: lines[i].indent, file: file, depth: depth + 1))
        } else if keyValue(rest) != nil {
          // "- key: value" starts a mapping whose further keys are indented to the key.
          var sub = lines
          sub[i] = (indent + 2, rest, number)
          var j = i
          let m = try block(&j, sub, indent: indent + 2, file: file, depth: depth + 1)
          i = j
          items.append(m)
        } else {
          items.append(try scalarOrFlow(rest, file: file, line: number))
          i += 1
        }
      }
      return .sequence(items)
    }
    var pairs: [(String, YAMLValue)] = []
    while i < lines.count, lines[i].indent == indent {
      guard let (key, value) = keyValue(lines[i].text) else {
        throw PEtabError(file: file, line: lines[i].number, "expected 'key: value'")
      }
      if pairs.contains(where: { $0.0 == key }) { throw PEtabError(file: file, line: lines[i].number, "duplicate key '\(key)'") }
      let number = lines[i].number
      i += 1
      if value.isEmpty {
        if i < lines.count, lines[i].indent > indent || (lines[i].indent == indent && lines[i].text.hasPrefix("- ")) {
          pairs.append((key, try block(&i, lines, indent: lines[i].indent, file: file, depth: depth + 1)))
        } else {
          pairs.append((key, .scalar("")))
        }
      } else {
        pairs.append((key, try scalarOrFlow(value, file: file, line: number)))
      }
    }
    return .mapping(pairs)
  }

  static func keyValue(_ text: String) -> (String, String)? {
    var quote: Character? = nil
    for (k, ch) in text.enumerated() {
      if let q = quote {
        if ch == q { quote = nil }
        continue
      }
      if ch == "'" || ch == "\"" {
        quote = ch
        continue
      }
      if ch == ":" {
        let after = text.index(text.startIndex, offsetBy: k + 1)
        if after == text.endIndex || text[after] == " " {
          let key = unquote(String(text.prefix(k)).trimmingCharacters(in: .whitespaces))
          return (key, String(text[after...]).trimmingCharacters(in: .whitespaces))
        }
      }
    }
    return nil
  }

  static func scalarOrFlow(_ text: String, file: String, line: Int) throws -> YAMLValue {
    if let f = text.first, "&*!|>{".contains(f) {
      throw PEtabError(file: file, line: line, "unsupported YAML construct '\(f)'")
    }
    if text.hasPrefix("[") {
      guard text.hasSuffix("]") else { throw PEtabError(file: file, line: line, "unterminated flow sequence") }
      let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
      if inner.isEmpty { return .sequence([]) }
      if inner.contains("[") { throw PEtabError(file: file, line: line, "nested flow sequences are not supported") }
      return .sequence(inner.split(separator: ",").map { .scalar(unquote($0.trimmingCharacters(in: .whitespaces))) })
    }
    return .scalar(unquote(text))
  }

  static func unquote(_ s: String) -> String {
    if s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f { return String(s.dropFirst().dropLast()) }
    return s
  }
}
