import Foundation
import ODEKit
import Testing

/// One-compartment PK: dA/dt = −k·A (first-order elimination).
let kel = 0.3
let oneCompartment = ODEFunction(dimension: 1, isAutonomous: true, jacobian: { _, _, J in J[0] = -kel }) { _, a, da in
  da[0] = -kel * a[0]
}

/// Closed-form amount after a bolus `D` at `t0` (superposed).
func bolus(_ D: Double, at t0: Double, _ t: Double) -> Double { t < t0 ? 0 : D * exp(-kel * (t - t0)) }
/// Closed-form amount after a zero-order infusion of `D` over `T` starting at `t0`.
func infusion(_ D: Double, over T: Double, at t0: Double, _ t: Double) -> Double {
  let R = D / T
  if t <= t0 { return 0 }
  if t <= t0 + T { return R / kel * (1 - exp(-kel * (t - t0))) }
  return R / kel * (1 - exp(-kel * T)) * exp(-kel * (t - t0 - T))
}

struct EventTests {
  let grid = stride(from: 0.0, through: 48.0, by: 0.25).map { $0 }

  @Test(arguments: ODEMethod.allCases)
  func bolusDosing(method: ODEMethod) {
    let doses = [Dose(time: 0, target: 0, amount: 100), Dose(time: 7.3, target: 0, amount: 50)]
    let sol = solve(
      ODEProblem(system: oneCompartment, u0: [0], tspan: (0, 48), doses: doses), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: grid))
    #expect(sol.returnCode == .success)
    for (i, t) in sol.t.enumerated() {
      let exact = bolus(100, at: 0, t) + bolus(50, at: 7.3, t)
      #expect(abs(sol[i, 0] - exact) <= 1e-8 * exact + 1e-10, "t = \(t)")
    }
  }

  @Test(arguments: ODEMethod.allCases)
  func zeroOrderInfusion(method: ODEMethod) {
    let doses = [Dose(time: 1, target: 0, amount: 120, duration: 2.5)]
    let sol = solve(
      ODEProblem(system: oneCompartment, u0: [0], tspan: (0, 48), doses: doses), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: grid))
    for (i, t) in sol.t.enumerated() {
      let exact = infusion(120, over: 2.5, at: 1, t)
      #expect(abs(sol[i, 0] - exact) <= 1e-8 * exact + 1e-10, "t = \(t)")
    }
  }

  /// II/ADDL: 5 infusions of 1 h every 8 h plus a bolus every 12 h, overlapping.
  @Test(arguments: ODEMethod.allCases)
  func repeatedDosing(method: ODEMethod) {
    let doses = [
      Dose(time: 0, target: 0, amount: 60, duration: 1, interval: 8, additional: 4),
      Dose(time: 0.5, target: 0, amount: 10, interval: 12, additional: 3),
    ]
    let sol = solve(
      ODEProblem(system: oneCompartment, u0: [0], tspan: (0, 48), doses: doses), method: method,
      options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: grid))
    #expect(sol.returnCode == .success)
    for (i, t) in sol.t.enumerated() {
      var exact = 0.0
      for j in 0..<5 { exact += infusion(60, over: 1, at: Double(j) * 8, t) }
      for j in 0..<4 { exact += bolus(10, at: 0.5 + Double(j) * 12, t) }
      #expect(abs(sol[i, 0] - exact) <= 1e-8 * exact + 1e-10, "t = \(t)")
    }
    // 5 starts + 5 ends + 4 boluses.
    #expect(sol.stats.events == 14)
  }

  /// A dose exactly at an output time is included in that output; one between outputs
  /// leaves the neighbouring outputs untouched by interpolation across the jump.
  @Test func eventsAtAndBetweenOutputTimes() {
    let doses = [Dose(time: 2, target: 0, amount: 10), Dose(time: 3.37, target: 0, amount: 10)]
    let ts: [Double] = [0, 1, 2, 3, 3.37, 4]
    let sol = solve(
      ODEProblem(system: oneCompartment, u0: [0], tspan: (0, 4), doses: doses), method: .dp5,
      options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: ts))
    #expect(sol.t == ts)
    #expect(sol[1, 0] == 0)
    #expect(abs(sol[2, 0] - 10) < 1e-12)
    #expect(abs(sol[3, 0] - bolus(10, at: 2, 3)) < 1e-9)
    #expect(abs(sol[4, 0] - (bolus(10, at: 2, 3.37) + 10)) < 1e-9)
    #expect(abs(sol[5, 0] - (bolus(10, at: 2, 4) + bolus(10, at: 3.37, 4))) < 1e-9)
  }

  /// Simultaneous discontinuities run in the documented order: infusion ends, time
  /// events, doses. A reset to 5 followed by a bolus of 1 gives 6, not 5.
  @Test func simultaneousEventOrder() {
    let reset = TimeEvent(time: 1, label: "reset") { _, u in u[0] = 5 }
    let doses = [Dose(time: 1, target: 0, amount: 1)]
    let decay0 = ODEFunction(dimension: 1) { _, _, du in du[0] = 0 }
    let sol = solve(
      ODEProblem(system: decay0, u0: [0], tspan: (0, 2), doses: doses, timeEvents: [reset]),
      options: SolverOptions(saveAt: [1, 2]))
    #expect(sol[0, 0] == 6)
    #expect(sol.eventLog.map(\.label) == ["reset", "dose"])
  }

  /// A state event found by root finding: y' = −y crosses 0.1 at t = ln 10.
  @Test(arguments: ODEMethod.allCases)
  func stateEventRootFinding(method: ODEMethod) {
    let decay = ODEFunction(dimension: 1, isAutonomous: true) { _, y, dy in dy[0] = -y[0] }
    var hit = Double.nan
    let extinction = StateEvent(label: "extinct", direction: .down, condition: { _, u in u[0] - 0.1 }) { t, u in
      hit = t
      u[0] = 0
      return .continue
    }
    let sol = solve(
      ODEProblem(system: decay, u0: [1], tspan: (0, 5), stateEvents: [extinction]), method: method,
      options: SolverOptions(rtol: 1e-9, atol: [1e-12], saveAt: [1, 2, 3, 4, 5]))
    #expect(abs(hit - log(10)) < 1e-8, "root at \(hit)")
    #expect(abs(sol[1, 0] - exp(-2)) < 1e-8)
    #expect(sol[2, 0] == 0 && sol[4, 0] == 0)
    #expect(sol.returnCode == .success)
    // Terminating event keeps the partial solution.
    let stop = StateEvent(label: "stop", direction: .down, condition: { _, u in u[0] - 0.1 }) { _, _ in .terminate }
    let partial = solve(
      ODEProblem(system: decay, u0: [1], tspan: (0, 5), stateEvents: [stop]), method: method,
      options: SolverOptions(rtol: 1e-9, atol: [1e-12], saveAt: [1, 2, 3, 4, 5]))
    #expect(partial.returnCode == .terminated)
    #expect(partial.t == [1, 2])
    #expect(abs(partial.finalTime - log(10)) < 1e-8)
  }

  /// A problem's ``ODEProblem/conditionScan`` replaces the conditions' calls after each step
  /// (they are still called to locate a root) and gives the same run.
  @Test(arguments: ODEMethod.allCases)
  func conditionScanGivesTheSameRun(method: ODEMethod) {
    let decay = ODEFunction(dimension: 1, isAutonomous: true) { _, y, dy in dy[0] = -y[0] }
    final class Counts: @unchecked Sendable { var condition = 0, scan = 0 }
    func run(scan: Bool) -> (ODESolution, Counts) {
      let counts = Counts()
      // y falls to 0.1 at ln 10, is refilled to 1, and so on every ln 10.
      let refill = StateEvent(
        label: "refill", direction: .down,
        condition: { _, u in
          counts.condition += 1
          return u[0] - 0.1
        }
      ) { _, u in
        u[0] = 1
        return .continue
      }
      let scanner: StateEvent.Scan = { _, u, g in
        counts.scan += 1
        g[0] = u[0] - 0.1
      }
      let sol = solve(
        ODEProblem(system: decay, u0: [1], tspan: (0, 5), stateEvents: [refill], conditionScan: scan ? scanner : nil),
        method: method, options: SolverOptions(rtol: 1e-9, atol: [1e-12], saveAt: [1, 2, 3, 4, 5]))
      return (sol, counts)
    }
    let (one, byOne) = run(scan: false), (all, byScan) = run(scan: true)
    #expect(all.values.map(\.bitPattern) == one.values.map(\.bitPattern))
    #expect(all.eventLog.map(\.time) == one.eventLog.map(\.time))
    #expect(all.eventLog.count == 2)
    #expect(abs(all.eventLog[1].time - 2 * log(10)) < 1e-7)
    #expect(byOne.scan == 0)
    // Once per accepted step (and after each event), where the conditions were called.
    #expect(byScan.scan >= all.stats.acceptedSteps)
    #expect(byScan.condition < byOne.condition - all.stats.acceptedSteps / 2)
  }

  /// Failures return a code and keep the outputs reached: y' = y² blows up at t = 1.
  @Test(arguments: ODEMethod.allCases)
  func failureKeepsPartialSolution(method: ODEMethod) {
    let blowUp = ODEFunction(dimension: 1, isAutonomous: true) { _, y, dy in dy[0] = y[0] * y[0] }
    let sol = solve(
      ODEProblem(system: blowUp, u0: [1], tspan: (0, 2)), method: method,
      options: SolverOptions(rtol: 1e-8, atol: [1e-10], saveAt: [0, 0.5, 0.9, 1.5, 2]))
    #expect(!sol.returnCode.isSuccessful)
    #expect(sol.t == [0, 0.5, 0.9])
    // y = 1/(1 − t) amplifies the global error by about 1/(1 − t)² = 100 at t = 0.9; the BDF,
    // which keeps no higher-order solution, ends 1e-6 off there (relative), the others 1e-7.
    #expect(abs(sol[2, 0] - 10) < (method == .bdf ? 1e-4 : 1e-5))
    // The numerical singularity lags the exact one (t = 1) by a hair.
    #expect(sol.finalTime > 0.99 && sol.finalTime < 1.0001)
    // Max steps.
    let capped = solve(
      ODEProblem(system: blowUp, u0: [1], tspan: (0, 0.9)), method: method,
      options: SolverOptions(rtol: 1e-8, atol: [1e-10], saveAt: [0, 0.9], maxSteps: 5))
    #expect(capped.returnCode == .maxSteps)
    #expect(capped.t == [0])
  }

  /// Non-negativity projection keeps a state that is driven below zero at zero.
  @Test func nonNegativity() {
    let drain = ODEFunction(dimension: 1) { _, _, dy in dy[0] = -1 }
    let sol = solve(
      ODEProblem(system: drain, u0: [1], tspan: (0, 3)),
      options: SolverOptions(saveAt: [0.5, 2, 3], nonNegative: [0]))
    #expect(abs(sol[0, 0] - 0.5) < 1e-9)
    #expect(sol[1, 0] == 0 && sol[2, 0] == 0)
  }
}

struct EventEdgeCaseTests {
  /// An infusion that began before the start time delivers only its remaining part.
  @Test func infusionRunningAtStart() {
    let sol = solve(
      ODEProblem(
        system: oneCompartment, u0: [0], tspan: (0, 5),
        doses: [Dose(time: -1, target: 0, amount: 20, duration: 2)]),
      options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: [0.5, 1, 3]))
    let R = 10.0
    #expect(abs(sol[1, 0] - R / kel * (1 - exp(-kel))) < 1e-8)
    #expect(abs(sol[2, 0] - R / kel * (1 - exp(-kel)) * exp(-kel * 2)) < 1e-8)
  }

  /// A downward crossing that ends exactly at zero (a clamped state) is located at the
  /// crossing, not at the start of the step.
  @Test(arguments: ODEMethod.allCases)
  func downCrossingEndingAtZero(method: ODEMethod) {
    let drain = ODEFunction(dimension: 1) { _, _, dy in dy[0] = -1 }
    var hit = Double.nan
    let empty = StateEvent(label: "empty", direction: .down, condition: { _, u in u[0] }) { t, _ in
      hit = t
      return .continue
    }
    _ = solve(
      ODEProblem(system: drain, u0: [1], tspan: (0, 3), stateEvents: [empty]), method: method,
      options: SolverOptions(rtol: 1e-8, atol: [1e-12], saveAt: [3], maxStep: 0.7, nonNegative: [0]))
    #expect(abs(hit - 1) < 1e-8, "hit at \(hit)")
  }

  /// Delayed executions and cascades: a trigger at t = 1 schedules a change 0.5 later, and
  /// that change makes a second event fire at once.
  @Test func delayedExecutionAndCascade() {
    let clock = ODEFunction(dimension: 2) { _, _, du in
      du[0] = 1
      du[1] = 0
    }
    var first = StateEvent(label: "A", direction: .up, condition: { _, u in u[0] - 1 }) { _, _ in
      .schedule(delay: 0.5, payload: [7])
    }
    first.delayedAction = { _, u, p in
      u[1] = p[0]
      return .continue
    }
    let second = StateEvent(label: "B", direction: .up, condition: { _, u in u[1] - 5 }) { _, u in
      u[1] += 100
      return .continue
    }
    let sol = solve(
      ODEProblem(system: clock, u0: [0, 0], tspan: (0, 3), stateEvents: [first, second]),
      options: SolverOptions(saveAt: [1.49, 1.51, 3]))
    #expect(sol[0, 1] == 0 && sol[1, 1] == 107 && sol[2, 1] == 107)
    #expect(sol.eventLog.map(\.label) == ["A", "A (delayed)", "B"])
    #expect(abs(sol.eventLog[1].time - 1.5) < 1e-9)
  }

  /// Two events that set each other's trigger without end stop the run with `.eventCascade`
  /// at the time of the cascade, the solution before it kept, instead of reporting success.
  @Test func endlessCascadeIsAReturnCode() {
    let clock = ODEFunction(dimension: 3) { _, _, du in
      du[0] = 1
      du[1] = 0
      du[2] = 0
    }
    let start = StateEvent(label: "start", direction: .up, condition: { _, u in u[0] - 1 }) { _, u in
      u[1] = 1
      return .continue
    }
    let b = StateEvent(label: "b", direction: .either, condition: { _, u in u[1] - 0.5 }) { _, u in
      u[2] = 1 - u[2]
      return .continue
    }
    let c = StateEvent(label: "c", direction: .either, condition: { _, u in u[2] - 0.5 }) { _, u in
      u[1] = 1 - u[1]
      return .continue
    }
    let sol = solve(
      ODEProblem(system: clock, u0: [0, 0, 0], tspan: (0, 3), stateEvents: [start, b, c]),
      options: SolverOptions(saveAt: [0.5, 2, 3]))
    #expect(sol.returnCode == .eventCascade)
    #expect(!sol.returnCode.isSuccessful)
    #expect(abs(sol.finalTime - 1) < 1e-9)
    #expect(sol.t == [0.5], "the output before the cascade is kept")
    #expect(sol.eventLog.count == 1000)
  }
}
