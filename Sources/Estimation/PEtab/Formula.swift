import Foundation

/// A PEtab math expression (observable and noise formulas, condition-table formulas): infix
/// syntax as PEtab 1.0 writes it (sympy's) — numbers, identifiers, `+ - * / ^ **`, unary
/// signs, parentheses, comparisons, and the functions `exp log ln log10 log2 sqrt abs sin cos
/// tan sinh cosh tanh min max pow`; `log(x, b)` is the logarithm of x to base b.
///
/// Parsed once; symbols are then bound to slots of a value array (``bind(_:)``) so an
/// evaluation is a walk over a flat node list with no lookups.
public struct Formula: Sendable, CustomStringConvertible {
  public indirect enum Node: Sendable, Equatable {
    case number(Double)
    case symbol(String)
    case unary(String, Node)
    case binary(String, Node, Node)
    case call(String, [Node])
  }

  public let root: Node
  public let text: String
  public var description: String { text }
  public static let maxLength = 100_000, maxDepth = 200

  public init(_ text: String) throws {
    guard text.utf8.count <= Self.maxLength else { throw FormulaError("longer than \(Self.maxLength) characters") }
    var p = Parser(Array(text.unicodeScalars))
    root = try p.expression(depth: 0)
    p.skipSpace()
    guard p.i == p.s.count else { throw FormulaError("unexpected '\(String(String.UnicodeScalarView(p.s[p.i...])).prefix(10))'") }
    self.text = text
  }

  public init(number: Double) {
    root = .number(number)
    text = "\(number)"
  }

  /// Every symbol the formula reads.
  public var symbols: Set<String> { Self.symbols(of: root) }

  /// The formula with its symbols bound to indices of a value array by `slot`.
  public func bind(_ slot: (String) throws -> Int) throws -> Bound {
    var ops: [Bound.Op] = []
    var depth = 0, maxDepth = 0
    func push(_ op: Bound.Op, popping k: Int) {
      ops.append(op)
      depth += 1 - k
      maxDepth = Swift.max(maxDepth, depth)
    }
    func emit(_ n: Node) throws {
      switch n {
      case .number(let x): push(.constant(x), popping: 0)
      case .symbol(let s): push(.load(try slot(s)), popping: 0)
      case .unary(let op, let a):
        try emit(a)
        if op == "-" { push(.neg, popping: 1) } else if op == "!" { push(.not, popping: 1) }
      case .binary(let op, let a, let b):
        try emit(a)
        try emit(b)
        guard let o = Bound.Binary(rawValue: op) else { throw FormulaError("unknown operator '\(op)'") }
        push(.binary(o), popping: 2)
      case .call(let f, let args):
        for a in args { try emit(a) }
        guard let function = Bound.Function(rawValue: f) else { throw FormulaError("unknown function '\(f)'") }
        push(.call(function, args.count), popping: args.count)
      }
    }
    try emit(root)
    return Bound(ops: ops, stackSize: maxDepth)
  }

  /// A formula over a value array: a postfix program with its operators and functions
  /// resolved, evaluated on a stack of known size (no lookups, no allocation).
  public struct Bound: Sendable {
    public enum Binary: String, Sendable {
      case add = "+", subtract = "-", multiply = "*", divide = "/", power = "^"
      case less = "<", greater = ">", lessEqual = "<=", greaterEqual = ">=", equal = "==", notEqual = "!="
      case and = "&&", or = "||"
    }
    public enum Function: String, Sendable {
      case exp, log, ln, log10, log2, sqrt, abs, sin, cos, tan, sinh, cosh, tanh, min, max, pow, piecewise

      /// How many arguments the function takes (`log(x, b)` is the logarithm to base b).
      var arity: ClosedRange<Int> {
        switch self {
        case .log: return 1...2
        case .min, .max: return 1...64
        case .pow: return 2...2
        case .piecewise: return 3...3
        default: return 1...1
        }
      }
    }
    public enum Op: Sendable {
      case constant(Double), load(Int), neg, not, binary(Binary), call(Function, Int)
    }
    public let ops: [Op]
    /// The deepest the evaluation stack gets.
    let stackSize: Int

    public func evaluate(_ v: UnsafePointer<Double>) -> Double {
      withUnsafeTemporaryAllocation(of: Double.self, capacity: Swift.max(stackSize, 1)) { stack in
        var top = 0
        for op in ops {
          switch op {
          case .constant(let x):
            stack[top] = x
            top += 1
          case .load(let k):
            stack[top] = v[k]
            top += 1
          case .neg: stack[top - 1] = -stack[top - 1]
          case .not: stack[top - 1] = stack[top - 1] == 0 ? 1 : 0
          case .binary(let o):
            top -= 1
            stack[top - 1] = Formula.apply(o, stack[top - 1], stack[top])
          case .call(let f, let n):
            top -= n
            stack[top] = Formula.call(f, UnsafeBufferPointer(rebasing: stack[top..<(top + n)]))
            top += 1
          }
        }
        return top > 0 ? stack[top - 1] : .nan
      }
    }

    public func evaluate(_ v: [Double]) -> Double { v.withUnsafeBufferPointer { evaluate($0.baseAddress!) } }
  }

  static func apply(_ o: Bound.Binary, _ a: Double, _ b: Double) -> Double {
    switch o {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .power: return Foundation.pow(a, b)
    case .less: return a < b ? 1 : 0
    case .greater: return a > b ? 1 : 0
    case .lessEqual: return a <= b ? 1 : 0
    case .greaterEqual: return a >= b ? 1 : 0
    case .equal: return a == b ? 1 : 0
    case .notEqual: return a != b ? 1 : 0
    case .and: return a != 0 && b != 0 ? 1 : 0
    case .or: return a != 0 || b != 0 ? 1 : 0
    }
  }

  static func call(_ f: Bound.Function, _ x: UnsafeBufferPointer<Double>) -> Double {
    switch f {
    case .exp: return Foundation.exp(x[0])
    case .log: return x.count == 2 ? Foundation.log(x[0]) / Foundation.log(x[1]) : Foundation.log(x[0])
    case .ln: return Foundation.log(x[0])
    case .log10: return Foundation.log10(x[0])
    case .log2: return Foundation.log2(x[0])
    case .sqrt: return x[0].squareRoot()
    case .abs: return Swift.abs(x[0])
    case .sin: return Foundation.sin(x[0])
    case .cos: return Foundation.cos(x[0])
    case .tan: return Foundation.tan(x[0])
    case .sinh: return Foundation.sinh(x[0])
    case .cosh: return Foundation.cosh(x[0])
    case .tanh: return Foundation.tanh(x[0])
    case .min: return x.min() ?? .nan
    case .max: return x.max() ?? .nan
    case .pow: return Foundation.pow(x[0], x[1])
    case .piecewise: return x[1] != 0 ? x[0] : x[2]  // piecewise(value, condition, otherwise)
    }
  }

  struct Parser {
    let s: [Unicode.Scalar]
    var i = 0
    init(_ s: [Unicode.Scalar]) { self.s = s }

    mutating func skipSpace() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }
    mutating func peek(_ t: String) -> Bool {
      skipSpace()
      let u = Array(t.unicodeScalars)
      guard i + u.count <= s.count else { return false }
      return Array(s[i..<(i + u.count)]) == u
    }
    mutating func take(_ t: String) -> Bool {
      if peek(t) {
        i += t.unicodeScalars.count
        return true
      }
      return false
    }

    mutating func expression(depth: Int) throws -> Node {
      guard depth < Formula.maxDepth else { throw FormulaError("nested deeper than \(Formula.maxDepth)") }
      var a = try comparison(depth: depth)
      while true {
        if take("&&") || take("&") {
          a = .binary("&&", a, try comparison(depth: depth))
        } else if take("||") || take("|") {
          a = .binary("||", a, try comparison(depth: depth))
        } else {
          return a
        }
      }
    }
    mutating func comparison(depth: Int) throws -> Node {
      let a = try sum(depth: depth)
      for op in ["<=", ">=", "==", "!=", "<", ">"] where take(op) { return .binary(op, a, try sum(depth: depth)) }
      return a
    }
    mutating func sum(depth: Int) throws -> Node {
      var a = try product(depth: depth)
      while true {
        if take("+") {
          a = .binary("+", a, try product(depth: depth))
        } else if take("-") {
          a = .binary("-", a, try product(depth: depth))
        } else {
          return a
        }
      }
    }
    mutating func product(depth: Int) throws -> Node {
      var a = try unary(depth: depth)
      while true {
        if peek("**") { return a }  // handled in power
        if take("*") {
          a = .binary("*", a, try unary(depth: depth))
        } else if take("/") {
          a = .binary("/", a, try unary(depth: depth))
        } else {
          return a
        }
      }
    }
    mutating func unary(depth: Int) throws -> Node {
      guard depth < Formula.maxDepth else { throw FormulaError("nested deeper than \(Formula.maxDepth)") }
      if take("-") { return .unary("-", try unary(depth: depth + 1)) }
      if take("+") { return try unary(depth: depth + 1) }
      if take("!") { return .unary("!", try unary(depth: depth + 1)) }
      return try power(depth: depth)
    }
    mutating func power(depth: Int) throws -> Node {
      let base = try atom(depth: depth)
      if take("**") || take("^") {
        // Right-associative; the exponent may carry a sign.
        return .binary("^", base, try unary(depth: depth + 1))
      }
      return base
    }
    mutating func atom(depth: Int) throws -> Node {
      skipSpace()
      guard i < s.count else { throw FormulaError("unexpected end of formula") }
      let c = s[i]
      if c == "(" {
        i += 1
        let e = try expression(depth: depth + 1)
        guard take(")") else { throw FormulaError("missing ')'") }
        return e
      }
      if c.properties.numericType != nil && c.isASCII || c == "." {
        let start = i
        while i < s.count, (s[i] >= "0" && s[i] <= "9") || s[i] == "." { i += 1 }
        if i < s.count, s[i] == "e" || s[i] == "E" {
          var j = i + 1
          if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
          if j < s.count, s[j] >= "0" && s[j] <= "9" {
            i = j
            while i < s.count, s[i] >= "0" && s[i] <= "9" { i += 1 }
          }
        }
        let t = String(String.UnicodeScalarView(s[start..<i]))
        guard let x = Double(t) else { throw FormulaError("'\(t)' is not a number") }
        return .number(x)
      }
      func letter(_ u: Unicode.Scalar) -> Bool { (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || u == "_" }
      guard letter(c) else { throw FormulaError("unexpected '\(Character(c))'") }
      let start = i
      while i < s.count, letter(s[i]) || (s[i] >= "0" && s[i] <= "9") { i += 1 }
      let name = String(String.UnicodeScalarView(s[start..<i]))
      if take("(") {
        guard let arity = Bound.Function(rawValue: name)?.arity else { throw FormulaError("unknown function '\(name)'") }
        var args: [Node] = []
        if !take(")") {
          repeat { args.append(try expression(depth: depth + 1)) } while take(",")
          guard take(")") else { throw FormulaError("missing ')' after the arguments of '\(name)'") }
        }
        guard arity.contains(args.count) else {
          throw FormulaError(
            "'\(name)' takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound)–\(arity.upperBound)") arguments, not \(args.count)"
          )
        }
        return .call(name, args)
      }
      switch name {
      case "pi": return .number(Double.pi)
      case "inf", "oo": return .number(.infinity)
      case "nan", "NaN": return .number(.nan)
      case "true", "True": return .number(1)
      case "false", "False": return .number(0)
      default: return .symbol(name)
      }
    }
  }
}

public struct FormulaError: Error, CustomStringConvertible {
  public var description: String
  init(_ d: String) { description = d }
}
