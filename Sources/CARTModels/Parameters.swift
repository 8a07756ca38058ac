import Foundation

/// How well a parameter value is supported.
public enum Evidence: String, Sendable, Codable {
  /// Taken from a published source for this quantity (possibly another disease or product).
  case verified
  /// A placeholder or a value set by hand with no direct source.
  case assumed
  /// Estimated from clinical outcomes by a documented, reproducible calibration (the value is
  /// its posterior median; the source names the calibration).
  case calibrated
}

/// One model parameter: value, unit, source and evidence level.
public struct ParameterInfo: Sendable, Equatable, Codable {
  public var name: String
  public var value: Double
  public var unit: String
  public var source: String
  public var evidence: Evidence
  public var description: String

  public init(_ name: String, _ value: Double, _ unit: String, _ evidence: Evidence, _ source: String, _ description: String) {
    self.name = name
    self.value = value
    self.unit = unit
    self.source = source
    self.evidence = evidence
    self.description = description
  }
}

/// Errors in naming or setting model parameters.
public enum ParameterError: Error, Equatable, CustomStringConvertible {
  case unknown(name: String, model: String, suggestion: String?)
  case invalid(name: String, value: Double, reason: String)

  public var description: String {
    switch self {
    case let .unknown(name, model, suggestion):
      return "unknown parameter '\(name)' for model '\(model)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? "")
    case let .invalid(name, value, reason):
      return "parameter '\(name)' = \(value): \(reason)"
    }
  }
}

/// The parameters of one model: a table of ``ParameterInfo`` with values that can be
/// overridden by name. Models read values by name once, when they build their system.
public struct ParameterSet: Sendable, Equatable {
  public let model: String
  public private(set) var table: [ParameterInfo]
  private var index: [String: Int]

  public init(model: String, _ table: [ParameterInfo]) {
    self.model = model
    self.table = table
    var index: [String: Int] = [:]
    for (i, p) in table.enumerated() {
      precondition(index[p.name] == nil, "duplicate parameter \(p.name) in \(model)")
      index[p.name] = i
    }
    self.index = index
  }

  /// The value of a parameter; a misspelt name in model code is a programming error.
  public subscript(_ name: String) -> Double {
    guard let i = index[name] else { preconditionFailure("model \(model) has no parameter \(name)") }
    return table[i].value
  }

  public func contains(_ name: String) -> Bool { index[name] != nil }

  /// Overrides a parameter. Values must be finite and non-negative (all rates, sizes and
  /// thresholds of the built-in models are).
  public mutating func set(_ name: String, to value: Double) throws {
    guard let i = index[name] else {
      throw ParameterError.unknown(name: name, model: model, suggestion: closestName(to: name))
    }
    guard value.isFinite else { throw ParameterError.invalid(name: name, value: value, reason: "must be finite") }
    guard value >= 0 else { throw ParameterError.invalid(name: name, value: value, reason: "must be non-negative") }
    let old = table[i].value
    table[i].value = value
    table[i].source = "scenario override (default \(formatNumber(old)): \(table[i].source))"
    table[i].evidence = .assumed
  }

  private func closestName(to name: String) -> String? {
    let lower = name.lowercased()
    let scored = table.map { ($0.name, editDistance(lower, $0.name.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
    return best.0
  }
}

/// Levenshtein distance (insertions, deletions and substitutions of characters).
public func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a), b = Array(b)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var prev = Array(0...b.count)
  for i in 1...a.count {
    var cur = [i] + Array(repeating: 0, count: b.count)
    for j in 1...b.count {
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.count]
}

/// Compact number formatting (`%g`, 6 significant digits).
///
/// Every patient of a trial prints numbers (its overrides' defaults, its row of
/// patients.csv): whole numbers below 10⁶ print as their integer, and every other normal
/// number from the shortest decimal that reads back as it (Swift's description), rounded to
/// six digits, which is what `%g` prints, without Foundation's formatter. A normal number is
/// within 1.2e-16 of its shortest decimal, relatively, so rounding that decimal equals
/// rounding the number unless the decimal has seven digits ending in 5 (within an ulp of a
/// tie). Those, zero, subnormal and non-finite values go through the formatter.
public func formatNumber(_ x: Double) -> String {
  if x.magnitude < 1e6, x == x.rounded(.towardZero), !(x == 0 && x.sign == .minus) { return String(Int(x)) }
  guard x.isNormal, let g = shortestG(x) else { return String(format: "%g", x) }
  return g
}

/// `%g` of a finite non-zero `x` from its shortest decimal, or nil at a possible tie.
private func shortestG(_ x: Double) -> String? {
  // The digits without leading zeros and `point`: the value is 0.d₁d₂… × 10^point.
  var digits: [UInt8] = []
  digits.reserveCapacity(17)
  var point = 0, seenPoint = false
  var exponent = 0, exponentSign = 1, inExponent = false
  for c in x.description.utf8 {
    switch c {
    case UInt8(ascii: "-") where inExponent: exponentSign = -1
    case UInt8(ascii: "-"), UInt8(ascii: "+"): continue
    case UInt8(ascii: "."): seenPoint = true
    case UInt8(ascii: "e"): inExponent = true
    case UInt8(ascii: "0")...UInt8(ascii: "9"):
      let d = c - UInt8(ascii: "0")
      if inExponent {
        exponent = exponent * 10 + Int(d)
      } else if digits.isEmpty && d == 0 {
        if seenPoint { point -= 1 }
      } else {
        digits.append(d)
        if !seenPoint { point += 1 }
      }
    default: return nil
    }
  }
  point += exponentSign * exponent
  while digits.last == 0 { digits.removeLast() }
  guard !digits.isEmpty else { return nil }
  // Round to six significant digits.
  if digits.count > 6 {
    if digits.count == 7 && digits[6] == 5 { return nil }
    let up = digits[6] >= 5
    digits.removeLast(digits.count - 6)
    if up {
      var i = 5
      while i >= 0 && digits[i] == 9 {
        digits[i] = 0
        i -= 1
      }
      if i >= 0 {
        digits[i] += 1
      } else {
        digits.insert(1, at: 0)
        digits.removeLast()
        point += 1
      }
    }
    while digits.last == 0 { digits.removeLast() }
  }
  var out = x < 0 ? "-" : ""
  func append(_ range: Range<Int>) { for i in range { out.unicodeScalars.append(Unicode.Scalar(digits[i] + 48)) } }
  let scientific = point - 1
  if scientific < -4 || scientific >= 6 {
    append(0..<1)
    if digits.count > 1 {
      out += "."
      append(1..<digits.count)
    }
    let e = abs(scientific)
    out += (scientific < 0 ? "e-" : "e+") + (e < 10 ? "0" : "") + String(e)
  } else if point <= 0 {
    out += "0." + String(repeating: "0", count: -point)
    append(0..<digits.count)
  } else if point >= digits.count {
    append(0..<digits.count)
    out += String(repeating: "0", count: point - digits.count)
  } else {
    append(0..<point)
    out += "."
    append(point..<digits.count)
  }
  return out
}
