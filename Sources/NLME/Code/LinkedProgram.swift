/// A ``Program`` translated for a register machine over one memory: the frame's slots, then
/// the temporaries (one per stack position, shared by all the programs of a model), then each
/// program's constants. Every instruction names its operands and its result, so
/// `CL = TVCL*EXP(ETA(1))` runs as two instructions where the stack machine dispatches five.
/// The arithmetic is the stack machine's, operation for operation, so the values are the same
/// to the bit.
struct LinkedProgram: Sendable {
  struct Instruction: Sendable {
    /// `store` moves `a` to `result`; `call` applies function `b` to `a`; `jumpIfFalse` and
    /// `jump` go to instruction `result`. `constant` and `load` never appear.
    var op: Program.Op
    var result: Int32
    var a: Int32
    var b: Int32
  }

  let code: [Instruction]
  /// Where each constant lives in memory, and its value (written once, never overwritten).
  let constants: [(address: Int, value: Double)]

  /// Translates `program` by running its stack symbolically: a stack position holds the
  /// address of its value (a slot, a constant, or the temporary of that position). A store
  /// right after the operation that computed its value becomes that operation's result.
  /// - Parameters:
  ///   - temporaries: the address of the first temporary (after the frame's slots).
  ///   - next: the first free address, where this program's constants go; advanced past them.
  init(_ program: Program, temporaries: Int, next: inout Int) {
    let constantBase = next
    next += program.constants.count
    constants = program.constants.enumerated().map { (constantBase + $0.offset, $0.element) }
    let targets = Set(program.code.filter { $0.op == .jump || $0.op == .jumpIfFalse }.map { Int($0.operand) })
    var stack: [Int32] = []
    var out: [Instruction] = []
    var newIndex = [Int](repeating: 0, count: program.code.count + 1)
    func temporary() -> Int32 { Int32(temporaries + stack.count) }
    for (pc, ins) in program.code.enumerated() {
      newIndex[pc] = out.count
      switch ins.op {
      case .constant: stack.append(Int32(constantBase) + ins.operand)
      case .load: stack.append(ins.operand)
      case .store:
        let x = stack.removeLast()
        if x == temporary(), pc > 0, !targets.contains(pc), let last = out.last, last.result == x, last.op != .jump,
          last.op != .jumpIfFalse
        {
          out[out.count - 1].result = ins.operand
        } else {
          out.append(Instruction(op: .store, result: ins.operand, a: x, b: 0))
        }
      case .negate, .not:
        let x = stack.removeLast()
        let t = temporary()
        out.append(Instruction(op: ins.op, result: t, a: x, b: 0))
        stack.append(t)
      case .call:
        let x = stack.removeLast()
        let t = temporary()
        out.append(Instruction(op: .call, result: t, a: x, b: ins.operand))
        stack.append(t)
      case .jumpIfFalse:
        let x = stack.removeLast()
        out.append(Instruction(op: .jumpIfFalse, result: ins.operand, a: x, b: 0))
      case .jump:
        out.append(Instruction(op: .jump, result: ins.operand, a: 0, b: 0))
      default:
        let b = stack.removeLast()
        let a = stack.removeLast()
        let t = temporary()
        out.append(Instruction(op: ins.op, result: t, a: a, b: b))
        stack.append(t)
      }
    }
    newIndex[program.code.count] = out.count
    for i in out.indices where out[i].op == .jump || out[i].op == .jumpIfFalse {
      out[i].result = Int32(newIndex[Int(out[i].result)])
    }
    code = out
  }

  /// Writes the constants into a memory laid out as the translation assumed.
  func place(_ memory: UnsafeMutablePointer<Double>) {
    for (address, value) in constants { memory[address] = value }
  }

  /// Runs on `memory`: the frame, with the temporaries and the placed constants after it.
  @inline(__always)
  func run(_ m: UnsafeMutablePointer<Double>) {
    code.withUnsafeBufferPointer { code in
      var pc = 0
      let end = code.count
      while pc < end {
        let ins = code[pc]
        pc += 1
        let r = Int(ins.result)
        switch ins.op {
        case .store: m[r] = m[Int(ins.a)]
        case .add: m[r] = m[Int(ins.a)] + m[Int(ins.b)]
        case .subtract: m[r] = m[Int(ins.a)] - m[Int(ins.b)]
        case .multiply: m[r] = m[Int(ins.a)] * m[Int(ins.b)]
        case .divide: m[r] = m[Int(ins.a)] / m[Int(ins.b)]
        case .negate: m[r] = -m[Int(ins.a)]
        case .not: m[r] = m[Int(ins.a)] != 0 ? 0 : 1
        case .call: m[r] = Program.call(Int(ins.b), m[Int(ins.a)])
        case .jumpIfFalse: if m[Int(ins.a)] == 0 { pc = r }
        case .jump: pc = r
        case .constant, .load: break
        default: m[r] = Program.binary(ins.op, m[Int(ins.a)], m[Int(ins.b)])
        }
      }
    }
  }
}

/// A model's code blocks linked to one memory: the frame's `slots`, the temporaries (as many
/// as the deepest program's stack), then each program's constants.
struct LinkedCode: Sendable {
  let pk: LinkedProgram?
  let output: LinkedProgram?
  let des: LinkedProgram?
  /// The length of the memory.
  let size: Int

  init(slots: Int, pk: CodeBlock?, output: CodeBlock?, des: CodeBlock?) {
    let slots = max(1, slots)
    let blocks = [pk, output, des]
    let depth = blocks.compactMap { $0?.program.depth }.max() ?? 1
    var next = slots + depth + 1
    let linked = blocks.map { $0.map { LinkedProgram($0.program, temporaries: slots, next: &next) } }
    (self.pk, self.output, self.des) = (linked[0], linked[1], linked[2])
    size = next
  }

  /// Writes every program's constants into `memory`.
  func place(_ memory: UnsafeMutablePointer<Double>) {
    for program in [pk, output, des] { program?.place(memory) }
  }
}
