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
/// Whole numbers below 10⁶ in magnitude (doses such as 30 or 500 mg/m², which label every
/// simulated patient's events) print as their integer, and short decimals (parameter values
/// such as 0.16, which every patient's overrides and table rows print) as Swift's shortest
/// representation, both what `%g` prints for them, without Foundation's formatter;
/// everything else goes through it.
public func formatNumber(_ x: Double) -> String {
  let m = x.magnitude
  if m < 1e6, x == x.rounded(.towardZero), !(x == 0 && x.sign == .minus) { return String(Int(x)) }
  // Where the shortest decimal that reads back as x has at most six significant digits and
  // %g prints no exponent (1e-4 ≤ |x| < 1e6), rounding x to six digits gives that decimal
  // (x is within half an ulp of it), so %g prints Swift's own description: e.g. 0.0251.
  if m >= 1e-4, m < 1e6 {
    let s = x.description
    var digits = 0, leading = true
    for c in s.utf8 where c >= 48 && c <= 57 {
      if leading && c == 48 { continue }
      leading = false
      digits += 1
    }
    if digits <= 6 { return s }
  }
  return String(format: "%g", x)
}
