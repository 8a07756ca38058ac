/// A mathematical expression from SBML MathML.
public indirect enum Expr: Equatable, Sendable {
  case number(Double)
  case symbol(String)
  case time
  case avogadro
  case apply(Op, [Expr])
  /// A call of a user function definition.
  case call(String, [Expr])
  /// `(value, condition)` pieces and the `otherwise` value (NaN if absent).
  case piecewise([Expr], Expr?)
  case delay(Expr, Expr)
  case rateOf(Expr)

  /// Built-in MathML operators and functions.
  public enum Op: String, Sendable, CaseIterable {
    case plus, minus, times, divide, power, root, abs, exp, ln, log, floor, ceiling, factorial
    case sin, cos, tan, sec, csc, cot, sinh, cosh, tanh, sech, csch, coth
    case arcsin, arccos, arctan, arcsec, arccsc, arccot, arcsinh, arccosh, arctanh, arcsech, arccsch, arccoth
    case eq, neq, gt, lt, geq, leq, and, or, xor, not, implies
    case min, max, rem, quotient
  }

  /// Every symbol the expression reads (not counting function parameters after inlining).
  public var symbols: Set<String> {
    switch self {
    case .symbol(let s): return [s]
    case .number, .time, .avogadro: return []
    case .apply(_, let args), .call(_, let args): return args.reduce(into: Set<String>()) { $0.formUnion($1.symbols) }
    case .piecewise(let pieces, let other): return pieces.reduce(into: other?.symbols ?? []) { $0.formUnion($1.symbols) }
    case .delay(let a, let b): return a.symbols.union(b.symbols)
    case .rateOf(let a): return a.symbols
    }
  }

  /// Replaces symbols (function arguments, local parameters).
  public func substituting(_ map: [String: Expr]) -> Expr {
    switch self {
    case .symbol(let s): return map[s] ?? self
    case .number, .time, .avogadro: return self
    case .apply(let op, let args): return .apply(op, args.map { $0.substituting(map) })
    case .call(let f, let args): return .call(f, args.map { $0.substituting(map) })
    case .piecewise(let pieces, let other): return .piecewise(pieces.map { $0.substituting(map) }, other?.substituting(map))
    case .delay(let a, let b): return .delay(a.substituting(map), b.substituting(map))
    case .rateOf(let a): return .rateOf(a.substituting(map))
    }
  }

  /// Whether the expression reads the time.
  public var usesTime: Bool {
    switch self {
    case .time: return true
    case .apply(_, let args), .call(_, let args): return args.contains { $0.usesTime }
    case .piecewise(let p, let o): return p.contains { $0.usesTime } || (o?.usesTime ?? false)
    case .delay: return true
    case .rateOf(let a): return a.usesTime
    case .number, .symbol, .avogadro: return false
    }
  }

  /// Whether the expression uses `eq` (true at isolated points of a continuous argument).
  public var usesEquality: Bool {
    switch self {
    case .apply(.eq, _): return true
    case .apply(_, let args), .call(_, let args): return args.contains { $0.usesEquality }
    case .piecewise(let p, let o): return p.contains { $0.usesEquality } || (o?.usesEquality ?? false)
    case .delay(let a, let b): return a.usesEquality || b.usesEquality
    case .rateOf(let a): return a.usesEquality
    case .number, .symbol, .time, .avogadro: return false
    }
  }

  /// Whether the expression uses `rateOf`.
  public var usesRateOf: Bool {
    switch self {
    case .rateOf: return true
    case .delay(let a, let b): return a.usesRateOf || b.usesRateOf
    case .number, .symbol, .time, .avogadro: return false
    case .apply(_, let args), .call(_, let args): return args.contains { $0.usesRateOf }
    case .piecewise(let p, let o): return p.contains { $0.usesRateOf } || (o?.usesRateOf ?? false)
    }
  }
}

/// A user function: `lambda(args) body`.
public struct FunctionDefinition: Sendable, Equatable {
  public var id: String
  public var arguments: [String]
  public var body: Expr
}

extension Expr {
  /// The most expression nodes inlining may visit: definitions that each call the one before
  /// twice double the expression at every level, so a few dozen of them could exhaust memory.
  public static let inliningBudget = 2_000_000

  /// Inlines calls of function definitions (recursively; definitions may call earlier ones).
  public func inliningFunctions(_ defs: [String: FunctionDefinition], depth: Int = 0) throws -> Expr {
    var budget = Self.inliningBudget
    return try inlining(defs, depth: depth, budget: &budget)
  }

  private func inlining(_ defs: [String: FunctionDefinition], depth: Int, budget: inout Int) throws -> Expr {
    guard depth < 50 else { throw SBMLError(.invalid, "function definitions nest too deeply (recursive?)") }
    budget -= 1
    guard budget >= 0 else {
      throw SBMLError(.invalid, "inlining the function definitions gives an expression of more than \(Self.inliningBudget) nodes")
    }
    switch self {
    case .call(let f, let args):
      guard let d = defs[f] else { throw SBMLError(.invalid, "call of undefined function '\(f)'") }
      guard d.arguments.count == args.count || d.arguments.isEmpty else {
        throw SBMLError(.invalid, "function '\(f)' takes \(d.arguments.count) arguments, called with \(args.count)")
      }
      let inlinedArgs = try args.map { try $0.inlining(defs, depth: depth + 1, budget: &budget) }
      let map = Dictionary(uniqueKeysWithValues: zip(d.arguments, inlinedArgs))
      return try d.body.substituting(map).inlining(defs, depth: depth + 1, budget: &budget)
    case .number, .symbol, .time, .avogadro: return self
    case .apply(let op, let args): return .apply(op, try args.map { try $0.inlining(defs, depth: depth, budget: &budget) })
    case .piecewise(let p, let o):
      return .piecewise(
        try p.map { try $0.inlining(defs, depth: depth, budget: &budget) }, try o?.inlining(defs, depth: depth, budget: &budget))
    case .delay(let a, let b):
      return .delay(try a.inlining(defs, depth: depth, budget: &budget), try b.inlining(defs, depth: depth, budget: &budget))
    case .rateOf(let a): return .rateOf(try a.inlining(defs, depth: depth, budget: &budget))
    }
  }
}
