import Foundation
import ODEKit
import Testing

/// Several scalar systems as the lanes of one batch (lane-minor arrays), with their analytic
/// Jacobians when they have them.
struct Lanes: BatchODESystem {
  let systems: [ODEFunction]
  var dimension: Int { systems[0].dimension }
  var lanes: Int { systems.count }
  var isAutonomous: Bool { systems.allSatisfy(\.isAutonomous) }

  func rhs(t: Double, u: UnsafePointer<Double>, du: UnsafeMutablePointer<Double>) {
    let n = dimension, L = lanes
    var x = [Double](repeating: 0, count: n), dx = [Double](repeating: 0, count: n)
    for (l, s) in systems.enumerated() {
      for i in 0..<n { x[i] = u[i * L + l] }
      x.withUnsafeBufferPointer { xb in dx.withUnsafeMutableBufferPointer { s.rhs(t: t, u: xb, du: $0) } }
      for i in 0..<n { du[i * L + l] = dx[i] }
    }
  }

  func jacobian(t: Double, u: UnsafePointer<Double>, J: UnsafeMutablePointer<Double>) -> Bool {
    guard systems.allSatisfy(\.hasAnalyticJacobian) else { return false }
    let n = dimension, L = lanes
    var x = [Double](repeating: 0, count: n), j = [Double](repeating: 0, count: n * n)
    for (l, s) in systems.enumerated() {
      for i in 0..<n { x[i] = u[i * L + l] }
      x.withUnsafeBufferPointer { xb in j.withUnsafeMutableBufferPointer { s.jacobian(t: t, u: xb, J: $0) } }
      for m in 0..<(n * n) { J[m * L + l] = j[m] }
    }
    return true
  }

  /// Lane-minor start from one start per lane.
  func start(_ u0: [[Double]]) -> [Double] {
    var u = [Double](repeating: 0, count: dimension * lanes)
    for (l, v) in u0.enumerated() { for i in 0..<dimension { u[i * lanes + l] = v[i] } }
    return u
  }

  /// Lane `l` of a lane-minor state.
  func lane(_ l: Int, of x: ArraySlice<Double>) -> [Double] { (0..<dimension).map { x[x.startIndex + $0 * lanes + l] } }
}

/// y' = −k·y.
func decay(_ k: Double) -> ODEFunction { ODEFunction(dimension: 1, isAutonomous: true) { _, y, dy in dy[0] = -k * y[0] } }

struct BatchTests {
  /// With every lane the same problem, the batch takes exactly the scalar method's steps
  /// (DP5, and auto's switches between DP5 and Rodas4 on the stiff ones) and produces its
  /// values to the bit: the lock-step method is the scalar one with a max over identical lanes.
  @Test func identicalLanesAreTheScalarMethod() {
    let problems: [(String, ODEFunction, [Double], Double, [Double], [ODEMethod])] = [
      ("exp(sin t)", expSin, [1], 10, [1e-10], [.dp5, .auto]), ("spiral", spiral, [1, 0], 5, [1e-10], [.dp5, .auto]),
      ("Van der Pol μ = 1", vanDerPol(mu: 1), [2, 0], 12, [1e-10], [.dp5, .auto]),
      ("Van der Pol μ = 1000", vanDerPol(mu: 1000), [2, 0], 3000, [1e-8], [.auto]),
      ("ROBER", StiffTestSet.rober, [1, 0, 0], 1e5, [1e-12, 1e-18, 1e-12], [.auto]),
      ("HIRES", StiffTestSet.hires, StiffTestSet.hiresStart, 321.8122, [1e-10], [.auto]),
    ]
    for (name, system, u0, end, atol, methods) in problems {
      for method in methods {
        let times = (0...40).map { end * Double($0) / 40 }
        let options = SolverOptions(rtol: 1e-7, atol: atol, saveAt: times)
        let scalar = solve(ODEProblem(system: system, u0: u0, tspan: (0, end)), method: method, options: options)
        let lanes = Lanes(systems: Array(repeating: system, count: 4))
        let batch = solveBatch(
          lanes, u0: lanes.start(Array(repeating: u0, count: 4)), tspan: (0, end), options: options, method: method)
        let label = "\(name), \(method)"
        #expect(scalar.returnCode == .success && batch.returnCode == .success, "\(label)")
        #expect(
          batch.stats.acceptedSteps == scalar.stats.acceptedSteps,
          "\(label): \(batch.stats.acceptedSteps) against \(scalar.stats.acceptedSteps)")
        #expect(batch.stats.rejectedSteps == scalar.stats.rejectedSteps, "\(label)")
        #expect(batch.stats.stiffSteps == scalar.stats.stiffSteps && batch.stats.methodSwitches == scalar.stats.methodSwitches, "\(label)")
        #expect(batch.t == scalar.t, "\(label)")
        let n = u0.count
        var differing = 0
        for k in batch.t.indices {
          for i in 0..<n {
            for l in 0..<4 where batch.values[k * n * 4 + i * 4 + l].bitPattern != scalar.values[k * n + i].bitPattern { differing += 1 }
          }
        }
        #expect(differing == 0, "\(label): \(differing) values differ from the scalar method's")
      }
    }
    // The stiff problems did switch.
    let vdp = solve(
      ODEProblem(system: vanDerPol(mu: 1000), u0: [2, 0], tspan: (0, 3000)), method: .auto, options: SolverOptions(rtol: 1e-7, atol: [1e-8])
    )
    #expect(vdp.stats.stiffSteps > 0 && vdp.stats.methodSwitches > 0)
  }

  /// Lanes with different rates: every lane within the tolerance of its exact solution at
  /// every output.
  @Test(arguments: [ODEMethod.dp5, .auto])
  func differentLanesMeetTheTolerance(method: ODEMethod) {
    let rates = [0.5, 1, 2, 4]
    let lanes = Lanes(systems: rates.map(decay))
    let times = (0...50).map { 5 * Double($0) / 50 }
    let options = SolverOptions(rtol: 1e-8, atol: [1e-14], saveAt: times)
    let batch = solveBatch(lanes, u0: lanes.start(rates.map { _ in [1] }), tspan: (0, 5), options: options, method: method)
    #expect(batch.returnCode == .success && batch.t == times)
    var worst = 0.0
    for (k, t) in times.enumerated() {
      for (l, r) in rates.enumerated() {
        let exact = exp(-r * t)
        worst = max(worst, abs(batch.values[k * 4 + l] - exact) / exact)
      }
    }
    #expect(worst < 1e-6, "largest relative error \(worst)")
  }

  /// Known jumps (a dose at t = 1.5 and 3, different per lane): the exact piecewise
  /// solution, with the outputs at a jump's time showing the state after it.
  @Test(arguments: [ODEMethod.dp5, .auto])
  func stopsApplyJumpsAtTheirTimes(method: ODEMethod) {
    let rates = [0.3, 0.7, 1.1, 2.0], doses = [1.0, 2.0, 0.5, 3.0]
    let lanes = Lanes(systems: rates.map(decay))
    let times = (0...12).map { 0.5 * Double($0) }
    let options = SolverOptions(rtol: 1e-9, atol: [1e-14], saveAt: times)
    var jumps: [Double] = []
    let batch = solveBatch(
      lanes, u0: lanes.start(rates.map { _ in [1] }), tspan: (0, 6), options: options, method: method, stops: [1.5, 3]
    ) { _, t, u in
      jumps.append(t)
      for l in 0..<4 { u[l] += doses[l] }
    }
    #expect(batch.returnCode == .success && jumps == [1.5, 3] && batch.stats.events == 2)
    #expect(batch.t == times)
    for (k, t) in times.enumerated() {
      for l in 0..<4 {
        let r = rates[l], d = doses[l]
        var exact = exp(-r * t)
        if t >= 1.5 { exact += d * exp(-r * (t - 1.5)) }
        if t >= 3 { exact += d * exp(-r * (t - 3)) }
        #expect(abs(batch.values[k * 4 + l] - exact) <= 1e-7 * exact, "t = \(t), lane \(l)")
      }
    }
  }

  /// A stiff lane beside a non-stiff one (Van der Pol μ = 1000 and μ = 1): under auto the
  /// batch turns to Rodas4 and both lanes end within the tolerance of their runs alone at a
  /// tight tolerance; DP5 alone crawls until its step budget runs out.
  @Test func aStiffLaneTurnsTheBatchToRodas4() {
    let systems = [vanDerPol(mu: 1), vanDerPol(mu: 1000)]
    let lanes = Lanes(systems: systems)
    let u0 = lanes.start([[2, 0], [2, 0]])
    let options = SolverOptions(rtol: 1e-7, atol: [1e-9], saveAt: [0, 1000, 3000])
    let batch = solveBatch(lanes, u0: u0, tspan: (0, 3000), options: options, method: .auto)
    #expect(batch.returnCode == .success && batch.stats.stiffSteps > 0 && batch.stats.methodSwitches > 0)
    #expect(batch.t == [0, 1000, 3000] && batch.values.count == 12)
    for (l, s) in systems.enumerated() {
      let tight = solve(
        ODEProblem(system: s, u0: [2, 0], tspan: (0, 3000)), method: .auto,
        options: SolverOptions(rtol: 1e-10, atol: [1e-12], saveAt: [0, 1000, 3000]))
      #expect(tight.returnCode == .success && tight.t.count == 3, "lane \(l) alone: \(tight.returnCode)")
      for k in 0..<min(3, tight.t.count, batch.t.count) {
        let got = lanes.lane(l, of: batch.values[(k * 4)..<(k * 4 + 4)]), want = Array(tight.state(k))
        for i in 0..<2 { #expect(abs(got[i] - want[i]) <= 1e-4 * max(abs(want[i]), 1), "lane \(l), t = \(tight.t[k]), state \(i)") }
      }
    }
    // With a budget of 5 Rodas4 steps the batch stops there, stiff; each lane goes on alone
    // from its state with auto starting in Rodas4 and ends where the lock-step run did.
    let stopped = solveBatch(lanes, u0: u0, tspan: (0, 3000), options: options, method: .auto, maxStiffSteps: 5)
    #expect(stopped.returnCode == .interrupted && stopped.stiff && stopped.stats.stiffSteps == 5)
    #expect(stopped.finalTime > 0 && stopped.finalTime < 3000)
    for (l, s) in systems.enumerated() {
      var alone = options
      alone.saveAt = [3000]
      alone.startStiff = true
      let rest = solve(
        ODEProblem(system: s, u0: lanes.lane(l, of: stopped.finalState[...]), tspan: (stopped.finalTime, 3000)), method: .auto,
        options: alone)
      #expect(rest.returnCode == .success && rest.stats.stiffSteps > 0)
      let together = lanes.lane(l, of: batch.finalState[...])
      for i in 0..<2 { #expect(abs(rest.finalState[i] - together[i]) <= 1e-4 * max(abs(together[i]), 1), "lane \(l), state \(i)") }
    }
    // Without Rodas4 steps together the batch stops where the μ = 1000 lane turns it; only that
    // lane is stiff there.
    let atOnce = solveBatch(lanes, u0: u0, tspan: (0, 3000), options: options, method: .auto, maxStiffSteps: 0)
    // The step that turned it counts as stiff, as in the scalar method.
    #expect(atOnce.returnCode == .interrupted && atOnce.stiff && atOnce.stats.stiffSteps <= 1)
    #expect(atOnce.stiffLanes == [false, true])
    let budget = SolverOptions(rtol: 1e-6, atol: [1e-8], maxSteps: 20_000)
    let dp5 = solveBatch(lanes, u0: u0, tspan: (0, 3000), options: budget, method: .dp5)
    #expect(dp5.returnCode == .maxSteps && dp5.finalTime < 3000)
    #expect(dp5.finalState.count == 4 && dp5.finalState.allSatisfy(\.isFinite))
  }
}
