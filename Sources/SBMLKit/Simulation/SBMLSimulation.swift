import Foundation
import ODEKit
import SBMLDocument

/// The ODE right-hand side of a compiled SBML model.
///
/// A class, so the solver holds it by reference: as a struct (the compiled model inline,
/// about 500 bytes) it was copied, with a retain of each of its arrays, before every
/// right-hand side. The settings below are set before a run, never during one.
public final class SBMLSystem: ODESystem, @unchecked Sendable {
  public let compiled: CompiledSBML
  public let workspace: SBMLWorkspace
  public var dimension: Int { compiled.states.count }
  /// Only these fluxes act, and time stands still (used to equilibrate fast reactions).
  var fluxMask: [Bool]? = nil
  var frozenTime: Double? = nil
  /// Forces finite-difference Jacobians (to compare with the compiled one).
  public var useFiniteDifferences = false
  /// Forces dense LU with partial pivoting (to compare with the sparse factorisation).
  public var useDenseLU = false
  /// The machine-code `main` and Jacobian program, if the model was compiled natively.
  @usableFromInline let nativeMain: NativeCode.Function?
  @usableFromInline let nativeJacobian: NativeCode.Function?
  /// The whole right-hand side as machine code (``NativeCode/RightHandSide``).
  @usableFromInline let nativeRHS: NativeCode.RHS?
  /// The machine-code ``CompiledSBML/conditionScan``.
  let nativeConditionScan: NativeCode.Function?

  public convenience init(_ compiled: CompiledSBML) {
    self.init(compiled, workspace: SBMLWorkspace(compiled.initial, states: compiled.states.count))
    if !compiled.delays.isEmpty { workspace.delays = DelayHistory(compiled) }
  }

  /// A system on `workspace` (shared with another system of the same model).
  init(_ compiled: CompiledSBML, workspace: SBMLWorkspace) {
    self.compiled = compiled
    nativeMain = compiled.native?.functions[0]
    nativeJacobian = compiled.native.flatMap { $0.functions.count > 1 ? $0.functions[1] : nil }
    nativeRHS = compiled.native?.rhs
    nativeConditionScan = compiled.nativeConditionScan.flatMap { compiled.native?.functions[$0] }
    self.workspace = workspace
  }

  /// Fills the value array for (t, u): states, assignment rules, rates, rate rules.
  @inlinable
  public func evaluate(t: Double, u: UnsafeBufferPointer<Double>) {
    let v = load(t: t, u: u)
    if let f = nativeMain {
      f(v)
    } else if compiled.unknownSlots.isEmpty {
      compiled.main.run(v, delay: workspace.delays)
    } else {
      compiled.assign.run(v, delay: workspace.delays)
      solveAlgebraic(v)
      compiled.rates.run(v, delay: workspace.delays)
    }
  }

  /// Loads (t, u) and runs only `program` (a slice of the evaluation); the workspace no
  /// longer holds a complete evaluation afterwards.
  @inlinable
  public func evaluate(_ program: Program, t: Double, u: UnsafeBufferPointer<Double>) {
    program.run(load(t: t, u: u), delay: workspace.delays)
  }

  /// Writes time and states into the value array (invalidating the cached point).
  @inlinable
  func load(t: Double, u: UnsafeBufferPointer<Double>) -> UnsafeMutablePointer<Double> {
    workspace.cache[1] = 0
    let v = workspace.values
    v[0] = t
    compiled.loadSlots.withUnsafeBufferPointer { slots in
      for i in 0..<slots.count { v[slots[i]] = u[i] }
    }
    return v
  }

  /// ``evaluate(t:u:)`` unless the workspace already holds that point (event conditions
  /// are checked one after another at the same point).
  @usableFromInline
  func evaluateCached(t: Double, u: UnsafeBufferPointer<Double>) {
    let c = workspace.cache
    if c[1] == 1 && c[0] == t {
      var same = true
      for i in 0..<u.count where c[2 + i] != u[i] {
        same = false
        break
      }
      if same { return }
    }
    evaluate(t: t, u: u)
    c[0] = t
    for i in 0..<u.count { c[2 + i] = u[i] }
    c[1] = 1
  }

  /// Newton's method on the algebraic rules for their unknowns (finite-difference
  /// Jacobian), starting from the values in the workspace.
  @usableFromInline
  func solveAlgebraic(_ v: UnsafeMutablePointer<Double>, phase: Program? = nil) {
    let xs = compiled.unknownSlots, rs = compiled.residualSlots
    let k = xs.count
    let phase = phase ?? compiled.assign
    for s in xs where !v[s].isFinite { v[s] = 1 }
    func residual() -> [Double] {
      phase.run(v, delay: workspace.delays)
      compiled.residualProgram.run(v, delay: workspace.delays)
      return rs.map { v[$0] }
    }
    let J = UnsafeMutablePointer<Double>.allocate(capacity: k * k), piv = UnsafeMutablePointer<Int>.allocate(capacity: k)
    let dx = UnsafeMutablePointer<Double>.allocate(capacity: k)
    defer {
      J.deallocate()
      piv.deallocate()
      dx.deallocate()
    }
    for _ in 0..<60 {
      let g = residual()
      let gnorm = g.map { Swift.abs($0) }.max() ?? 0
      if gnorm == 0 || !gnorm.isFinite { break }
      for j in 0..<k {
        let saved = v[xs[j]]
        let h = 1e-7 * Swift.max(Swift.abs(saved), 1e-7)
        v[xs[j]] = saved + h
        let gp = residual()
        v[xs[j]] = saved
        for i in 0..<k { J[i * k + j] = (gp[i] - g[i]) / h }
      }
      guard luFactor(J, k, piv) else { break }
      for i in 0..<k { dx[i] = -g[i] }
      luSolve(J, k, piv, dx)
      var step = 0.0
      for j in 0..<k {
        v[xs[j]] += dx[j]
        step = Swift.max(step, Swift.abs(dx[j]) / Swift.max(Swift.abs(v[xs[j]]), 1e-300))
      }
      if step < 1e-14 { break }
    }
    phase.run(v, delay: workspace.delays)
  }

  public var isAutonomous: Bool { compiled.isAutonomous }
  public var hasAnalyticJacobian: Bool { compiled.jacobian != nil && fluxMask == nil && frozenTime == nil && !useFiniteDifferences }
  public var sparsity: SparseLU? { hasAnalyticJacobian && !useDenseLU ? compiled.sparsity : nil }

  /// `∂f/∂u` from the compiled Jacobian program (after the model's program at the point).
  public func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    guard let jp = compiled.jacobian else { preconditionFailure("no compiled Jacobian") }
    evaluate(t: t, u: u)
    let v = workspace.values
    if let f = nativeJacobian { f(v) } else { jp.program.run(v) }
    for i in 0..<J.count { J[i] = 0 }
    jp.entries.withUnsafeBufferPointer { e in
      for k in 0..<e.count { J[e[k].index] = v[e[k].slot] }
    }
  }

  public func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    if let fused = nativeRHS, fluxMask == nil, frozenTime == nil, let up = u.baseAddress, let dp = du.baseAddress {
      workspace.cache[1] = 0
      fused(workspace.values, up, dp, t)
      return
    }
    evaluate(t: frozenTime ?? t, u: u)
    let v = workspace.values
    compiled.derivativeSlots.withUnsafeBufferPointer { d in
      for i in 0..<d.count { du[i] = d[i] >= 0 && frozenTime == nil ? v[d[i]] : 0 }
    }
    compiled.fluxes.withUnsafeBufferPointer { fluxes in
      for k in 0..<fluxes.count where fluxMask?[k] ?? true {
        let f = fluxes[k]
        var x = f.sign * v[f.stoichiometrySlot] * v[f.rateSlot]
        if let c = f.conversionSlot { x *= v[c] }
        du[f.state] += x
      }
    }
  }

  /// The state at the start: initial assignments and rules evaluated at `t0`.
  ///
  /// `overrides` replace initial values (parameters of one patient) before the initial
  /// assignments run.
  public func initialState(at t0: Double, overrides: [(slot: Int, value: Double)] = []) -> [Double] {
    let v = workspace.values
    compiled.initial.withUnsafeBufferPointer { v.update(from: $0.baseAddress!, count: $0.count) }
    for o in overrides { v[o.slot] = o.value }
    v[0] = t0
    v[compiled.startSlot] = t0
    workspace.delays?.reset(t0: t0, base: v, count: workspace.count)
    if !compiled.unknownSlots.isEmpty {
      // Initial values may depend on the unknowns (a compartment size set by an algebraic
      // rule): solve the rules with the initial assignments as the assignment phase.
      for s in compiled.unknownSlots where !v[s].isFinite { v[s] = 1 }
      solveAlgebraic(v, phase: compiled.initProgram)
    }
    compiled.initProgram.run(v, delay: workspace.delays)
    compiled.invariant.run(v)
    workspace.delays?.reset(t0: t0, base: v, count: workspace.count)
    if !compiled.unknownSlots.isEmpty {
      // Solve the algebraic rules at t0 with the states as initialized.
      let u = compiled.states.map { s -> Double in
        switch s {
        case .amount(_, _, let sym, let comp, let only): return only ? v[sym] : v[sym] * v[comp]
        case .symbol(let slot, _): return v[slot]
        }
      }
      u.withUnsafeBufferPointer { evaluate(t: t0, u: $0) }
    }
    let u0 = compiled.states.map { s -> Double in
      switch s {
      case .amount(_, _, let sym, let comp, let only): return only ? v[sym] : v[sym] * v[comp]
      case .symbol(let slot, _): return v[slot]
      }
    }
    // Fast reactions start at their equilibrium: run them alone, with time frozen at t0,
    // for 1e5 of their time constants.
    guard compiled.hasFastReactions, !u0.isEmpty else { return u0 }
    let fastSlots = Set(compiled.model.reactions.filter(\.fast).compactMap { compiled.slots[$0.id] })
    let fast = SBMLSystem(compiled, workspace: workspace)
    fast.useFiniteDifferences = useFiniteDifferences
    fast.useDenseLU = useDenseLU
    fast.fluxMask = compiled.fluxes.map { fastSlots.contains($0.rateSlot) }
    fast.frozenTime = t0
    let sol = solve(
      ODEProblem(system: fast, u0: u0, tspan: (0, 1e-3)), method: .rodas4,
      options: SolverOptions(rtol: 1e-12, atol: [1e-16], saveAt: [1e-3]))
    return sol.returnCode.isSuccessful ? sol.finalState : u0
  }

  /// The value of a symbol after ``evaluate(t:u:)``: species as amount or concentration.
  public func value(of id: String, as quantity: Quantity) -> Double? {
    let v = workspace.values
    guard let slot = compiled.slots[id] else { return nil }
    if let sp = compiled.speciesByID[id], let c = compiled.slots[sp.compartment] {
      let sym = v[slot], size = v[c]
      switch quantity {
      case .amount: return sp.hasOnlySubstanceUnits ? sym : sym * size
      case .concentration: return sp.hasOnlySubstanceUnits ? sym / size : sym
      case .symbol: return sym
      }
    }
    return v[slot]
  }

  public enum Quantity: Sendable { case amount, concentration, symbol }

  /// The model's events as state events of the integrator: a trigger crossing to true
  /// fires; with a delay the assignments run later (with values from trigger time if
  /// `useValuesFromTriggerTime`), and a non-persistent event is cancelled if its trigger
  /// turns false first; priorities order simultaneous executions.
  public func stateEvents() -> [StateEvent] {
    let sys = self
    // Watchers of the parts of compound triggers: no action; stopping at their roots lets
    // the solver see the trigger there.
    let watchers = compiled.events.flatMap { ev in
      ev.watchSlots.map { slot in
        StateEvent(
          label: "\(ev.id) (watch)", direction: .either,
          condition: { t, u in
            sys.evaluateCached(t: t, u: u)
            ev.program.run(sys.workspace.values, delay: sys.workspace.delays)
            return sys.workspace.values[slot]
          }, action: { _, _ in .continue })
      }
    }
    return compiled.events.map { ev in
      func evaluate(_ t: Double, _ u: [Double]) -> UnsafeMutablePointer<Double> {
        u.withUnsafeBufferPointer { sys.evaluate(t: t, u: $0) }
        ev.program.run(sys.workspace.values, delay: sys.workspace.delays)
        return sys.workspace.values
      }
      func apply(_ values: [Double], to u: inout [Double]) {
        let v = sys.workspace.values
        // Species amounts with the sizes before the event (all assignments of an event are
        // computed first, then applied together), then the symbols (compartments included).
        for (k, a) in ev.assignments.enumerated() {
          let i = sys.compiled.stateOfSymbol[a.target]!
          if case .amount(_, _, _, let comp, let only) = sys.compiled.states[i] { u[i] = only ? values[k] : values[k] * v[comp] }
        }
        for (k, a) in ev.assignments.enumerated() {
          let i = sys.compiled.stateOfSymbol[a.target]!
          if case .symbol(let slot, _) = sys.compiled.states[i] {
            u[i] = values[k]
            v[slot] = values[k]
          }
        }
      }
      let exact = exactTriggerTime(ev)
      var e = StateEvent(
        label: ev.id, direction: .up,
        condition: exact.map { c in { t, _ in t >= c ? 1 : -1 } } ?? ev.conditionProgram.map { program in
          { t, u in
            sys.evaluate(program, t: t, u: u)
            return sys.workspace.values[ev.triggerSlot] != 0 ? 1 : -1
          }
        } ?? { t, u in
          sys.evaluateCached(t: t, u: u)
          ev.program.run(sys.workspace.values, delay: sys.workspace.delays)
          return sys.workspace.values[ev.triggerSlot] != 0 ? 1 : -1
        },
        action: { t, u in
          let v = evaluate(t, u)
          let values = ev.assignments.map { v[$0.valueSlot] }
          if let d = ev.delaySlot {
            return .schedule(delay: v[d], payload: ev.useValuesFromTriggerTime ? values : [])
          }
          apply(values, to: &u)
          return .continue
        }, fireIfTrueAtStart: !ev.initialValue)
      e.delayedAction = { t, u, payload in
        let v = evaluate(t, u)
        apply(ev.useValuesFromTriggerTime ? payload : ev.assignments.map { v[$0.valueSlot] }, to: &u)
        return .continue
      }
      e.cancelsWhenFalse = !ev.persistent
      e.exactTime = exact
      if let p = ev.prioritySlot {
        e.priority = { t, u in
          sys.evaluate(t: t, u: u)
          ev.program.run(sys.workspace.values, delay: sys.workspace.delays)
          return sys.workspace.values[p]
        }
      }
      return e
    } + watchers
  }
}

extension SBMLSystem {
  /// The conditions of ``stateEvents()`` in one evaluation (``ODEProblem/conditionScan``):
  /// the states loaded once and one program (machine code when the model is compiled) for
  /// all triggers, where the events' conditions each load the states and run their own
  /// program. Nil if an event has no condition program or a trigger is watched in parts.
  public func conditionScan() -> StateEvent.Scan? {
    guard let program = compiled.conditionScan, compiled.events.allSatisfy(\.watchSlots.isEmpty) else { return nil }
    // The events stepped through by their conditions (no known trigger time), and their
    // trigger slots.
    let watched = compiled.events.indices.filter { exactTriggerTime(compiled.events[$0]) == nil }
    guard !watched.isEmpty else { return nil }
    let events = watched.map { (index: $0, slot: compiled.events[$0].triggerSlot) }
    let native = nativeConditionScan
    return { [self] t, u, g in
      let v = load(t: t, u: u)
      if let native { native(v) } else { program.run(v, delay: workspace.delays) }
      for e in events { g[e.index] = v[e.slot] != 0 ? 1 : -1 }
    }
  }

  /// `c` of a trigger `time ≥ c` whose `c` does not change during the run (see
  /// ``CompiledSBML/EventSpec/triggerTimeSlot``), read after initialization.
  func exactTriggerTime(_ ev: CompiledSBML.EventSpec) -> Double? {
    // A NaN time (an undefined parameter) is no known time: the condition is never true.
    ev.triggerTimeSlot.map { workspace.values[$0] }.flatMap { $0.isNaN ? nil : $0 }
  }
}

/// A time course of selected variables.
public struct SBMLTimeCourse: Sendable {
  public var times: [Double]
  public var variables: [String]
  /// `values[i][j]`: variable j at time i.
  public var values: [[Double]]
  public var returnCode: ReturnCode
  public var stats: SolverStats
}

extension SBMLSystem {
  /// Simulates from `start` for `duration` with `steps + 1` evenly spaced outputs and
  /// reports each variable as amount or concentration as asked.
  public func simulate(
    start: Double, duration: Double, steps: Int, variables: [(id: String, quantity: Quantity)],
    rtol: Double = 1e-10, atol: Double = 1e-14, method: ODEMethod = .auto,
    tieSeed: UInt64? = 20_251_104, interrupt: (@Sendable () -> Bool)? = nil
  ) -> SBMLTimeCourse {
    let times = (0...steps).map { start + duration * Double($0) / Double(steps) }
    let u0 = initialState(at: start)
    let n = dimension
    var rows: [[Double]] = []
    guard n > 0 else {
      // Nothing changes but time: evaluate the rules at each output time.
      for t in times {
        [Double]().withUnsafeBufferPointer { evaluate(t: t, u: $0) }
        rows.append(variables.map { value(of: $0.id, as: $0.quantity) ?? .nan })
      }
      return SBMLTimeCourse(times: times, variables: variables.map(\.id), values: rows, returnCode: .success, stats: SolverStats())
    }
    // Steps no longer than the output interval, so that a trigger that is true only
    // briefly between two outputs is still seen (conditions are checked at step ends).
    // Absolute tolerances per state: species amounts in a compartment smaller than 1 are
    // that much smaller than their concentrations (a cell of 1e-12 L), so scale theirs down.
    let atols = compiled.states.map { st -> Double in
      if case .amount(_, _, _, let comp, _) = st {
        let size = Swift.abs(workspace.values[comp])
        if size.isFinite && size > 0 && size < 1 { return Swift.max(atol * size, 1e-300) }
      }
      return atol
    }
    var opts = SolverOptions(rtol: rtol, atol: atols, saveAt: times, maxStep: duration / Double(steps))
    opts.interrupt = interrupt
    // Simultaneous events of equal priority run in random order (reproducibly).
    opts.tieSeed = tieSeed
    // A trigger with `eq` can be true at isolated instants only: check it at every output
    // time exactly, as simulators that step to each output time do.
    opts.landOnSaveAt = compiled.model.events.contains { $0.trigger.usesEquality }
    if let history = workspace.delays {
      // Record the past; steps no longer than the shortest constant delay, so that a step
      // never needs its own unfinished part.
      let sys = self
      opts.observer = { t, u in
        var f = Array(repeating: 0.0, count: n)
        f.withUnsafeMutableBufferPointer { sys.rhs(t: t, u: u, du: $0) }
        history.record(t, u, f)
      }
      for d in compiled.delays {
        if let s = d.constantTauSlot, workspace.values[s] > 0 { opts.maxStep = min(opts.maxStep, workspace.values[s]) }
      }
    }
    let sol = solve(
      ODEProblem(system: self, u0: u0, tspan: (start, start + duration), stateEvents: stateEvents(), conditionScan: conditionScan()),
      method: method, options: opts)
    for i in 0..<sol.t.count {
      Array(sol.state(i)).withUnsafeBufferPointer { evaluate(t: sol.t[i], u: $0) }
      rows.append(variables.map { value(of: $0.id, as: $0.quantity) ?? .nan })
    }
    return SBMLTimeCourse(times: sol.t, variables: variables.map(\.id), values: rows, returnCode: sol.returnCode, stats: sol.stats)
  }
}

extension SBMLSystem {
  /// Event `index`'s trigger comparisons `a − b` (``CompiledSBML/EventSpec/rootSlots``) and
  /// its delay (nan without one) at (t, u), for derivatives of its timing.
  package func eventTiming(_ index: Int, t: Double, u: [Double]) -> (roots: [Double], delay: Double) {
    let ev = compiled.events[index]
    u.withUnsafeBufferPointer { evaluate(t: t, u: $0) }
    let v = workspace.values
    ev.program.run(v, delay: workspace.delays)
    return (ev.rootSlots.map { v[$0] }, ev.delaySlot.map { v[$0] } ?? .nan)
  }
}
