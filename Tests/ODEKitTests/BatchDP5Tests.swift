import Foundation
import ODEKit
import Testing

/// Several scalar systems as the lanes of one batch (lane-minor arrays).
struct Lanes: BatchODESystem {
  let systems: [ODEFunction]
  var dimension: Int { systems[0].dimension }
  var lanes: Int { systems.count }

  func rhs(t: Double, u: UnsafePointer<Double>, du: UnsafeMutablePointer<Double>) {
    let n = dimension, L = lanes
    var x = [Double](repeating: 0, count: n), dx = [Double](repeating: 0, count: n)
    for (l, s) in systems.enumerated() {
      for i in 0..<n { x[i] = u[i * L + l] }
      x.withUnsafeBufferPointer { xb in dx.withUnsafeMutableBufferPointer { s.rhs(t: t, u: xb, du: $0) } }
      for i in 0..<n { du[i * L + l] = dx[i] }
    }
  }

  /// Lane-minor start from one start per lane.
  func start(_ u0: [[Double]]) -> [Double] {
    var u = [Double](repeating: 0, count: dimension * lanes)
    for (l, v) in u0.enumerated() { for i in 0..<dimension { u[i * lanes + l] = v[i] } }
    return u
  }
}

/// y' = −k·y.
func decay(_ k: Double) -> ODEFunction { ODEFunction(dimension: 1, isAutonomous: true) { _, y, dy in dy[0] = -k * y[0] } }

struct BatchDP5Tests {
  /// With every lane the same problem, the batch takes exactly the scalar DP5's steps and
  /// produces its values to the bit: the lock-step method is the scalar one with a max over
  /// identical lanes.
  @Test func identicalLanesAreTheScalarMethod() {
    let problems: [(String, ODEFunction, [Double], Double)] = [
      ("exp(sin t)", expSin, [1], 10), ("spiral", spiral, [1, 0], 5), ("Van der Pol μ = 1", vanDerPol(mu: 1), [2, 0], 12),
    ]
    for (name, system, u0, end) in problems {
      let times = (0...40).map { end * Double($0) / 40 }
      let options = SolverOptions(rtol: 1e-7, atol: [1e-10], saveAt: times)
      let scalar = solve(ODEProblem(system: system, u0: u0, tspan: (0, end)), method: .dp5, options: options)
      let lanes = Lanes(systems: Array(repeating: system, count: 4))
      let batch = solveBatchDP5(
        lanes, u0: lanes.start(Array(repeating: u0, count: 4)), tspan: (0, end), options: options, detectStiffness: true)
      #expect(scalar.returnCode == .success && batch.returnCode == .success, "\(name)")
      #expect(!batch.stiff)
      #expect(batch.stats.acceptedSteps == scalar.stats.acceptedSteps && batch.stats.rejectedSteps == scalar.stats.rejectedSteps, "\(name)")
      #expect(batch.t == scalar.t, "\(name)")
      let n = u0.count
      for (k, _) in batch.t.enumerated() {
        for i in 0..<n {
          for l in 0..<4 {
            #expect(
              batch.values[k * n * 4 + i * 4 + l].bitPattern == scalar.values[k * n + i].bitPattern,
              "\(name): output \(k), state \(i), lane \(l)")
          }
        }
      }
    }
  }

  /// Lanes with different rates: every lane within the tolerance of its exact solution at
  /// every output.
  @Test func differentLanesMeetTheTolerance() {
    let rates = [0.5, 1, 2, 4]
    let lanes = Lanes(systems: rates.map(decay))
    let times = (0...50).map { 5 * Double($0) / 50 }
    let options = SolverOptions(rtol: 1e-8, atol: [1e-14], saveAt: times)
    let batch = solveBatchDP5(lanes, u0: lanes.start(rates.map { _ in [1] }), tspan: (0, 5), options: options, detectStiffness: true)
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
  @Test func stopsApplyJumpsAtTheirTimes() {
    let rates = [0.3, 0.7, 1.1, 2.0], doses = [1.0, 2.0, 0.5, 3.0]
    let lanes = Lanes(systems: rates.map(decay))
    let times = (0...12).map { 0.5 * Double($0) }
    let options = SolverOptions(rtol: 1e-9, atol: [1e-14], saveAt: times)
    var jumps: [Double] = []
    let batch = solveBatchDP5(
      lanes, u0: lanes.start(rates.map { _ in [1] }), tspan: (0, 6), options: options, detectStiffness: false, stops: [1.5, 3]
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

  /// A stiff lane (Van der Pol μ = 1000) ends the run with `stiff` under the stiffness test,
  /// as `auto` would switch; without the test DP5 crawls until its step budget runs out.
  @Test func aStiffLaneEndsTheRun() {
    let lanes = Lanes(systems: [vanDerPol(mu: 1), vanDerPol(mu: 1000)])
    let u0 = lanes.start([[2, 0], [2, 0]])
    let tested = solveBatchDP5(lanes, u0: u0, tspan: (0, 3000), options: SolverOptions(rtol: 1e-6, atol: [1e-8]), detectStiffness: true)
    #expect(tested.stiff && tested.returnCode == .interrupted)
    #expect(tested.finalTime > 0 && tested.finalTime < 3000 && tested.stats.acceptedSteps < 1000)
    let budget = SolverOptions(rtol: 1e-6, atol: [1e-8], maxSteps: 20_000)
    let untested = solveBatchDP5(lanes, u0: u0, tspan: (0, 3000), options: budget, detectStiffness: false)
    #expect(!untested.stiff && untested.returnCode == .maxSteps)
    #expect(untested.finalState.count == 4 && untested.finalState.allSatisfy(\.isFinite))
  }
}
