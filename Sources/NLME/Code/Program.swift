import RealModule

/// Abbreviated code compiled for a stack machine: one instruction per operator, loads and
/// stores of slots, and jumps for IF blocks. Logical operators evaluate both sides (the code
/// has no side effects inside expressions).
@usableFromInline
struct Program: Sendable, Equatable {
  @usableFromInline
  enum Op: UInt8, Sendable {
    case constant, load, store, negate, not
    case add, subtract, multiply, divide, power
    case less, lessEqual, greater, greaterEqual, equal, notEqual, and, or
    case call, jumpIfFalse, jump
  }

  @usableFromInline
  struct Instruction: Sendable, Equatable {
    @usableFromInline var op: Op
    /// Slot, constant index, function index or jump target.
    @usableFromInline var operand: Int32
  }

  @usableFromInline var code: [Instruction] = []
  @usableFromInline var constants: [Double] = []
  @usableFromInline var depth = 1

  init(_ statements: [Statement]) {
    var current = 0
    emit(statements, &current)
  }

  private mutating func emit(_ statements: [Statement], _ current: inout Int) {
    for s in statements {
      switch s {
      case .assign(let slot, let e):
        emit(e, &current)
        code.append(Instruction(op: .store, operand: Int32(slot)))
        current -= 1
      case .branches(let branches):
        var exits: [Int] = []
        for b in branches {
          var skip: Int? = nil
          if let c = b.condition {
            emit(c, &current)
            skip = code.count
            code.append(Instruction(op: .jumpIfFalse, operand: 0))
            current -= 1
          }
          emit(b.body, &current)
          exits.append(code.count)
          code.append(Instruction(op: .jump, operand: 0))
          if let skip { code[skip].operand = Int32(code.count) }
        }
        for e in exits { code[e].operand = Int32(code.count) }
      }
    }
  }

  private mutating func emit(_ e: Expr, _ current: inout Int) {
    func push() {
      current += 1
      depth = max(depth, current)
    }
    switch e {
    case .constant(let c):
      constants.append(c)
      code.append(Instruction(op: .constant, operand: Int32(constants.count - 1)))
      push()
    case .slot(let s):
      code.append(Instruction(op: .load, operand: Int32(s)))
      push()
    case .negate(let x):
      emit(x, &current)
      code.append(Instruction(op: .negate, operand: 0))
    case .not(let x):
      emit(x, &current)
      code.append(Instruction(op: .not, operand: 0))
    case .call(let f, let x):
      emit(x, &current)
      code.append(Instruction(op: .call, operand: Int32(Program.index(f))))
    case .binary(let op, let l, let r):
      emit(l, &current)
      emit(r, &current)
      let o = Program.op(op)
      code.append(Instruction(op: o, operand: 0))
      current -= 1
    }
  }

  static func index(_ f: Expr.Function) -> Int { Expr.Function.allCases.firstIndex(of: f) ?? 0 }

  static func op(_ op: Expr.BinaryOp) -> Op {
    switch op {
    case .add: .add
    case .subtract: .subtract
    case .multiply: .multiply
    case .divide: .divide
    case .power: .power
    case .less: .less
    case .lessEqual: .lessEqual
    case .greater: .greater
    case .greaterEqual: .greaterEqual
    case .equal: .equal
    case .notEqual: .notEqual
    case .and: .and
    case .or: .or
    }
  }

  @inlinable
  func run(_ frame: UnsafeMutablePointer<Double>) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: depth + 1) { buffer in
      guard let stack = buffer.baseAddress else { return }
      run(frame, stack: stack)
    }
  }

  /// Runs with a stack of at least ``depth`` + 1 values the caller keeps.
  @inlinable
  func run(_ frame: UnsafeMutablePointer<Double>, stack: UnsafeMutablePointer<Double>) {
    code.withUnsafeBufferPointer { code in
      constants.withUnsafeBufferPointer { constants in
        var top = -1
        var pc = 0
        let end = code.count
        while pc < end {
          let ins = code[pc]
          pc += 1
          switch ins.op {
          case .constant:
            top += 1
            stack[top] = constants[Int(ins.operand)]
          case .load:
            top += 1
            stack[top] = frame[Int(ins.operand)]
          case .store:
            frame[Int(ins.operand)] = stack[top]
            top -= 1
          case .negate: stack[top] = -stack[top]
          case .not: stack[top] = stack[top] != 0 ? 0 : 1
          case .call: stack[top] = Program.call(Int(ins.operand), stack[top])
          case .jumpIfFalse:
            if stack[top] == 0 { pc = Int(ins.operand) }
            top -= 1
          case .jump: pc = Int(ins.operand)
          default:
            let b = stack[top]
            top -= 1
            let a = stack[top]
            stack[top] = Program.binary(ins.op, a, b)
          }
        }
      }
    }
  }

  @inlinable
  static func binary(_ op: Op, _ a: Double, _ b: Double) -> Double {
    switch op {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .power:
      if b == b.rounded(), Swift.abs(b) <= 64 { return Double.pow(a, Int(b)) }
      return Double.pow(a, b)
    case .less: return a < b ? 1 : 0
    case .lessEqual: return a <= b ? 1 : 0
    case .greater: return a > b ? 1 : 0
    case .greaterEqual: return a >= b ? 1 : 0
    case .equal: return a == b ? 1 : 0
    case .notEqual: return a != b ? 1 : 0
    case .and: return a != 0 && b != 0 ? 1 : 0
    case .or: return a != 0 || b != 0 ? 1 : 0
    default: return .nan
    }
  }

  @inlinable
  static func call(_ f: Int, _ x: Double) -> Double {
    switch f {
    case 0: return Double.exp(x)
    case 1: return Double.log(x)
    case 2: return Double.log10(x)
    case 3: return x.squareRoot()
    case 4: return Swift.abs(x)
    case 5: return Double.sin(x)
    case 6: return Double.cos(x)
    case 7: return Double.tan(x)
    case 8: return Double.atan(x)
    case 9: return x.rounded(.towardZero)
    case 10: return 0.5 * Double.erfc(-x / 2.0.squareRoot())
    default: return Double.logGamma(x)
    }
  }
}
