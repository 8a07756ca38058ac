import ODEKit
import SBMLDocument
import SBMLKit

/// A compiled SBML model with its forward sensitivity equations: the state `x` (n values)
/// followed by `S[:, k] = ∂x/∂θ_k` for m parameters, column by column,
///
///     dx/dt = f(x, p),   dS_k/dt = (∂f/∂x)·S_k + Σ_{slots s set by θ_k} ∂f/∂p_s.
///
/// `∂f/∂x` and `∂f/∂p` come from one program obtained by symbolic differentiation of the
/// model's evaluation (``CompiledSBML/withSensitivityProgram(parameterSlots:)``). The
/// Jacobian of the whole system, for the stiff solver, has `∂f/∂x` in each diagonal block
/// (exact) and the derivative of the sensitivity right-hand sides with respect to `x` in the
/// first block column (forward differences of the same program, n extra evaluations).
struct SensitivitySystem: ODESystem, @unchecked Sendable {
  let base: SBMLSystem
  let program: JacobianProgram
  /// The program as machine code, if it was compiled.
  let native: NativeCode.Function?
  let n: Int, m: Int
  /// Number of parameter slots the program differentiates by.
  let p: Int
  /// (index into the parameter slots, sensitivity column) pairs of this phase.
  let map: [(slot: Int, column: Int)]
  let scratch: Scratch
  /// The program's entries as (row, column, slot), columns past n being parameter slots.
  let layout: [(Int, Int, Int)]
  /// Per parameter slot, the sensitivity columns it acts on.
  let columnsOfSlot: [[Int]]

  final class Scratch: @unchecked Sendable {
    var J: [Double], F: [Double], J1: [Double], F1: [Double], du: [Double], u: [Double]
    init(n: Int, p: Int) {
      J = Array(repeating: 0, count: n * n)
      F = Array(repeating: 0, count: n * p)
      J1 = J
      F1 = F
      du = Array(repeating: 0, count: n)
      u = du
    }
  }

  init(
    base: SBMLSystem, program: JacobianProgram, native: NativeCode.Function?, parameterCount p: Int, columns m: Int,
    map: [(slot: Int, column: Int)]
  ) {
    self.base = base
    self.program = program
    self.native = native
    self.n = base.dimension
    self.m = m
    self.p = p
    self.map = map
    scratch = Scratch(n: base.dimension, p: p)
    let w = base.dimension + p
    layout = program.entries.map { ($0.index / w, $0.index % w, $0.slot) }
    var cols = Array(repeating: [Int](), count: p)
    for (slot, column) in map { cols[slot].append(column) }
    columnsOfSlot = cols
  }

  var dimension: Int { n * (1 + m) }

  @inline(__always)
  func runProgram(_ v: UnsafeMutablePointer<Double>) {
    if let f = native { f(v) } else { program.program.run(v) }
  }
  var isAutonomous: Bool { base.isAutonomous }
  var hasAnalyticJacobian: Bool { true }
  /// Block lower triangular: ∂f/∂x on the diagonal, the sensitivities' dependence on x in
  /// the first block column.
  var blockLayout: (size: Int, count: Int)? { (n, m + 1) }

  /// ∂f/∂x into `J` and ∂f/∂p into `F` at (t, x), the model evaluated there (and f in `du`).
  func derivatives(
    t: Double, x: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>,
    J: UnsafeMutablePointer<Double>, F: UnsafeMutablePointer<Double>
  ) {
    base.rhs(t: t, u: x, du: du)
    let v = base.workspace.values
    runProgram(v)
    for i in 0..<(n * n) { J[i] = 0 }
    for i in 0..<(n * p) { F[i] = 0 }
    let w = n + p
    program.entries.withUnsafeBufferPointer { e in
      for k in 0..<e.count {
        let i = e[k].index / w, j = e[k].index % w
        if j < n { J[i * n + j] = v[e[k].slot] } else { F[i * p + (j - n)] = v[e[k].slot] }
      }
    }
  }

  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let n = self.n, m = self.m
    base.rhs(t: t, u: UnsafeBufferPointer(rebasing: u[0..<n]), du: UnsafeMutableBufferPointer(rebasing: du[0..<n]))
    let v = base.workspace.values
    runProgram(v)
    for i in n..<du.count { du[i] = 0 }
    // J·S_k + F_k from the non-zero entries alone.
    layout.withUnsafeBufferPointer { e in
      for k in 0..<e.count {
        let (i, j, slot) = e[k]
        let value = v[slot]
        if value == 0 { continue }
        if j < n {
          for c in 0..<m { du[n * (c + 1) + i] += value * u[n * (c + 1) + j] }
        } else {
          for c in columnsOfSlot[j - n] { du[n * (c + 1) + i] += value }
        }
      }
    }
  }

  /// The first block column (``blockLayout``): ∂f/∂x, then per parameter ∂(J·S_k + F_k)/∂x.
  func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J out: UnsafeMutableBufferPointer<Double>) {
    let n = self.n, N = dimension
    scratch.J.withUnsafeMutableBufferPointer { J in
      scratch.F.withUnsafeMutableBufferPointer { F in
        scratch.J1.withUnsafeMutableBufferPointer { J1 in
          scratch.F1.withUnsafeMutableBufferPointer { F1 in
            scratch.du.withUnsafeMutableBufferPointer { du in
              scratch.u.withUnsafeMutableBufferPointer { x in
                for i in 0..<n { x[i] = u[i] }
                derivatives(t: t, x: UnsafeBufferPointer(x), du: du, J: J.baseAddress!, F: F.baseAddress!)
                for i in 0..<n { for j in 0..<n { out[i * N + j] = J[i * n + j] } }
                guard m > 0 else { return }
                // Column j of the first block column: d/dx_j of (J·S_k + F_k), by forward differences.
                for j in 0..<n {
                  let saved = x[j]
                  let h = 1.5e-8 * Swift.max(Swift.abs(saved), 1e-6)
                  x[j] = saved + h
                  derivatives(t: t, x: UnsafeBufferPointer(x), du: du, J: J1.baseAddress!, F: F1.baseAddress!)
                  x[j] = saved
                  for k in 0..<m {
                    let s = n * (k + 1)
                    for i in 0..<n {
                      var d = 0.0
                      for l in 0..<n { d += (J1[i * n + l] - J[i * n + l]) * u[s + l] }
                      out[(s + i) * N + j] = d / h
                    }
                  }
                  for (slot, k) in map {
                    let s = n * (k + 1)
                    for i in 0..<n { out[(s + i) * N + j] += (F1[i * p + slot] - F[i * p + slot]) / h }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
