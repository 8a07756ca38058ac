import CARTModels
import Foundation
import ODEKit
import Testing

/// ``HEROSSystem``'s analytic Jacobian against central differences of its right-hand side,
/// at states along a full HEROS 3.0-like course (fludarabine and cyclophosphamide PK,
/// three infusions, pembrolizumab, chemotherapy), where every term of the model is active.
struct HEROSJacobianTests {
  let patient = Patient(ageYears: 14, weightKg: 50, heightCm: 160, baselineSLDmm: 80, her2Level: 1)

  var regimen: Regimen {
    let ld = Lymphodepletion(
      mode: .pk,
      agents: [
        LDAgent(drug: .fludarabine, mgPerM2: 30, days: [-4, -3, -2]),
        LDAgent(drug: .cyclophosphamide, mgPerM2: 500, days: [-4, -3]),
      ])
    let infusions = [0.0, 42, 84].map { CARTInfusion(day: $0, dose: 1e8, basis: .carTCellsPerM2, lymphodepleted: true) }
    let pd1 = CheckpointDosing(dose: 2, perKg: true, maxDoseMg: 200, startDay: 1, everyDays: 21, count: 6)
    return Regimen(infusions: infusions, lymphodepletion: ld, checkpoint: pd1, chemotherapy: [ChemoDose(day: 20, effect: 1)])
  }

  /// States of the course at 60 times, the dose days and the hours after them included.
  func states() -> (HEROSSystem, [[Double]]) {
    let model = HEROSModel()
    let mp = model.makeProblem(patient: patient, regimen: regimen, start: -5, end: 150)
    let times =
      (stride(from: -4.9, to: 150, by: 2.6).map { $0 }
      + [-3.99, -1.9, 0.01, 0.2, 1.02, 20.01, 42.01, 43, 84.05]).sorted()
    let sol = solve(mp.problem, options: SolverOptions(rtol: 1e-8, atol: mp.absoluteTolerances, saveAt: times))
    #expect(sol.returnCode.isSuccessful)
    var states = (0..<sol.t.count).map { Array(sol.state($0)) }
    // Edges: lymphocytes below one cell (L floored at 1), and no CAR T cells or inflammation
    // at the tumour (the Hill functions at 0), on states from after the first infusion.
    typealias S = HEROSModel.S
    for k in stride(from: 20, to: states.count, by: 10) {
      var u = states[k]
      u[S.N] = 0.2
      u[S.EB] = 0.3
      u[S.MB] = 0.1
      states.append(u)
      u[S.ET] = 0
      u[S.XR] = 0
      u[S.Fi] = 0
      states.append(u)
    }
    return (mp.problem.system, states)
  }

  /// Central differences with a relative step; entries compared on the scale of the change
  /// they make to `du` for a relative change of the state (`|J_ij|·max(|u_j|, 1)` against the
  /// row's `Σ_k |J_ik|·max(|u_k|, 1)`), which is what the solver's Newton-like iteration sees.
  @Test func matchesCentralDifferences() {
    let (sys, states) = states()
    let n = sys.dimension
    var worst = 0.0
    var checked = 0
    for u0 in states {
      var analytic = [Double](repeating: .nan, count: n * n)
      u0.withUnsafeBufferPointer { u in
        analytic.withUnsafeMutableBufferPointer { J in sys.jacobian(t: 0, u: u, J: J) }
      }
      var numeric = [Double](repeating: 0, count: n * n)
      var up = [Double](repeating: 0, count: n), dn = up
      for j in 0..<n {
        let h = 1e-6 * max(abs(u0[j]), 1)
        var u = u0
        u[j] = u0[j] + h
        u.withUnsafeBufferPointer { ub in up.withUnsafeMutableBufferPointer { sys.rhs(t: 0, u: ub, du: $0) } }
        u[j] = u0[j] - h
        u.withUnsafeBufferPointer { ub in dn.withUnsafeMutableBufferPointer { sys.rhs(t: 0, u: ub, du: $0) } }
        for i in 0..<n { numeric[i * n + j] = (up[i] - dn[i]) / (2 * h) }
      }
      for i in 0..<n {
        let rowScale = (0..<n).reduce(0.0) { $0 + abs(analytic[i * n + $1]) * max(abs(u0[$1]), 1) }
        for j in 0..<n {
          let a = analytic[i * n + j], d = numeric[i * n + j]
          #expect(a.isFinite, "J[\(i), \(j)] = \(a)")
          let err = abs(a - d) * max(abs(u0[j]), 1) / max(rowScale, 1e-300)
          worst = max(worst, err)
          #expect(err < 1e-5, "J[\(i), \(j)]: analytic \(a), central difference \(d), state \(u0)")
          checked += 1
        }
      }
    }
    #expect(checked == states.count * n * n && states.count > 70)
    #expect(worst > 0)  // the comparison is not vacuous
  }

  /// The sparsity pattern covers every entry the Jacobian writes: outside it the entries are
  /// zero (``SparseLU`` never reads them), and the pattern has no row the model leaves out.
  @Test func patternCoversTheJacobian() throws {
    let (sys, states) = states()
    let n = sys.dimension
    let inPattern = Set(HEROSSystem.pattern.map { $0.0 * n + $0.1 })
    var seen = Set<Int>()
    for u0 in states {
      var J = [Double](repeating: .nan, count: n * n)
      u0.withUnsafeBufferPointer { u in J.withUnsafeMutableBufferPointer { sys.jacobian(t: 0, u: u, J: $0) } }
      for p in 0..<(n * n) where J[p] != 0 {
        #expect(inPattern.contains(p), "J[\(p / n), \(p % n)] = \(J[p]) is outside the pattern")
        seen.insert(p)
      }
    }
    // Every pattern entry is non-zero somewhere along the course (no dead entries).
    #expect(seen == inPattern, "never non-zero: \(inPattern.subtracting(seen).map { ($0 / n, $0 % n) })")
    let plan = try #require(sys.sparsity)
    #expect(plan.n == n)
  }

  /// Rodas4 with the analytic Jacobian and the sparse factorisation against the dense
  /// finite-difference path (the same system behind a wrapper without either): both within
  /// their tolerance of a tight reference.
  @Test func rodas4AgreesWithFiniteDifferences() {
    let model = HEROSModel()
    let mp = model.makeProblem(patient: patient, regimen: regimen, start: -5, end: 150)
    let times = stride(from: -5.0, through: 150, by: 5).map { $0 }
    func run(_ p: ODEProblem<some ODESystem>, rtol: Double) -> ODESolution {
      solve(p, method: .rodas4, options: SolverOptions(rtol: rtol, atol: mp.absoluteTolerances.map { $0 * rtol / 1e-6 }, saveAt: times))
    }
    let reference = run(mp.problem, rtol: 1e-10)
    let analytic = run(mp.problem, rtol: 1e-6)
    let p = mp.problem
    let withoutJacobian = ODEProblem(
      system: FiniteDifferenceHEROS(base: p.system), u0: p.u0, tspan: (p.tspan.start, p.tspan.end), doses: p.doses,
      timeEvents: p.timeEvents, stateEvents: p.stateEvents)
    let dense = run(withoutJacobian, rtol: 1e-6)
    #expect(analytic.returnCode.isSuccessful && dense.returnCode.isSuccessful)
    #expect(analytic.stats.sparseFallbacks == 0)
    for s in [HEROSModel.S.N, HEROSModel.S.EB, HEROSModel.S.ET, HEROSModel.S.SH, HEROSModel.S.IL6] {
      for k in 0..<times.count {
        let r = reference[k, s], scale = abs(r) + mp.absoluteTolerances[s] * 1e4
        #expect(abs(analytic[k, s] - r) < 1e-4 * scale, "state \(s), t = \(times[k])")
        #expect(abs(dense[k, s] - r) < 1e-4 * scale, "state \(s), t = \(times[k])")
      }
    }
  }
}

/// ``HEROSSystem`` without its Jacobian and sparsity: the solver's finite differences and
/// dense LU.
struct FiniteDifferenceHEROS: ODESystem {
  let base: HEROSSystem
  var dimension: Int { base.dimension }
  var isAutonomous: Bool { true }
  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) { base.rhs(t: t, u: u, du: du) }
}
