import Foundation
import SBMLDocument

/// A compiled expression list: register-machine instructions over a value array.
///
/// Symbols compile to their slot in the value array (no look-up at run time); constants
/// and intermediate results live in further slots. ``run(_:)`` executes the instructions
/// in order; each writes one slot.
public struct Program: Sendable {
  public enum Code: UInt8, Sendable {
    case copy, neg, add, sub, mul, div, pow, abs, exp, ln, log, floor, ceil, fact, root
    case sin, cos, tan, sec, csc, cot, sinh, cosh, tanh, sech, csch, coth
    case asin, acos, atan, asec, acsc, acot, asinh, acosh, atanh, asech, acsch, acoth
    case eq, neq, gt, lt, ge, le, and, or, xor, not, min, max, rem, quot, select
    /// `delay(expression b, τ = v[a])`: asks the program's ``DelayEvaluator``.
    case delay

    /// Number of operands read (a; a, b; a, b, c).
    public var arity: Int {
      switch self {
      case .select: return 3
      case .add, .sub, .mul, .div, .pow, .log, .root, .eq, .neq, .gt, .lt, .ge, .le, .and, .or, .xor, .min, .max, .rem, .quot: return 2
      default: return 1
      }
    }
  }
  public struct Instruction: Sendable {
    public var code: Code
    public var dst: Int32
    public var a: Int32
    public var b: Int32
    public var c: Int32
    public init(code: Code, dst: Int32, a: Int32, b: Int32, c: Int32) {
      self.code = code
      self.dst = dst
      self.a = a
      self.b = b
      self.c = c
    }
  }
  public var instructions: [Instruction] = []

  public init(instructions: [Instruction] = []) { self.instructions = instructions }

  /// Executes the program on `v` (the value array, including temporaries).
  @inlinable
  public func run(_ v: UnsafeMutablePointer<Double>, delay: (any DelayEvaluator)? = nil) {
    instructions.withUnsafeBufferPointer { ins in
      for i in ins { v[Int(truncatingIfNeeded: i.dst)] = Self.value(of: i, v, delay: delay) }
    }
  }

  /// The value instruction `i` writes, from the value array as it stands (one step of
  /// ``run(_:delay:)``, for interpreters that follow the program instruction by instruction).
  @inlinable @inline(__always)
  public static func value(of i: Instruction, _ v: UnsafeMutablePointer<Double>, delay: (any DelayEvaluator)? = nil) -> Double {
    let x = v[Int(truncatingIfNeeded: i.a)]
    let r: Double
    switch i.code {
    case .copy: r = x
    case .neg: r = -x
    case .add: r = x + v[Int(truncatingIfNeeded: i.b)]
    case .sub: r = x - v[Int(truncatingIfNeeded: i.b)]
    case .mul: r = x * v[Int(truncatingIfNeeded: i.b)]
    case .div: r = x / v[Int(truncatingIfNeeded: i.b)]
    case .pow: r = Foundation.pow(x, v[Int(truncatingIfNeeded: i.b)])
    case .abs: r = Swift.abs(x)
    case .exp: r = Foundation.exp(x)
    case .ln: r = Foundation.log(x)
    case .log: r = Foundation.log(v[Int(truncatingIfNeeded: i.b)]) / Foundation.log(x)
    case .floor: r = x.rounded(.down)
    case .ceil: r = x.rounded(.up)
    case .fact: r = Foundation.tgamma(x + 1)
    case .root: r = x == 2 ? v[Int(truncatingIfNeeded: i.b)].squareRoot() : Foundation.pow(v[Int(truncatingIfNeeded: i.b)], 1 / x)
    case .sin: r = Foundation.sin(x)
    case .cos: r = Foundation.cos(x)
    case .tan: r = Foundation.tan(x)
    case .sec: r = 1 / Foundation.cos(x)
    case .csc: r = 1 / Foundation.sin(x)
    case .cot: r = 1 / Foundation.tan(x)
    case .sinh: r = Foundation.sinh(x)
    case .cosh: r = Foundation.cosh(x)
    case .tanh: r = Foundation.tanh(x)
    case .sech: r = 1 / Foundation.cosh(x)
    case .csch: r = 1 / Foundation.sinh(x)
    case .coth: r = 1 / Foundation.tanh(x)
    case .asin: r = Foundation.asin(x)
    case .acos: r = Foundation.acos(x)
    case .atan: r = Foundation.atan(x)
    case .asec: r = Foundation.acos(1 / x)
    case .acsc: r = Foundation.asin(1 / x)
    case .acot: r = Foundation.atan(1 / x)
    case .asinh: r = Foundation.asinh(x)
    case .acosh: r = Foundation.acosh(x)
    case .atanh: r = Foundation.atanh(x)
    case .asech: r = Foundation.acosh(1 / x)
    case .acsch: r = Foundation.asinh(1 / x)
    case .acoth: r = Foundation.atanh(1 / x)
    case .eq: r = x == v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .neq: r = x != v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .gt: r = x > v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .lt: r = x < v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .ge: r = x >= v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .le: r = x <= v[Int(truncatingIfNeeded: i.b)] ? 1 : 0
    case .and: r = (x != 0 && v[Int(truncatingIfNeeded: i.b)] != 0) ? 1 : 0
    case .or: r = (x != 0 || v[Int(truncatingIfNeeded: i.b)] != 0) ? 1 : 0
    case .xor: r = ((x != 0) != (v[Int(truncatingIfNeeded: i.b)] != 0)) ? 1 : 0
    case .not: r = x == 0 ? 1 : 0
    case .min: r = Swift.min(x, v[Int(truncatingIfNeeded: i.b)])
    case .max: r = Swift.max(x, v[Int(truncatingIfNeeded: i.b)])
    case .rem: r = x.truncatingRemainder(dividingBy: v[Int(truncatingIfNeeded: i.b)])
    case .quot: r = (x / v[Int(truncatingIfNeeded: i.b)]).rounded(.towardZero)
    case .select: r = x != 0 ? v[Int(truncatingIfNeeded: i.b)] : v[Int(truncatingIfNeeded: i.c)]
    case .delay: r = delay?.delayed(Int(i.b), v, tau: x) ?? .nan
    }
    return r
  }
}

/// Evaluates `delay(x, τ)`: the delayed expression number `index` at time `v[0] − τ`.
public protocol DelayEvaluator: AnyObject {
  func delayed(_ index: Int, _ v: UnsafeMutablePointer<Double>, tau: Double) -> Double
}

extension Program.Instruction {
  /// The slots the instruction reads (`delay` reads only τ).
  var operands: [Int] {
    let n = code == .delay ? 1 : code.arity
    return [Int(a), Int(b), Int(c)].prefix(n).map { $0 }
  }
}

extension Program {
  /// Slots read by the instructions that are not written by an earlier one.
  public var inputs: Set<Int> {
    var written = Set<Int>(), reads = Set<Int>()
    for i in instructions {
      for o in i.operands where !written.contains(o) { reads.insert(o) }
      written.insert(Int(i.dst))
    }
    return reads
  }

  /// Whether every slot the program writes is written once, not before it is read, and is
  /// none of `given` (slots filled before the program runs): then each value, read after
  /// the whole program, is the value at its point of use, whatever the previous evaluation.
  func writesOnceBeforeReading(given: Set<Int>) -> Bool {
    let targets = Set(instructions.map { Int($0.dst) })
    var written = given
    for i in instructions {
      for o in i.operands where !written.contains(o) && targets.contains(o) { return false }
      guard written.insert(Int(i.dst)).inserted else { return false }
    }
    return true
  }

  /// Splits the program into the instructions whose operands never change during a run
  /// (their operands are constants, parameters, or results of such instructions: not in
  /// `varying` and not written by a varying instruction) and the rest, each in the original
  /// order. Running the first part once, then the rest at every evaluation, leaves the
  /// same values as running the whole program each time. Nil if the program writes a slot
  /// twice, reads one before writing it or writes one of `varying` (then values would
  /// depend on the previous evaluation) or has nothing to hoist.
  public func hoistingInvariants(varying: Set<Int>) -> (invariant: Program, rest: Program)? {
    guard writesOnceBeforeReading(given: varying) else { return nil }
    var varies = varying
    var invariant: [Instruction] = [], rest: [Instruction] = []
    for i in instructions {
      if i.code == .delay || i.operands.contains(where: varies.contains) {
        varies.insert(Int(i.dst))
        rest.append(i)
      } else {
        invariant.append(i)
      }
    }
    return invariant.isEmpty ? nil : (Program(instructions: invariant), Program(instructions: rest))
  }

  /// The instructions needed to compute the slots in `needed` (a backward slice).
  public func slice(for needed: Set<Int>) -> Program {
    var need = needed
    var keep: [Instruction] = []
    for i in instructions.reversed() where need.contains(Int(i.dst)) {
      keep.append(i)
      for o in i.operands { need.insert(o) }
    }
    return Program(instructions: keep.reversed())
  }
}

/// Compiles expressions into a ``Program`` against a symbol → slot table.
public struct Compiler: Sendable {
  public private(set) var slots: [String: Int]
  /// Initial contents of the value array (constants are written here once).
  public private(set) var initial: [Double]
  public var program = Program()
  let timeSlot: Int
  private var constants: [UInt64: Int] = [:]
  private var constantSlots = Set<Int>()
  struct CSEKey: Hashable {
    var code: UInt8
    var a, b, c: Int32
  }
  private var cse: [CSEKey: (program: Int, slot: Int)] = [:]
  private var programID = 0
  /// The expressions and delays of `delay(x, τ)` uses, by index (the program's `b` operand).
  public private(set) var delays: [(expr: Expr, tau: Expr)] = []

  public init(slots: [String: Int], count: Int, timeSlot: Int) {
    self.slots = slots
    self.initial = Array(repeating: 0, count: count)
    self.timeSlot = timeSlot
  }

  public var count: Int { initial.count }

  mutating func initialValue(_ slot: Int, _ value: Double) { initial[slot] = value }

  public mutating func newSlot(_ value: Double = 0) -> Int {
    initial.append(value)
    return initial.count - 1
  }

  /// The value of a constant slot (nil for any other slot).
  public func constantValue(_ slot: Int) -> Double? {
    constantSlots.contains(slot) ? initial[slot] : nil
  }

  public mutating func constant(_ x: Double) -> Int {
    if let s = constants[x.bitPattern] { return s }
    let s = newSlot(x)
    constants[x.bitPattern] = s
    constantSlots.insert(s)
    return s
  }

  /// Emits one instruction, reusing an identical earlier one of the current program
  /// (symbol slots are written once per evaluation, before they are read, so equal
  /// instructions compute equal values), and folding instructions on constants.
  public mutating func emit(_ code: Program.Code, _ a: Int, _ b: Int = 0, _ c: Int = 0) -> Int {
    // A small whole power of a variable is multiplied out: x^2 = x·x (correctly rounded, where
    // libm's pow is within about half an ulp) at a fraction of pow's cost; Hill terms are full of them.
    if code == .pow, !constantSlots.contains(a), let k = constantValue(b) {
      switch k {
      case 1: return a
      case 2: return emit(.mul, a, a)
      case 3: return emit(.mul, emit(.mul, a, a), a)
      case 4:
        let square = emit(.mul, a, a)
        return emit(.mul, square, square)
      default: break
      }
    }
    let key = CSEKey(code: code.rawValue, a: Int32(a), b: code.arity >= 2 ? Int32(b) : -1, c: code.arity >= 3 ? Int32(c) : -1)
    if let d = cse[key], d.program == programID { return d.slot }
    let d: Int
    let arity = code.arity
    if code != .copy && constantSlots.contains(a) && (arity < 2 || constantSlots.contains(b)) && (arity < 3 || constantSlots.contains(c)) {
      // Both operands are constants: evaluate now.
      var scratch = initial
      var p = Program()
      p.instructions = [Program.Instruction(code: code, dst: 0, a: Int32(a), b: Int32(b), c: Int32(c))]
      scratch.withUnsafeMutableBufferPointer { p.run($0.baseAddress!) }
      d = constant(scratch[0])
    } else {
      d = newSlot()
      program.instructions.append(Program.Instruction(code: code, dst: Int32(d), a: Int32(a), b: Int32(b), c: Int32(c)))
    }
    cse[key] = (programID, d)
    return d
  }

  /// Starts a new program: instructions of earlier programs are not reused.
  public mutating func startProgram() {
    program = Program()
    programID += 1
  }

  /// Compiles `e` so that its value ends up in `target` (a symbol's slot), after the
  /// instructions emitted so far: the last instruction writes `target` directly.
  public mutating func assign(_ e: Expr, to target: Int) throws {
    let before = program.instructions.count
    let r = try compile(e)
    if program.instructions.count > before && Int(program.instructions[program.instructions.count - 1].dst) == r {
      // Redirect the final instruction to the target; later uses of its value read the target.
      program.instructions[program.instructions.count - 1].dst = Int32(target)
      for (k, v) in cse where v.slot == r { cse[k] = (v.program, target) }
      return
    }
    program.instructions.append(Program.Instruction(code: .copy, dst: Int32(target), a: Int32(r), b: 0, c: 0))
  }

  /// Compiles `e`, returning the slot that will hold its value.
  public mutating func compile(_ e: Expr) throws -> Int {
    switch e {
    case .number(let x): return constant(x)
    case .time: return timeSlot
    case .avogadro: return constant(6.02214179e23)  // the value of SBML L3V1 (CODATA 2006)
    case .symbol(let s):
      guard let slot = slots[s] else { throw SBMLError(.invalid, "unknown symbol '\(s)' in math") }
      return slot
    case .call(let f, _): throw SBMLError(.invalid, "call of undefined function '\(f)'")
    case .delay(let x, let tau):
      let t = try compile(tau)
      delays.append((x, tau))
      let d = newSlot()
      program.instructions.append(Program.Instruction(code: .delay, dst: Int32(d), a: Int32(t), b: Int32(delays.count - 1), c: 0))
      return d
    case .rateOf: throw SBMLError(.unsupported, "csymbol rateOf")
    case .piecewise(let pieces, let other):
      var result = try other.map { try compile($0) } ?? constant(.nan)
      var i = pieces.count - 2
      while i >= 0 {
        let v = try compile(pieces[i]), c = try compile(pieces[i + 1])
        result = emit(.select, c, v, result)
        i -= 2
      }
      return result
    case .apply(let op, let args):
      let r = try args.map { try compile($0) }
      func fold(_ code: Program.Code, empty: Double) -> Int {
        guard var acc = r.first else { return constant(empty) }
        for x in r.dropFirst() { acc = emit(code, acc, x) }
        return acc
      }
      func chain(_ code: Program.Code) throws -> Int {
        // Relational operators with n arguments: all adjacent pairs must hold.
        guard r.count >= 2 else { return constant(1) }
        var acc = emit(code, r[0], r[1])
        for k in 2..<max(r.count, 2) { acc = emit(.and, acc, emit(code, r[k - 1], r[k])) }
        return acc
      }
      func unary(_ code: Program.Code) throws -> Int {
        guard r.count == 1 else { throw SBMLError(.invalid, "\(op.rawValue) takes one argument, got \(r.count)") }
        return emit(code, r[0])
      }
      func binary(_ code: Program.Code) throws -> Int {
        guard r.count == 2 else { throw SBMLError(.invalid, "\(op.rawValue) takes two arguments, got \(r.count)") }
        return emit(code, r[0], r[1])
      }
      switch op {
      case .plus: return fold(.add, empty: 0)
      case .times: return fold(.mul, empty: 1)
      case .minus: return r.count == 1 ? emit(.neg, r[0]) : try binary(.sub)
      case .divide: return try binary(.div)
      case .power: return try binary(.pow)
      case .root: return try binary(.root)
      case .log: return try binary(.log)
      case .abs: return try unary(.abs)
      case .exp: return try unary(.exp)
      case .ln: return try unary(.ln)
      case .floor: return try unary(.floor)
      case .ceiling: return try unary(.ceil)
      case .factorial: return try unary(.fact)
      case .sin: return try unary(.sin)
      case .cos: return try unary(.cos)
      case .tan: return try unary(.tan)
      case .sec: return try unary(.sec)
      case .csc: return try unary(.csc)
      case .cot: return try unary(.cot)
      case .sinh: return try unary(.sinh)
      case .cosh: return try unary(.cosh)
      case .tanh: return try unary(.tanh)
      case .sech: return try unary(.sech)
      case .csch: return try unary(.csch)
      case .coth: return try unary(.coth)
      case .arcsin: return try unary(.asin)
      case .arccos: return try unary(.acos)
      case .arctan: return try unary(.atan)
      case .arcsec: return try unary(.asec)
      case .arccsc: return try unary(.acsc)
      case .arccot: return try unary(.acot)
      case .arcsinh: return try unary(.asinh)
      case .arccosh: return try unary(.acosh)
      case .arctanh: return try unary(.atanh)
      case .arcsech: return try unary(.asech)
      case .arccsch: return try unary(.acsch)
      case .arccoth: return try unary(.acoth)
      case .eq: return try chain(.eq)
      case .neq: return try binary(.neq)
      case .gt: return try chain(.gt)
      case .lt: return try chain(.lt)
      case .geq: return try chain(.ge)
      case .leq: return try chain(.le)
      case .and: return fold(.and, empty: 1)
      case .or: return fold(.or, empty: 0)
      case .xor: return fold(.xor, empty: 0)
      case .not: return try unary(.not)
      case .implies: return emit(.or, emit(.not, try binary(.copy)), r.count == 2 ? r[1] : 0)
      case .min: return fold(.min, empty: .infinity)
      case .max: return fold(.max, empty: -.infinity)
      case .rem: return try binary(.rem)
      case .quotient: return try binary(.quot)
      }
    }
  }
}
