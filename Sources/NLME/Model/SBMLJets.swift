import ODEKit
import RealModule
import SBMLKit

/// The jets of an SBML model's value array (``SBMLWorkspace``), so that an SBML-mapped
/// population model has exact sensitivities as `$DES` has: the mapped parameters carry the jets
/// `$PK` gave them, the initial assignments and the parameter-only rules run on jets, and the
/// model's evaluation (rules, rates, rate rules) runs on jets inside the integration, which
/// makes the jets of the state the first- and second-order forward sensitivities. Every value
/// is computed by ``SBMLKit/Program/value(of:_:delay:)``, the interpreter's own step, so the
/// values are those of the plain prediction to the bit while the explicit method steps.
///
/// Not covered (the jets are not made, and finite differences serve): `delay`, algebraic rules
/// and fast reactions. Events are watched as in the plain prediction; a subject in whom one
/// fires (the jets would jump with the event time) is marked unsupported. A function without
/// derivatives here (the factorial, the reciprocal trigonometric functions, a logarithm of
/// varying base, a root of varying degree) gives NaN jets where its operand varies; a subject
/// whose state or F they reach is marked unsupported too.
final class SBMLJets {
  let shape: JetShape
  /// The jet of value slot k at k·width.
  let values: UnsafeMutablePointer<Double>
  let count: Int
  /// Scratch for the fluxes: two jets.
  let scratch: UnsafeMutablePointer<Double>

  init?(_ compiled: CompiledSBML, shape: JetShape) {
    guard compiled.delays.isEmpty, compiled.unknownSlots.isEmpty, !compiled.hasFastReactions else {
      return nil
    }
    self.shape = shape
    count = compiled.initial.count
    values = .allocate(capacity: count * shape.width)
    values.initialize(repeating: 0, count: count * shape.width)
    scratch = .allocate(capacity: 2 * shape.width)
    scratch.initialize(repeating: 0, count: 2 * shape.width)
  }

  deinit {
    values.deallocate()
    scratch.deallocate()
  }

  func jet(_ slot: Int) -> UnsafeMutablePointer<Double> { values + slot * shape.width }

  /// Runs `program` on the values `v` exactly as ``SBMLKit/Program/run(_:delay:)`` does, and on their
  /// jets. A derivative that is not available here is NaN: a piecewise expression computes
  /// every branch, and only the jets of the branch taken travel on. Where NaN reaches the
  /// state or F, the subject is marked unsupported.
  func run(_ program: SBMLKit.Program, _ v: UnsafeMutablePointer<Double>) {
    let shape = self.shape
    let w = shape.width
    program.instructions.withUnsafeBufferPointer { code in
      for i in code {
        let (a, b) = (Int(truncatingIfNeeded: i.a), Int(truncatingIfNeeded: i.b))
        let x = v[a]
        let y = v[b]
        let r = SBMLKit.Program.value(of: i, v)
        v[Int(truncatingIfNeeded: i.dst)] = r
        let dr = jet(Int(truncatingIfNeeded: i.dst))
        let da = jet(a)
        let db = jet(b)
        /// φ(x) from φ′ and φ″, or zero where x is constant.
        func chain(_ d: (Double, Double)) {
          if shape.isConstant(da) { dr.update(repeating: 0, count: w) } else { shape.chain(d.0, d.1, da, dr) }
        }
        /// Zero, or NaN where an operand varies.
        func unavailable(_ operands: UnsafeMutablePointer<Double>...) {
          dr.update(repeating: operands.allSatisfy({ shape.isConstant($0) }) ? 0 : .nan, count: w)
        }
        switch i.code {
        case .copy: if dr != da { dr.update(from: da, count: w) }
        case .neg: for k in 0..<w { dr[k] = -da[k] }
        case .add: for k in 0..<w { dr[k] = da[k] + db[k] }
        case .sub: for k in 0..<w { dr[k] = da[k] - db[k] }
        case .mul: shape.multiply(x, da, y, db, dr)
        case .div: shape.divide(r, da, y, db, dr)
        case .pow: shape.power(x, y, r, da, db, dr)
        case .abs: chain((x < 0 ? -1 : 1, 0))
        case .exp: chain((r, r))
        case .ln: chain((1 / x, -1 / (x * x)))
        case .log:
          // log base x of y, with a constant base.
          if shape.isConstant(da) {
            let l = Double.log(x)
            if shape.isConstant(db) { dr.update(repeating: 0, count: w) } else { shape.chain(1 / (y * l), -1 / (y * y * l), db, dr) }
          } else {
            unavailable(da)
          }
        case .root:
          // The x-th root of y, with a constant degree.
          if shape.isConstant(da) {
            if shape.isConstant(db) {
              dr.update(repeating: 0, count: w)
            } else {
              let e = 1 / x
              shape.chain(e * r / y, e * (e - 1) * r / (y * y), db, dr)
            }
          } else {
            unavailable(da)
          }
        case .sin: chain((Double.cos(x), -r))
        case .cos: chain((-Double.sin(x), -r))
        case .tan: chain((1 + r * r, 2 * r * (1 + r * r)))
        case .sinh: chain((Double.cosh(x), r))
        case .cosh: chain((Double.sinh(x), r))
        case .tanh: chain((1 - r * r, -2 * r * (1 - r * r)))
        case .asin, .acos:
          let s = 1 - x * x
          let d1 = 1 / s.squareRoot()
          let d2 = x / (s * s.squareRoot())
          chain(i.code == .asin ? (d1, d2) : (-d1, -d2))
        case .atan: chain((1 / (1 + x * x), -2 * x / ((1 + x * x) * (1 + x * x))))
        case .asinh:
          let s = x * x + 1
          chain((1 / s.squareRoot(), -x / (s * s.squareRoot())))
        case .acosh:
          let s = x * x - 1
          chain((1 / s.squareRoot(), -x / (s * s.squareRoot())))
        case .atanh:
          let s = 1 - x * x
          chain((1 / s, 2 * x / (s * s)))
        case .min: if dr != (y < x ? db : da) { dr.update(from: y < x ? db : da, count: w) }
        case .max: if dr != (y >= x ? db : da) { dr.update(from: y >= x ? db : da, count: w) }
        case .rem:
          // x − q·y with q = trunc(x/y) constant where it is differentiable.
          let q = ((x - r) / y).rounded()
          for k in 0..<w { dr[k] = da[k] - q * db[k] }
        case .select:
          let chosen = jet(Int(truncatingIfNeeded: x != 0 ? i.b : i.c))
          if dr != chosen { dr.update(from: chosen, count: w) }
        case .floor, .ceil, .eq, .neq, .gt, .lt, .ge, .le, .and, .or, .xor, .not, .quot:
          dr.update(repeating: 0, count: w)
        case .fact, .sec, .csc, .cot, .sech, .csch, .coth, .asec, .acsc, .acot, .asech, .acsch, .acoth: unavailable(da)
        case .delay: unavailable(da, db)
        }
      }
    }
  }

  /// Whether `count` jets from `x` are finite.
  func finite(_ x: UnsafePointer<Double>, count: Int) -> Bool {
    for i in 0..<(count * shape.width) where !x[i].isFinite { return false }
    return true
  }
}

extension JetState {
  /// The SBML model's initial state with its jets, as ``SBMLSystem/initialState(at:overrides:)``
  /// computes it: the mapped parameters (with the jets `$PK` gave them) before the initial
  /// assignments, then the parameter-only rules. Nil (the subject unsupported) where a jet of
  /// the state is not finite.
  func sbmlStart(_ sys: SBMLSystem, _ map: NLMEModel.SBMLKinetics, at t0: Double, _ fr: UnsafeMutablePointer<Double>) -> [Double]? {
    guard let sj = sbml else { return nil }
    let c = sys.compiled
    let v = sys.workspace.values
    let w = width
    c.initial.withUnsafeBufferPointer { if let base = $0.baseAddress { v.update(from: base, count: $0.count) } }
    sj.values.update(repeating: 0, count: sj.count * w)
    for (slot, frameSlot) in map.parameters {
      v[slot] = fr[frameSlot]
      sj.jet(slot).update(from: jet(frameSlot), count: w)
    }
    v[0] = t0
    v[c.startSlot] = t0
    sys.workspace.cache[1] = 0
    sj.run(c.initProgram, v)
    sj.run(c.invariant, v)
    var u = [Double](repeating: 0, count: c.states.count)
    let shape = self.shape
    state.withUnsafeMutableBufferPointer { st in
      guard let st = st.baseAddress else { return }
      for (i, s) in c.states.enumerated() {
        let out = st + i * w
        switch s {
        case .amount(_, _, let symbol, let compartment, let only):
          if only {
            u[i] = v[symbol]
            out.update(from: sj.jet(symbol), count: w)
          } else {
            u[i] = v[symbol] * v[compartment]
            shape.multiply(v[symbol], sj.jet(symbol), v[compartment], sj.jet(compartment), out)
          }
        case .symbol(let slot, _):
          u[i] = v[slot]
          out.update(from: sj.jet(slot), count: w)
        }
      }
    }
    guard state.allSatisfy(\.isFinite) else {
      unsupported = true
      return nil
    }
    return u
  }

  /// The mapped parameters' jets at a record that does not reset, and the jets of the rules
  /// that read parameters only (``Predictor/setParameters(_:_:_:)`` wrote their values).
  func sbmlParameters(_ sys: SBMLSystem, _ map: NLMEModel.SBMLKinetics) {
    guard let sj = sbml else { return }
    for (slot, frameSlot) in map.parameters { sj.jet(slot).update(from: jet(frameSlot), count: width) }
    sj.run(sys.compiled.invariant, sys.workspace.values)
  }

  /// The SBML model with its sensitivities from t0 to t1: the state and its jets as one
  /// system, on the steps the state alone takes (``SolverOptions/errorControlled``). Where
  /// an event fires or the integration fails the subject is marked unsupported, and its
  /// prediction without jets decides.
  func sbmlIntegrate(_ sys: SBMLSystem, _ kin: NLMEModel.Kinetics, from t0: Double, to t1: Double, predictor: Predictor) -> Bool {
    guard let sj = sbml else { return false }
    let n = predictor.state.count
    var options = SolverOptions(rtol: kin.rtol, atol: [kin.atol], maxSteps: Predictor.maxSteps)
    options.saveAt = [t1]
    options.errorControlled = n
    let system = SBMLJetSystem(system: sys, jets: sj, infusion: predictor.infusionRate)
    // The model's events on the state part; one that fires (changes the state or schedules
    // an assignment) stops the integration.
    var fired = false
    let events = sys.stateEvents().map { plain in
      var e = StateEvent(
        label: plain.label, direction: plain.direction,
        condition: { t, u in plain.condition(t, UnsafeBufferPointer(rebasing: u[0..<n])) },
        action: { t, u in
          var x = Array(u[0..<n])
          let before = x
          let outcome = plain.action(t, &x)
          guard outcome == .continue, x == before else {
            fired = true
            return .terminate
          }
          return .continue
        }, fireIfTrueAtStart: plain.fireIfTrueAtStart)
      e.exactTime = plain.exactTime
      return e
    }
    let problem = ODEProblem(system: system, u0: predictor.state + state, tspan: (t0, t1), stateEvents: events)
    let solution = solve(problem, method: .auto, options: options)
    // An event, a failure or a jet that is not finite: the prediction without jets decides.
    guard !fired, solution.returnCode.isSuccessful, solution.finalState.allSatisfy(\.isFinite) else {
      unsupported = true
      return true
    }
    let u = solution.finalState
    predictor.state = Array(u[0..<n])
    state = Array(u[n...])
    return true
  }

  /// F's jet at an observation: the observed symbols' jets at the state (their sum), over the
  /// scale Sn where the code sets it.
  func sbmlObservation(
    _ sys: SBMLSystem, _ kin: NLMEModel.Kinetics, observed slots: [Int], output f: Int, compartment c: Int, at t: Double,
    values: [Double], _ fr: UnsafeMutablePointer<Double>
  ) {
    guard let sj = sbml else { return }
    let compiled = sys.compiled
    let v = sys.workspace.values
    let w = width
    sys.workspace.cache[1] = 0
    v[0] = t
    state.withUnsafeBufferPointer { st in
      guard let st = st.baseAddress else { return }
      for (i, slot) in compiled.loadSlots.enumerated() {
        v[slot] = values[i]
        sj.jet(slot).update(from: st + i * w, count: w)
      }
    }
    sj.run(compiled.main, v)
    let out = jet(f)
    out.update(repeating: 0, count: w)
    var sum = 0.0
    for s in slots {
      sum += v[s]
      let d = sj.jet(s)
      for k in 0..<w { out[k] += d[k] }
    }
    if kin.scaleAssigned[c] {
      let scale = fr[kin.scale[c]]
      shape.divide(sum / scale, out, scale, jet(kin.scale[c]), out)
    }
    if !sj.finite(out, count: 1) { unsupported = true }
  }
}

/// An SBML model on jets: the state and its jets go into the value array and its jets, the
/// evaluation runs on both, and the rate rules and the fluxes (with their jets) are the
/// derivative, as ``SBMLSystem/rhs(t:u:du:)`` computes it, plus any running infusion.
struct SBMLJetSystem: ODESystem {
  let system: SBMLSystem
  let jets: SBMLJets
  /// Running infusions into the states (their rates do not depend on the directions: the
  /// record loop marks a subject unsupported where they would).
  let infusion: [Double]

  var dimension: Int { system.dimension * (1 + jets.shape.width) }

  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let c = system.compiled
    let n = c.states.count
    let shape = jets.shape
    let w = shape.width
    guard let u = u.baseAddress, let du = du.baseAddress else { return }
    let v = system.workspace.values
    system.workspace.cache[1] = 0
    v[0] = t
    for i in 0..<n {
      let slot = c.loadSlots[i]
      v[slot] = u[i]
      jets.jet(slot).update(from: u + n + i * w, count: w)
    }
    jets.run(c.main, v)
    for i in 0..<n {
      let d = c.derivativeSlots[i]
      du[i] = d >= 0 ? v[d] : 0
      if d >= 0 { (du + n + i * w).update(from: jets.jet(d), count: w) } else { (du + n + i * w).update(repeating: 0, count: w) }
    }
    let (product, factor) = (jets.scratch, jets.scratch + w)
    for f in c.fluxes {
      let first = f.sign * v[f.stoichiometrySlot]
      var x = first * v[f.rateSlot]
      let ds = jets.jet(f.stoichiometrySlot)
      for k in 0..<w { factor[k] = f.sign * ds[k] }
      shape.multiply(first, factor, v[f.rateSlot], jets.jet(f.rateSlot), product)
      if let conversion = f.conversionSlot {
        shape.multiply(x, product, v[conversion], jets.jet(conversion), product)
        x *= v[conversion]
      }
      du[f.state] += x
      let out = du + n + f.state * w
      for k in 0..<w { out[k] += product[k] }
    }
    for i in 0..<n { du[i] += infusion[i] }
  }
}
