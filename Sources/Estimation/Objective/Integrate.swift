import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

extension PEtabObjective {
  /// One simulation's trajectory at its output times: states, sensitivities (column-major
  /// `n × columns`), and how the solver ended.
  struct Run {
    var system: SBMLSystem
    var states: [[Double]]
    var sensitivities: [[Double]]
    var code: ReturnCode
    var reachedTime: Double
    /// With `adjoint`: the main phase's sensitivity system (for ∂f/∂x and ∂f/∂p), the
    /// forward run's steps, and the sensitivities of the main phase's initial state.
    var adjoint: (system: SensitivitySystem, checkpoints: Checkpoints, initialSensitivities: [Double])?
  }

  /// Integrates one simulation. With `sensitivities`, also the forward sensitivities at
  /// the output times, or with `adjoint` only those of the initial state and what the
  /// backward pass (``adjointGradient(_:_:sources:)``) needs.
  func integrate(_ sim: Simulation, theta: [Double], sensitivities: Bool, adjoint: Bool = false) -> Run {
    let sys = SBMLSystem(compiled)
    let n = sys.dimension, m = sensitivities ? sim.columns.count : 0
    let column = Dictionary(uniqueKeysWithValues: sim.columns.enumerated().map { ($1, $0) })
    var run = Run(system: sys, states: [], sensitivities: [], code: .success, reachedTime: 0)

    /// dτ/dθ of each event's known trigger time, per sensitivity column.
    var triggerTimeDerivatives: [[Double]] = []
    /// Initial state of a phase and its sensitivities (central differences of the initial
    /// assignments with respect to each θ acting on the phase).
    func initial(_ phase: Phase) -> ([Double], [Double]) {
      func state(_ th: [Double]) -> [Double] {
        sys.initialState(at: 0, overrides: phase.slots.map { ($0.slot, value($0.source, th)) })
      }
      var S = Array(repeating: 0.0, count: n * m)
      triggerTimeDerivatives = Array(repeating: Array(repeating: 0.0, count: m), count: compiled.events.count)
      func triggerTimes() -> [Double] { compiled.events.map { e in e.triggerTimeSlot.map { sys.workspace.values[$0] } ?? .nan } }
      if m > 0 {
        for (c, k) in sim.columns.enumerated() where phase.slots.contains(where: { $0.source == .estimated(k) }) {
          let h = 1e-6 * Swift.max(Swift.abs(theta[k]), 1e-12)
          var up = theta, down = theta
          up[k] += h
          down[k] -= h
          let a = state(up), ta = triggerTimes(), b = state(down), tb = triggerTimes()
          for i in 0..<n { S[c * n + i] = (a[i] - b[i]) / (2 * h) }
          for e in 0..<ta.count where ta[e].isFinite && tb[e].isFinite { triggerTimeDerivatives[e][c] = (ta[e] - tb[e]) / (2 * h) }
        }
      }
      return (state(theta), S)
    }
    func events(_ phase: Phase) -> [StateEvent] {
      guard m > 0 else { return sys.stateEvents() }
      return sensitivityEvents(phase, system: sys, columns: sim.columns, theta: theta, knownTriggerTimes: triggerTimeDerivatives)
    }
    func system(_ phase: Phase) -> SensitivitySystem? {
      guard m > 0, let program = sensitivityProgram else { return nil }
      let map = phase.sensitivityMap.compactMap { p in column[p.parameter].map { (slot: p.slot, column: $0) } }
      return SensitivitySystem(
        base: sys, program: program, native: nativeSensitivity?.functions.first, parameterCount: sensitivitySlots.count, columns: m,
        map: map)
    }
    let opts = SolverOptions(rtol: options.rtol, atol: [options.atol], maxSteps: options.maxSteps)

    var u: [Double], S: [Double]
    if let pre = sim.pre {
      (u, S) = initial(pre)
      guard n > 0 else { return finish() }
      let steady = steadyState(u + S, system: system(pre), base: sys, options: opts)
      guard steady.code.isSuccessful else {
        run.code = steady.code
        return run
      }
      u = Array(steady.u[0..<n])
      S = Array(steady.u[n...])
      // The main condition: its parameters, then its state resets.
      setSlots(sim.main, theta: theta, system: sys)
      for r in sim.main.resets {
        let factor = r.slot >= 0 ? sys.workspace.values[r.slot] : 1
        u[r.state] = value(r.source, theta) * factor
        for c in 0..<m { S[c * n + r.state] = 0 }
        if case .estimated(let k) = r.source, let c = column[k], m > 0 { S[c * n + r.state] = factor }
      }
    } else {
      (u, S) = initial(sim.main)
    }
    guard n > 0 else { return finish() }

    var o = opts
    o.saveAt = sim.times
    let end = sim.times.last ?? 0
    let sol: ODESolution
    if adjoint, let aug = system(sim.main) {
      let checkpoints = Checkpoints(n: n)
      o.observer = { t, x in checkpoints.record(t, x) }
      sol = solveFallingBack(
        ODEProblem(system: sys, u0: u, tspan: (0, end), stateEvents: sys.stateEvents(), conditionScan: sys.conditionScan()), options: o)
      checkpoints.finish(sys)
      run.adjoint = (aug, checkpoints, S)
    } else if let aug = system(sim.main) {
      sol = solveFallingBack(ODEProblem(system: aug, u0: u + S, tspan: (0, end), stateEvents: events(sim.main)), options: o)
    } else {
      sol = solveFallingBack(
        ODEProblem(system: sys, u0: u, tspan: (0, end), stateEvents: sys.stateEvents(), conditionScan: sys.conditionScan()), options: o)
    }
    run.code = sol.returnCode
    run.reachedTime = sol.finalTime
    for j in 0..<sol.t.count {
      let state = Array(sol.state(j))
      run.states.append(Array(state[0..<n]))
      run.sensitivities.append(run.adjoint == nil ? Array(state[n...]) : [])
    }
    // The system's value array must hold the main condition's parameters for the outputs.
    return run

    func finish() -> Run {
      run.states = sim.times.map { _ in [] }
      run.sensitivities = sim.times.map { _ in [] }
      return run
    }
  }

  /// Solves with the objective's method. A BDF run that stalls (the step limit, or the step
  /// size underflowing) is run again with `auto` (DP5 and Rodas4P2): at extreme parameter values BDF can need
  /// more than 10 000 steps for a system with its sensitivities where they need far fewer
  /// (a fifth of Fujita's multi-start points, at their start).
  func solveFallingBack<System: ODESystem>(_ problem: ODEProblem<System>, options o: SolverOptions) -> ODESolution {
    let sol = solve(problem, method: options.method, options: o)
    guard options.method == .bdf, sol.returnCode == .maxSteps || sol.returnCode == .stepSizeTooSmall else { return sol }
    return solve(problem, method: .auto, options: o)
  }

  /// Integrates until the right-hand side vanishes relative to the tolerances (windows of
  /// growing length, up to 1e9 time units).
  func steadyState<System: ODESystem>(_ u0: [Double], system: System?, base: SBMLSystem, options: SolverOptions)
    -> (u: [Double], code: ReturnCode)
  {
    var u = u0, t = 0.0, window = 1.0
    var du = Array(repeating: 0.0, count: u0.count)
    func converged() -> Bool {
      u.withUnsafeBufferPointer { up in
        du.withUnsafeMutableBufferPointer { d in
          if let s = system { s.rhs(t: t, u: up, du: d) } else { base.rhs(t: t, u: up, du: d) }
        }
      }
      var norm = 0.0
      for i in 0..<u.count {
        let r = du[i] / (self.options.steadyStateAtol + self.options.steadyStateRtol * Swift.abs(u[i]))
        norm += r * r
      }
      return (norm / Double(max(u.count, 1))).squareRoot() < 1
    }
    for _ in 0..<40 {
      if converged() { return (u, .success) }
      var o = options
      o.saveAt = [t + window]
      let sol: ODESolution
      if let s = system {
        sol = solveFallingBack(ODEProblem(system: s, u0: u, tspan: (t, t + window)), options: o)
      } else {
        sol = solveFallingBack(ODEProblem(system: base, u0: u, tspan: (t, t + window)), options: o)
      }
      guard sol.returnCode.isSuccessful else { return (u, sol.returnCode) }
      u = sol.finalState
      t += window
      if t > 1e9 { break }
      window *= 4
    }
    return (u, converged() ? .success : .maxSteps)
  }
}
