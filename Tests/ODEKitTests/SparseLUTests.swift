import Foundation
import ODEKit
import StatKit
import Testing

/// The sparse factorisation against dense LU with partial pivoting and against the
/// residual, its refusals, and Rodas4 with a sparse plan against the Bateman solution of a
/// stiff decay chain.
struct SparseLUTests {
  /// A random matrix with about `density` of its off-diagonal entries non-zero, diagonally
  /// dominant (so that no pivot is small in any order); its pattern excludes the diagonal.
  func randomMatrix(n: Int, density: Double, seed: UInt64) -> (a: [Double], pattern: [Int]) {
    var s = RandomStream(seed: seed, id: 0)
    var a = [Double](repeating: 0, count: n * n)
    var pattern: [Int] = []
    for i in 0..<n {
      for j in 0..<n where i != j && Double.random(in: 0..<1, using: &s) < density {
        a[i * n + j] = .random(in: -1..<1, using: &s)
        pattern.append(i * n + j)
      }
    }
    for i in 0..<n {
      let off = (0..<n).reduce(0.0) { $0 + ($1 == i ? 0 : abs(a[i * n + $1])) }
      a[i * n + i] = (Double.random(in: 0..<1, using: &s) < 0.5 ? -1 : 1) * (off + .random(in: 0.5..<1.5, using: &s))
    }
    return (a, pattern)
  }

  @Test(arguments: [(5, 0.2, 1 as UInt64), (12, 0.15, 2), (30, 0.08, 3), (60, 0.04, 4)])
  func solvesLikeDenseLU(n: Int, density: Double, seed: UInt64) throws {
    let (a, pattern) = randomMatrix(n: n, density: density, seed: seed)
    let plan = try #require(SparseLU(n: n, pattern: pattern))
    // The plan's positions hold the pattern and the diagonal.
    let positions = Set(plan.positions)
    #expect(pattern.allSatisfy(positions.contains))
    #expect((0..<n).allSatisfy { positions.contains($0 * n + $0) })
    #expect(plan.order.sorted() == Array(0..<n))
    var s = RandomStream(seed: seed, id: 1)
    let b = (0..<n).map { _ in Double.random(in: -2..<2, using: &s) }

    var sparse = a, x = b
    #expect(sparse.withUnsafeMutableBufferPointer { plan.factor($0.baseAddress!) })
    sparse.withUnsafeMutableBufferPointer { f in x.withUnsafeMutableBufferPointer { plan.solve(f.baseAddress!, $0.baseAddress!) } }

    var dense = a, y = b
    var piv = [Int](repeating: 0, count: n)
    #expect(
      dense.withUnsafeMutableBufferPointer { d in piv.withUnsafeMutableBufferPointer { luFactor(d.baseAddress!, n, $0.baseAddress!) } })
    dense.withUnsafeMutableBufferPointer { d in
      piv.withUnsafeMutableBufferPointer { p in
        y.withUnsafeMutableBufferPointer { luSolve(d.baseAddress!, n, p.baseAddress!, $0.baseAddress!) }
      }
    }
    let scale = y.map(abs).max()!
    for i in 0..<n { #expect(abs(x[i] - y[i]) <= 1e-13 * scale) }
    // Residual of A x = b.
    for i in 0..<n {
      let r = (0..<n).reduce(-b[i]) { $0 + a[i * n + $1] * x[$1] }
      #expect(abs(r) <= 1e-13 * (scale + 1))
    }
  }

  /// A bidiagonal chain keeps its pattern (no fill-in); a full pattern, or a tiny matrix,
  /// gets no plan.
  @Test func fillAndWhenNotWorthIt() throws {
    let n = 8
    let chain = (1..<n).map { $0 * n + $0 - 1 }
    let plan = try #require(SparseLU(n: n, pattern: chain))
    #expect(plan.positions.count == 2 * n - 1)
    #expect(SparseLU(n: n, pattern: Array(0..<(n * n))) == nil)
    #expect(SparseLU(n: 4, pattern: [4, 9, 14]) == nil)
  }

  /// A pivot that is small against the entries below it is refused (the integrator then
  /// uses partial pivoting); the dense factorisation of the same matrix is fine.
  @Test func smallPivotIsRefused() throws {
    // Tridiagonal 8 × 8: minimum degree eliminates row/column 0 first (degree 1, lowest index).
    let n = 8
    var a = [Double](repeating: 0, count: n * n)
    var pattern: [Int] = []
    for i in 0..<n {
      a[i * n + i] = 2
      if i > 0 {
        a[i * n + i - 1] = 1
        pattern.append(i * n + i - 1)
      }
      if i < n - 1 {
        a[i * n + i + 1] = 1
        pattern.append(i * n + i + 1)
      }
    }
    a[0] = 1e-14
    let plan = try #require(SparseLU(n: n, pattern: pattern))
    #expect(plan.order.first == 0)
    var f = a
    #expect(!f.withUnsafeMutableBufferPointer { plan.factor($0.baseAddress!) })
    var piv = [Int](repeating: 0, count: n)
    f = a
    #expect(f.withUnsafeMutableBufferPointer { d in piv.withUnsafeMutableBufferPointer { luFactor(d.baseAddress!, n, $0.baseAddress!) } })
  }

  /// A linear decay chain x₁ → x₂ → … → x₈ with rates from 10⁴ to 2·10⁻³ per unit time,
  /// with its Jacobian and a sparse plan.
  struct DecayChain: ODESystem {
    let k: [Double] = [1e4, 300, 10, 1, 0.3, 0.05, 0.01, 0.002]
    var dimension: Int { k.count }
    var isAutonomous: Bool { true }
    var hasAnalyticJacobian: Bool { true }
    let plan: SparseLU?
    var sparsity: SparseLU? { plan }
    func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
      for i in 0..<k.count { du[i] = -k[i] * u[i] + (i > 0 ? k[i - 1] * u[i - 1] : 0) }
    }
    func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
      let n = k.count
      for i in 0..<(n * n) { J[i] = 0 }
      for i in 0..<n {
        J[i * n + i] = -k[i]
        if i > 0 { J[i * n + i - 1] = k[i - 1] }
      }
    }
    /// Bateman's solution for x₁(0) = 1 (Bateman 1910, Proc. Camb. Phil. Soc. 15:423).
    func exact(_ t: Double) -> [Double] {
      (0..<k.count).map { m in
        let product = k[..<m].reduce(1, *)
        var sum = 0.0
        for i in 0...m {
          var denominator = 1.0
          for j in 0...m where j != i { denominator *= k[j] - k[i] }
          sum += exp(-k[i] * t) / denominator
        }
        return product * sum
      }
    }
  }

  @Test func rodasWithSparsePlanMatchesBateman() throws {
    let pattern = (1..<8).map { $0 * 8 + $0 - 1 }
    let sparse = DecayChain(plan: SparseLU(n: 8, pattern: pattern))
    let dense = DecayChain(plan: nil)
    let times = [0.01, 1, 10, 100, 1000]
    var u0 = [Double](repeating: 0, count: 8)
    u0[0] = 1
    let options = SolverOptions(rtol: 1e-9, atol: [1e-14], saveAt: times)
    let a = solve(ODEProblem(system: sparse, u0: u0, tspan: (0, 1000)), method: .rodas4, options: options)
    let b = solve(ODEProblem(system: dense, u0: u0, tspan: (0, 1000)), method: .rodas4, options: options)
    #expect(a.returnCode == .success)
    #expect(a.stats.luDecompositions > 0)
    #expect(a.stats.sparseFallbacks == 0)
    for (r, t) in times.enumerated() {
      let x = sparse.exact(t)
      for i in 0..<8 {
        #expect(abs(a[r, i] - x[i]) <= 1e-6 * abs(x[i]) + 1e-12, "x\(i + 1) at t = \(t)")
        // The same steps as dense LU, up to round-off in the factors.
        #expect(abs(a[r, i] - b[r, i]) <= 1e-10 * abs(b[r, i]) + 1e-15)
      }
    }
  }
}
