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

  /// The value in a frame, by walking the tree (the compiled ``Program`` is what runs in
  /// fits). Comparisons and logical operators give 1 or 0.
  public func evaluate(_ frame: UnsafeMutablePointer<Double>) -> Double {
    switch self {
    case .constant(let c): return c
    case .slot(let s): return frame[s]
    case .negate(let e): return -e.evaluate(frame)
    case .not(let e): return e.evaluate(frame) != 0 ? 0 : 1
    case .call(let f, let e): return Program.call(Program.index(f), e.evaluate(frame))
    case .binary(let op, let l, let r): return Program.binary(Program.op(op), l.evaluate(frame), r.evaluate(frame))
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

/// A block of abbreviated code: its statements, and the same compiled to a flat program for a
/// stack machine, which a model links once to a register machine over its frame
/// (``LinkedCode``, what runs at every record and every ETA step, so it must be cheap).
public struct CodeBlock: Sendable, Equatable {
  public var record: String
  public var statements: [Statement] {
    didSet { program = Program(statements) }
  }
  @usableFromInline var program: Program

  public init(record: String, statements: [Statement]) {
    self.record = record
    self.statements = statements
    program = Program(statements)
  }

  /// Runs the block on a frame.
  @inlinable
  public func run(_ frame: UnsafeMutablePointer<Double>) {
    program.run(frame)
  }

  /// Whether a variable of the block can be read before the block assigns it on some path:
  /// then the block carries a value from one record to the next (as `BTIME` does) and must run
  /// at every record. Otherwise it may be skipped where its results are not needed.
  public var carriesState: Bool {
    let assignedSomewhere = assigned
    var carried = false
    func walk(_ ss: [Statement], _ defined: Set<Int>) -> Set<Int> {
      var defined = defined
      for s in ss {
        switch s {
        case .assign(let slot, let e):
          var r = Set<Int>()
          e.reads(into: &r)
          if !r.subtracting(defined).isDisjoint(with: assignedSomewhere) { carried = true }
          defined.insert(slot)
        case .branches(let bs):
          var common: Set<Int>? = nil
          for b in bs {
            if let c = b.condition {
              var r = Set<Int>()
              c.reads(into: &r)
              if !r.subtracting(defined).isDisjoint(with: assignedSomewhere) { carried = true }
            }
            let after = walk(b.body, defined)
            common = common.map { $0.intersection(after) } ?? after
          }
          // Without an ELSE some path assigns nothing.
          if bs.last?.condition == nil, let common { defined.formUnion(common) }
        }
      }
      return defined
    }
    _ = walk(statements, [])
    return carried
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
