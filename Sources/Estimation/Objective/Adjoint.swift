import ODEKit
import SBMLKit

/// The forward solution at every accepted step, for the backward (adjoint) pass: cubic
/// Hermite interpolation between steps from the states and their rates, as CVODES does by
/// default (Serban & Hindmarsh 2005, §3.2).
final class Checkpoints: @unchecked Sendable {
  let n: Int
  private(set) var t: [Double] = []
  private(set) var x: [Double] = []
  private(set) var f: [Double] = []

  init(n: Int) { self.n = n }

  /// Records a step's end. A time not after the last drops the records from it on (a
  /// repeated time keeps the later state; a run started again replaces the first).
  func record(_ time: Double, _ u: UnsafeBufferPointer<Double>) {
    while let last = t.last, last >= time {
      t.removeLast()
      x.removeLast(n)
    }
    t.append(time)
    x.append(contentsOf: u)
  }

  /// Computes the rates at the recorded points once the run is over.
  func finish(_ system: SBMLSystem) {
    f = Array(repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xs in
      f.withUnsafeMutableBufferPointer { fs in
        for k in t.indices {
          system.rhs(
            t: t[k], u: UnsafeBufferPointer(rebasing: xs[(k * n)..<((k + 1) * n)]),
            du: UnsafeMutableBufferPointer(rebasing: fs[(k * n)..<((k + 1) * n)]))
        }
      }
    }
  }

  /// The state at `time` (clamped to the recorded span) into `out`.
  func interpolate(_ time: Double, into out: UnsafeMutableBufferPointer<Double>) {
    precondition(!t.isEmpty, "no recorded steps")
    var lo = 0, hi = t.count - 1
    if time <= t[0] { hi = 0 } else if time >= t[hi] { lo = hi }
    while hi - lo > 1 {
      let mid = (lo + hi) / 2
      if t[mid] <= time { lo = mid } else { hi = mid }
    }
    guard hi > lo else {
      for i in 0..<n { out[i] = x[lo * n + i] }
      return
    }
    let h = t[hi] - t[lo], s = (time - t[lo]) / h
    let h00 = (1 + 2 * s) * (1 - s) * (1 - s), h10 = s * (1 - s) * (1 - s)
    let h01 = s * s * (3 - 2 * s), h11 = s * s * (s - 1)
    for i in 0..<n {
      out[i] = h00 * x[lo * n + i] + h10 * h * f[lo * n + i] + h01 * x[hi * n + i] + h11 * h * f[hi * n + i]
    }
  }
}

/// The adjoint system in reversed time s = T − t: for the multipliers λ (n) and the
/// parameter integrals μ (one per sensitivity column),
///
///     dλ/ds = (∂f/∂x)ᵀ λ,   dμ_c/ds = Σ_{slots p of column c} (∂f/∂p)ᵀ λ,
///
/// with x(T − s) from the forward run's checkpoints. Its cost per evaluation does not grow
/// with the number of parameters beyond the entries of ∂f/∂p; forward sensitivities cost
/// one ∂f/∂x product per parameter.
struct AdjointSystem: ODESystem, @unchecked Sendable {
  let forward: SensitivitySystem
  let checkpoints: Checkpoints
  let end: Double
  let sparsity: SparseLU?
  let scratch: Scratch

  /// The interpolated state and its rates.
  final class Scratch: @unchecked Sendable {
    let state: UnsafeMutableBufferPointer<Double>, rates: UnsafeMutableBufferPointer<Double>
    init(n: Int) {
      state = .allocate(capacity: n)
      state.initialize(repeating: 0)
      rates = .allocate(capacity: n)
      rates.initialize(repeating: 0)
    }
    deinit {
      state.deallocate()
      rates.deallocate()
    }
  }

  init(_ forward: SensitivitySystem, checkpoints: Checkpoints, end: Double) {
    self.forward = forward
    self.checkpoints = checkpoints
    self.end = end
    let n = forward.n, N = forward.n + forward.m
    var pattern: [Int] = []
    for (i, j, _) in forward.layout {
      if j < n { pattern.append(j * N + i) } else { pattern += forward.columnsOfSlot[j - n].map { (n + $0) * N + i } }
    }
    sparsity = SparseLU(n: N, pattern: pattern)
    scratch = Scratch(n: n)
  }

  var dimension: Int { forward.n + forward.m }
  var hasAnalyticJacobian: Bool { true }

  /// Evaluates ∂f/∂(x, p) at x(end − s) and calls `entry(i, j, value)` for each non-zero
  /// (row i, column j; columns past n are parameter slots).
  @inline(__always)
  private func entries(at s: Double, _ entry: (Int, Int, Double) -> Void) {
    let t = end - s
    let state = scratch.state
    checkpoints.interpolate(t, into: state)
    forward.base.rhs(t: t, u: UnsafeBufferPointer(state), du: scratch.rates)
    let v = forward.base.workspace.values
    forward.runProgram(v)
    forward.layout.withUnsafeBufferPointer { e in
      for k in 0..<e.count {
        let value = v[e[k].2]
        if value != 0 { entry(e[k].0, e[k].1, value) }
      }
    }
  }

  func rhs(t s: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let n = forward.n
    for i in 0..<du.count { du[i] = 0 }
    entries(at: s) { i, j, value in
      if j < n {
        du[j] += value * u[i]
      } else {
        for c in forward.columnsOfSlot[j - n] { du[n + c] += value * u[i] }
      }
    }
  }

  func jacobian(t s: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    let n = forward.n, N = dimension
    for i in 0..<J.count { J[i] = 0 }
    entries(at: s) { i, j, value in
      if j < n {
        J[j * N + i] += value
      } else {
        for c in forward.columnsOfSlot[j - n] { J[(n + c) * N + i] += value }
      }
    }
  }
}

extension PEtabObjective {
  /// The gradient of a simulation's part of the objective with respect to its sensitivity
  /// columns, by the adjoint method: backwards from the last output time, λ jumps by
  /// `sources[j]` (∂nllh/∂x at output j) and follows the adjoint system between outputs;
  /// then ∂nllh/∂θ_c = λ(0)·S_c(0) + μ_c (S(0): the initial state's sensitivities, from the
  /// initial assignments or the preequilibration).
  func adjointGradient(_ run: Run, _ sim: Simulation, sources: [[Double]]) -> (gradient: [Double], code: ReturnCode) {
    guard let adjoint = run.adjoint else { preconditionFailure("adjointGradient needs a run made with adjoint = true") }
    let n = run.system.dimension, m = sim.columns.count
    let end = sim.times.last ?? 0
    let system = AdjointSystem(adjoint.system, checkpoints: adjoint.checkpoints, end: end)
    var y = Array(repeating: 0.0, count: n + m)
    var s = 0.0
    let opts = SolverOptions(rtol: options.rtol, atol: [options.atol], maxSteps: options.maxSteps)
    func advance(to target: Double) -> ReturnCode {
      guard target > s else { return .success }
      let sol = solveFallingBack(ODEProblem(system: system, u0: y, tspan: (s, target)), options: opts)
      guard sol.returnCode.isSuccessful else { return sol.returnCode }
      y = sol.finalState
      s = target
      return .success
    }
    for j in stride(from: sim.times.count - 1, through: 0, by: -1) {
      let code = advance(to: end - sim.times[j])
      guard code.isSuccessful else { return ([], code) }
      for i in 0..<n { y[i] += sources[j][i] }
    }
    let code = advance(to: end)
    guard code.isSuccessful else { return ([], code) }
    let S0 = adjoint.initialSensitivities
    return ((0..<m).map { c in (0..<n).reduce(y[n + c]) { $0 + y[$1] * S0[c * n + $1] } }, .success)
  }
}
