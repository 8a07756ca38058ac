import Foundation
import ODEKit
import Testing

/// DOP853 against what it must be: a tableau of order 8 (every order condition up to the
/// 115 trees of order 8), an observed order of 8 at fixed steps, a 7th-order interpolant, and
/// fewer right-hand-side evaluations than DP5 at tight tolerances.
struct DormandPrince853Tests {
  /// A rooted tree as the multiset of its subtrees (sorted, so that each tree appears once).
  indirect enum Tree: Comparable {
    case node([Tree])

    var children: [Tree] {
      switch self {
      case .node(let c): c
      }
    }
    var order: Int { 1 + children.reduce(0) { $0 + $1.order } }
    /// γ(t) = |t| · Π γ(children): Σ b_i Φ_i(t) must equal 1/γ(t).
    var density: Double { Double(order) * children.reduce(1.0) { $0 * $1.density } }

    static func < (l: Tree, r: Tree) -> Bool {
      if l.order != r.order { return l.order < r.order }
      let (a, b) = (l.children, r.children)
      if a.count != b.count { return a.count < b.count }
      for (x, y) in zip(a, b) where x != y { return x < y }
      return false
    }
  }

  /// All rooted trees of each order 1…`maximum` (Butcher's enumeration: 1, 1, 2, 4, 9, 20, 48, 115).
  static func trees(upTo maximum: Int) -> [[Tree]] {
    var byOrder: [[Tree]] = [[], [.node([])]]
    guard maximum > 1 else { return byOrder }
    for n in 2...maximum {
      // Forests of total order n − 1 as non-decreasing sequences of trees.
      var forests: [[Tree]] = []
      func extend(_ forest: [Tree], remaining: Int) {
        if remaining == 0 {
          forests.append(forest)
          return
        }
        for size in 1...remaining {
          for t in byOrder[size] where forest.last.map({ !(t < $0) }) ?? true {
            extend(forest + [t], remaining: remaining - size)
          }
        }
      }
      extend([], remaining: n - 1)
      byOrder.append(forests.map { Tree.node($0) })
    }
    return byOrder
  }

  /// Φ_i(t) for every stage i: the product over the children c of Σ_j a_ij Φ_j(c).
  static func weights(_ t: Tree, _ a: [[Double]]) -> [Double] {
    let s = a.count
    var phi = [Double](repeating: 1, count: s)
    for c in t.children {
      let inner = weights(c, a)
      for i in 0..<s { phi[i] *= (0..<a[i].count).reduce(0.0) { $0 + a[i][$1] * inner[$1] } }
    }
    return phi
  }

  @Test func treeCountsAreButchers() {
    #expect(Self.trees(upTo: 8).map(\.count) == [0, 1, 1, 2, 4, 9, 20, 48, 115])
  }

  @Test func orderConditionsUpToEight() {
    let (a, b, c) = DormandPrince853.tableau
    for i in 0..<a.count { #expect(abs(a[i].reduce(0, +) - c[i]) < 1e-14, "row sum \(i)") }
    var worst = 0.0
    for (order, trees) in Self.trees(upTo: 8).enumerated() {
      for t in trees {
        let phi = Self.weights(t, a)
        let residual = zip(b, phi).reduce(0.0) { $0 + $1.0 * $1.1 } - 1 / t.density
        #expect(abs(residual) < 1e-12, "order \(order): residual \(residual)")
        worst = max(worst, abs(residual))
      }
    }
    // The check can fail: DP5's tableau meets no order-6 condition set.
    let dp5 = DormandPrince5.tableau
    let a5 = (0..<7).map { i in (0..<7).map { $0 < dp5.a[i].count ? dp5.a[i][$0] : 0 } }
    let failing = Self.trees(upTo: 6)[6].filter { t in
      abs(zip(dp5.b, Self.weights(t, a5)).reduce(0.0) { $0 + $1.0 * $1.1 } - 1 / t.density) > 1e-8
    }
    #expect(!failing.isEmpty)
    #expect(worst < 1e-12)
  }

  /// Observed global order at fixed steps: 8 (± 0.5, the fit over errors from 10⁻⁶ to 10⁻¹²).
  @Test func endPointOrderEight() {
    let T = 3.0
    let ns = [6.0, 8, 11, 16]
    let errors = ns.map { n -> Double in
      let sol = solve(
        ODEProblem(system: spiral, u0: [1, 0], tspan: (0, T)), method: .dop853, options: fixedStep(T / n, saveAt: [T]))
      return hypot(sol[0, 0] - exp(-T) * cos(2 * T), sol[0, 1] + exp(-T) * sin(2 * T))
    }
    let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
    #expect(abs(p - 8) < 0.5, "observed order \(p), errors \(errors)")
    let errorsSin = ns.map { n -> Double in
      let sol = solve(
        ODEProblem(system: expSin, u0: [1], tspan: (0, T)), method: .dop853, options: fixedStep(T / n, saveAt: [T]))
      return abs(sol[0, 0] - exp(sin(T)))
    }
    let q = observedOrder(steps: ns.map { T / $0 }, errors: errorsSin)
    #expect(abs(q - 8) < 0.5, "y' = y cos t: observed order \(q), errors \(errorsSin)")
  }

  /// The interpolant between steps is of order 7 (local 8).
  @Test func denseOutputOrderSeven() {
    let T = 2.0
    let ns = [4.0, 6, 8, 12]
    let errors = ns.map { n -> Double in
      let h = T / n
      let ts = (0..<Int(n)).map { (Double($0) + 1.0 / 3) * h }
      let sol = solve(ODEProblem(system: expSin, u0: [1], tspan: (0, T)), method: .dop853, options: fixedStep(h, saveAt: ts))
      return zip(sol.t, sol.component(0)).map { abs($1 - exp(sin($0))) }.max() ?? .nan
    }
    let p = observedOrder(steps: ns.map { T / $0 }, errors: errors)
    #expect(p > 7 - 0.5, "dense output: observed order \(p), errors \(errors)")
  }

  /// At a tight tolerance on a smooth problem DOP853 meets the error with under half of DP5's
  /// right-hand-side evaluations: what it is for.
  @Test func fewerEvaluationsThanDP5AtTightTolerances() {
    let problem = ODEProblem(system: spiral, u0: [1, 0], tspan: (0, 10))
    let exact = (exp(-10.0) * cos(20.0), -exp(-10.0) * sin(20.0))
    let tight = SolverOptions(rtol: 1e-10, atol: [1e-14], saveAt: [10])
    let dop853 = solve(problem, method: .dop853, options: tight)
    let dp5 = solve(problem, method: .dp5, options: tight)
    #expect(dop853.methodDescription == "DOP853")
    for sol in [dop853, dp5] {
      #expect(sol.returnCode == .success)
      #expect(hypot(sol[0, 0] - exact.0, sol[0, 1] - exact.1) < 1e-12)
    }
    #expect(
      2 * dop853.stats.rhsEvaluations < dp5.stats.rhsEvaluations, "\(dop853.stats.rhsEvaluations) vs \(dp5.stats.rhsEvaluations)")
  }
}
