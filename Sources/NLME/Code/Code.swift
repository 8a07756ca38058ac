import RealModule

/// NM-TRAN abbreviated code ($PK, $ERROR, $PRED, $DES) compiled to a tree over numbered slots.
///
/// Every name the code reads or writes is a slot of one ``SymbolTable``: data items, `THETA(n)`,
/// `ETA(n)`, `EPS(n)`, `A(n)`, `DADT(n)`, the reserved outputs (`F`, `Y`, `S1`, `F1`, `ALAG1`,
/// `R1`, `D1`, …) and the user's own variables. A frame of doubles, one per slot, carries the
/// values; as in NONMEM, a variable keeps its value from one record to the next of a subject
/// (`IF (AMT.GT.0) BTIME=TIME` relies on it), and a frame starts at zero for each subject.
public indirect enum Expr: Sendable, Equatable {
  case constant(Double)
  case slot(Int)
  case negate(Expr)
  case binary(BinaryOp, Expr, Expr)
  case call(Function, Expr)
  case not(Expr)

  public enum BinaryOp: Sendable, Equatable {
    case add, subtract, multiply, divide, power
    case less, lessEqual, greater, greaterEqual, equal, notEqual
    case and, or
  }

  /// The intrinsic functions of abbreviated code NM-TRAN accepts here.
  public enum Function: String, Sendable, CaseIterable {
    case exp = "EXP", log = "LOG", log10 = "LOG10", sqrt = "SQRT", abs = "ABS"
    case sin = "SIN", cos = "COS", tan = "TAN", atan = "ATAN", int = "INT"
    case phi = "PHI", gamln = "GAMLN"
  }

  /// The value in a frame. Comparisons and logical operators give 1 or 0.
  @inlinable
  public func evaluate(_ frame: UnsafeMutablePointer<Double>) -> Double {
    switch self {
    case .constant(let c): return c
    case .slot(let s): return frame[s]
    case .negate(let e): return -e.evaluate(frame)
    case .not(let e): return e.evaluate(frame) != 0 ? 0 : 1
    case .call(let f, let e):
      let x = e.evaluate(frame)
      switch f {
      case .exp: return Double.exp(x)
      case .log: return Double.log(x)
      case .log10: return Double.log10(x)
      case .sqrt: return x.squareRoot()
      case .abs: return Swift.abs(x)
      case .sin: return Double.sin(x)
      case .cos: return Double.cos(x)
      case .tan: return Double.tan(x)
      case .atan: return Double.atan(x)
      case .int: return x.rounded(.towardZero)
      case .phi: return 0.5 * Double.erfc(-x / 2.0.squareRoot())
      case .gamln: return Double.logGamma(x)
      }
    case .binary(let op, let l, let r):
      // Logical operators short-circuit as Fortran allows.
      if op == .and { return l.evaluate(frame) != 0 && r.evaluate(frame) != 0 ? 1 : 0 }
      if op == .or { return l.evaluate(frame) != 0 || r.evaluate(frame) != 0 ? 1 : 0 }
      let a = l.evaluate(frame)
      let b = r.evaluate(frame)
      switch op {
      case .add: return a + b
      case .subtract: return a - b
      case .multiply: return a * b
      case .divide: return a / b
      case .power:
        // Integer powers as Fortran computes them (negative bases allowed).
        if b == b.rounded(), Swift.abs(b) <= 64 { return Double.pow(a, Int(b)) }
        return Double.pow(a, b)
      case .less: return a < b ? 1 : 0
      case .lessEqual: return a <= b ? 1 : 0
      case .greater: return a > b ? 1 : 0
      case .greaterEqual: return a >= b ? 1 : 0
      case .equal: return a == b ? 1 : 0
      case .notEqual: return a != b ? 1 : 0
      case .and, .or: return 0
      }
    }
  }

  /// The slots the expression reads.
  func reads(into set: inout Set<Int>) {
    switch self {
    case .constant: break
    case .slot(let s): set.insert(s)
    case .negate(let e), .not(let e), .call(_, let e): e.reads(into: &set)
    case .binary(_, let l, let r):
      l.reads(into: &set)
      r.reads(into: &set)
    }
  }
}

/// One statement of abbreviated code.
public indirect enum Statement: Sendable, Equatable {
  case assign(Int, Expr)
  /// IF / ELSE IF / ELSE: the first branch whose condition holds runs; a nil condition is ELSE.
  case branches([Branch])

  public struct Branch: Sendable, Equatable {
    public var condition: Expr?
    public var body: [Statement]
  }
}

/// A block of abbreviated code, run statement by statement on a frame.
public struct CodeBlock: Sendable, Equatable {
  public var record: String
  public var statements: [Statement]

  @inlinable
  public func run(_ frame: UnsafeMutablePointer<Double>) {
    Self.run(statements, frame)
  }

  @usableFromInline
  static func run(_ statements: [Statement], _ frame: UnsafeMutablePointer<Double>) {
    for s in statements {
      switch s {
      case .assign(let slot, let e): frame[slot] = e.evaluate(frame)
      case .branches(let bs):
        for b in bs where b.condition.map({ $0.evaluate(frame) != 0 }) ?? true {
          run(b.body, frame)
          break
        }
      }
    }
  }

  /// The slots any statement assigns.
  public var assigned: Set<Int> {
    var set = Set<Int>()
    func walk(_ ss: [Statement]) {
      for s in ss {
        switch s {
        case .assign(let slot, _): set.insert(slot)
        case .branches(let bs): for b in bs { walk(b.body) }
        }
      }
    }
    walk(statements)
    return set
  }

  /// The slots any expression reads.
  public var read: Set<Int> {
    var set = Set<Int>()
    func walk(_ ss: [Statement]) {
      for s in ss {
        switch s {
        case .assign(_, let e): e.reads(into: &set)
        case .branches(let bs):
          for b in bs {
            b.condition?.reads(into: &set)
            walk(b.body)
          }
        }
      }
    }
    walk(statements)
    return set
  }
}

/// The names of a model's slots. Indexed names are spelled as NONMEM prints them, `THETA(2)`.
public struct SymbolTable: Sendable, Equatable {
  public private(set) var names: [String] = []
  private var index: [String: Int] = [:]

  public init() {}

  /// The slot of `name`, created on first use.
  public mutating func slot(_ name: String) -> Int {
    if let s = index[name] { return s }
    names.append(name)
    index[name] = names.count - 1
    return names.count - 1
  }

  /// The slot of `name` if it exists.
  public func lookup(_ name: String) -> Int? { index[name] }

  public var count: Int { names.count }
}
