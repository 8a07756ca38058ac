import SBMLDocument

/// The Jacobian `∂f/∂u` of a compiled model as a program: symbolic forward-mode
/// differentiation of the model's register program.
///
/// Each instruction `dst = op(a, b, c)` of the model's program gets instructions for the
/// partial derivatives of `dst` with respect to the states it depends on (structural
/// zeros are never computed); they read the model's values, so the model's program runs
/// first at the same point. Constants fold and equal sub-expressions are shared, as in
/// the model's own program. Entry `(i, j)` of the Jacobian is then the sum over the
/// fluxes and the rate rule of state `i` of their derivatives with respect to state `j`.
/// Where a derivative is infinite or undefined at the point (a power below 1 or a root of
/// 0), entries come out non-finite and the solver falls back to finite differences there.
public struct JacobianProgram: Sendable {
  /// Computes the non-zero partial derivatives, after the model's program.
  public var program: Program
  /// `J[index] = v[slot]` (row-major, `index = i·n + j`), sorted by index; all other
  /// entries are zero.
  public var entries: [(index: Int, slot: Int)]

  /// Builds the Jacobian of `main` for states loaded into `loadSlots`, whose derivatives
  /// are the slots `derivativeSlots` (−1: none) plus `fluxes`. Returns nil (finite
  /// differences then) when the program has an operation without a derivative here
  /// (`delay`, factorial of a state, an inverse trigonometric function other than asin,
  /// acos and atan, …) or writes a slot twice or after reading it.
  static func build(
    main: Program, loadSlots: [Int], derivativeSlots: [Int], fluxes: [CompiledSBML.Flux],
    compiler: inout Compiler
  ) -> JacobianProgram? {
    // Every slot is written once, before it is read: then the values the derivatives
    // read, taken after the whole program, are the values at their point of use.
    guard main.writesOnceBeforeReading(given: Set(loadSlots)) else { return nil }
    var b = Builder(compiler: compiler)
    for (j, s) in loadSlots.enumerated() { b.d[s] = [j: b.one] }
    for ins in main.instructions {
      guard let d = b.derivative(of: ins) else { return nil }
      b.d[Int(ins.dst)] = d.isEmpty ? nil : d
    }
    let n = loadSlots.count
    var rows = Array(repeating: [Int: [Int]](), count: n)  // state i → (state j → terms)
    for (i, s) in derivativeSlots.enumerated() where s >= 0 {
      for (j, x) in b.d[s] ?? [:] { rows[i][j, default: []].append(x) }
    }
    for f in fluxes {
      // x = sign · stoichiometry · rate (· conversion): the product rule over its factors.
      let sign = b.c.constant(f.sign)
      let factors = [f.stoichiometrySlot, f.rateSlot] + (f.conversionSlot.map { [$0] } ?? [])
      for (k, factor) in factors.enumerated() {
        guard let dk = b.d[factor] else { continue }
        var coefficient = sign
        for (m, other) in factors.enumerated() where m != k { coefficient = b.mul(coefficient, other) }
        for j in dk.keys.sorted() { rows[f.state][j, default: []].append(b.mul(coefficient, dk[j]!)) }
      }
    }
    var entries: [(index: Int, slot: Int)] = []
    for i in 0..<n {
      for j in rows[i].keys.sorted() {
        let terms = rows[i][j]!
        var sum = terms[0]
        for t in terms.dropFirst() { sum = b.c.emit(.add, sum, t) }
        entries.append((i * n + j, sum))
      }
    }
    compiler = b.c
    return JacobianProgram(program: b.c.program, entries: entries)
  }

  /// The differentiation rules over a compiler that continues the model's.
  struct Builder {
    var c: Compiler
    let zero, one, minusOne, two: Int
    /// slot → (state → slot holding ∂slot/∂state); absent: structurally zero.
    var d: [Int: [Int: Int]] = [:]

    init(compiler: Compiler) {
      c = compiler
      c.startProgram()
      zero = c.constant(0)
      one = c.constant(1)
      minusOne = c.constant(-1)
      two = c.constant(2)
    }

    mutating func mul(_ a: Int, _ b: Int) -> Int {
      if a == one { return b }
      if b == one { return a }
      return c.emit(.mul, a, b)
    }

    /// `coefficient · dx`, per state.
    mutating func scaled(_ dx: [Int: Int], by coefficient: Int) -> [Int: Int] {
      var out: [Int: Int] = [:]
      for j in dx.keys.sorted() { out[j] = mul(coefficient, dx[j]!) }
      return out
    }

    /// `p · dx + q · dy` (q nil: `+ dy`; `subtract`: `− q · dy`), per state.
    mutating func combined(_ dx: [Int: Int], _ p: Int, _ dy: [Int: Int], _ q: Int, subtract: Bool = false) -> [Int: Int] {
      var out: [Int: Int] = [:]
      for j in Set(dx.keys).union(dy.keys).sorted() {
        let x = dx[j].map { mul(p, $0) }, y = dy[j].map { mul(q, $0) }
        switch (x, y) {
        case let (x?, y?): out[j] = c.emit(subtract ? .sub : .add, x, y)
        case let (x?, nil): out[j] = x
        case let (nil, y?): out[j] = subtract ? c.emit(.neg, y) : y
        default: break
        }
      }
      return out
    }

    /// `cond ? dx : dy`, per state (a missing side is zero).
    mutating func selected(_ cond: Int, _ dx: [Int: Int], _ dy: [Int: Int]) -> [Int: Int] {
      var out: [Int: Int] = [:]
      for j in Set(dx.keys).union(dy.keys).sorted() { out[j] = c.emit(.select, cond, dx[j] ?? zero, dy[j] ?? zero) }
      return out
    }

    /// The partial derivatives of the instruction's result, or nil if unsupported.
    mutating func derivative(of ins: Program.Instruction) -> [Int: Int]? {
      let a = Int(ins.a), b = Int(ins.b), r = Int(ins.dst)
      let arity = ins.code.arity
      if ins.code == .delay { return nil }
      let da = d[a] ?? [:], db = arity >= 2 ? d[b] ?? [:] : [:], dc = arity >= 3 ? d[Int(ins.c)] ?? [:] : [:]
      if da.isEmpty && db.isEmpty && dc.isEmpty { return [:] }
      switch ins.code {
      case .copy: return da
      case .neg: return scaled(da, by: minusOne)
      case .add: return combined(da, one, db, one)
      case .sub: return combined(da, one, db, one, subtract: true)
      case .mul: return combined(da, b, db, a)
      case .div:
        // (da − r·db) / b
        let inverse = c.emit(.div, one, b)
        return combined(da, inverse, db, mul(r, inverse), subtract: true)
      case .pow:
        var coefficientA = zero
        if !da.isEmpty {
          // ∂(a^b)/∂a = b·a^(b−1), with the exponent folded when it is a constant.
          if let k = c.constantValue(b) {
            coefficientA = k == 1 ? one : k == 2 ? mul(two, a) : c.emit(.mul, b, c.emit(.pow, a, c.constant(k - 1)))
          } else {
            coefficientA = c.emit(.mul, b, c.emit(.pow, a, c.emit(.sub, b, one)))
          }
        }
        // ∂(a^b)/∂b = a^b·ln a (0 at a = 0, where a^b is 0 for b > 0).
        let coefficientB = db.isEmpty ? zero : c.emit(.select, c.emit(.eq, a, zero), zero, mul(r, c.emit(.ln, a)))
        return combined(da, coefficientA, db, coefficientB)
      case .exp: return scaled(da, by: r)
      case .ln: return scaled(da, by: c.emit(.div, one, a))
      case .log:
        // r = ln(v[b]) / ln(v[a]): ∂/∂b = 1/(b ln a), ∂/∂a = −r/(a ln a).
        let lnA = c.emit(.ln, a)
        let pb = c.emit(.div, one, c.emit(.mul, b, lnA))
        let pa = da.isEmpty ? zero : c.emit(.neg, c.emit(.div, r, c.emit(.mul, a, lnA)))
        return combined(da, pa, db, pb)
      case .root:
        // r = v[b]^(1/v[a]); a degree that depends on the state is not handled.
        guard da.isEmpty else { return nil }
        return scaled(db, by: c.emit(.div, r, c.emit(.mul, a, b)))
      case .abs:
        return scaled(da, by: c.emit(.select, c.emit(.ge, a, zero), one, minusOne))
      case .floor, .ceil, .eq, .neq, .gt, .lt, .ge, .le, .and, .or, .xor, .not, .quot:
        return [:]
      case .rem:
        // a − b·trunc(a/b)
        return combined(da, one, db, c.emit(.quot, a, b), subtract: true)
      // As Swift's min and max choose: b if b < a (min) or b ≥ a (max), else a.
      case .min: return selected(c.emit(.lt, b, a), db, da)
      case .max: return selected(c.emit(.ge, b, a), db, da)
      case .select: return selected(a, db, dc)
      case .sin: return scaled(da, by: c.emit(.cos, a))
      case .cos: return scaled(da, by: c.emit(.neg, c.emit(.sin, a)))
      case .tan: return scaled(da, by: c.emit(.add, one, c.emit(.mul, r, r)))
      case .sinh: return scaled(da, by: c.emit(.cosh, a))
      case .cosh: return scaled(da, by: c.emit(.sinh, a))
      case .tanh: return scaled(da, by: c.emit(.sub, one, c.emit(.mul, r, r)))
      case .asin, .acos:
        let s = c.emit(.div, one, c.emit(.root, two, c.emit(.sub, one, c.emit(.mul, a, a))))
        return scaled(da, by: ins.code == .asin ? s : c.emit(.neg, s))
      case .atan: return scaled(da, by: c.emit(.div, one, c.emit(.add, one, c.emit(.mul, a, a))))
      default: return nil
      }
    }
  }
}

extension CompiledSBML {
  /// The derivatives of the right-hand side with respect to the states *and* to the
  /// values of `parameterSlots` (constant parameters or compartments), for forward
  /// sensitivities: `J[i·(n+m) + j]` is `∂f_i/∂u_j` for `j < n` and `∂f_i/∂p_{j−n}` after.
  ///
  /// The model's evaluation, with the part hoisted out as invariant put back in front (it
  /// depends on the parameters), is differentiated by the same symbolic rules as the
  /// Jacobian. The program runs after ``SBMLSystem/evaluate(t:u:)`` at the same point; the
  /// value array grows by the slots it needs (``initial`` is extended here, so systems
  /// built from the returned model have room). Nil for models without a compiled Jacobian
  /// (delays, algebraic rules, math without derivative rules) or when a slot in
  /// `parameterSlots` is written by the evaluation (a rule's target).
  public func withSensitivityProgram(parameterSlots: [Int]) -> (model: CompiledSBML, program: JacobianProgram)? {
    guard jacobian != nil, delays.isEmpty, unknownSlots.isEmpty, var c = finalCompiler else { return nil }
    let whole = Program(instructions: invariant.instructions + main.instructions)
    let written = Set(whole.instructions.map { Int($0.dst) })
    guard !parameterSlots.contains(where: written.contains), Set(parameterSlots).count == parameterSlots.count else { return nil }
    guard
      let jp = JacobianProgram.build(
        main: whole, loadSlots: loadSlots + parameterSlots, derivativeSlots: derivativeSlots,
        fluxes: fluxes, compiler: &c)
    else { return nil }
    var copy = self
    // New constants and temporaries: the value array's tail.
    copy.initial.append(contentsOf: c.initial[initial.count...])
    copy.finalCompiler = c
    return (copy, jp)
  }
}
