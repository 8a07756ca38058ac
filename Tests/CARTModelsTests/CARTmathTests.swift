import CARTModels
import Foundation
import ODEKit
import TestSupport
import Testing

/// CARTmath against libRoadRunner trajectories of the curated SBML (BIOMD0000001019/1020).
struct CARTmathTests {
  func simulate(_ variant: CARTmathModel.Variant, times: [Double], method: ODEMethod = .auto, rtol: Double = 1e-10) -> ODESolution {
    let m = CARTmathModel(variant)
    let mp = m.makeProblem(patient: Patient(), regimen: m.publishedRegimen, start: 0, end: times.last!)
    return solve(
      mp.problem, method: method,
      options: SolverOptions(rtol: rtol, atol: [1e-8], saveAt: times, nonNegative: mp.nonNegative))
  }

  /// The 10-day references of the shared BioModels cases, with the suite's pass rule
  /// |x − r| ≤ atol + rtol·|r| and the case's own tolerances.
  @Test(arguments: [("BIOMD0000001019", CARTmathModel.Variant.hdlm2), ("BIOMD0000001020", .raji)])
  func sharedReference(id: String, variant: CARTmathModel.Variant) throws {
    let dir = try sharedDirectory().appendingPathComponent("biomodels-oncology/cases/\(id)")
    let settings = try String(contentsOf: dir.appendingPathComponent("\(id)-settings.txt"), encoding: .utf8)
    func setting(_ key: String) -> Double {
      let line = settings.split(separator: "\n").first { $0.hasPrefix(key + ":") }!
      return Double(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces))!
    }
    let (atol, rtol) = (setting("absolute"), setting("relative"))
    let ref = try readCSV(dir.appendingPathComponent("\(id)-results.csv"))
    let sol = simulate(variant, times: ref.rows.map { $0[0] }, method: .auto, rtol: 1e-8)
    let column = ["Ct": 0, "Cm": 1, "T": 2]
    #expect(sol.t.count == ref.rows.count)
    for (i, row) in ref.rows.enumerated() {
      for (k, name) in ref.header.enumerated().dropFirst() {
        let x = sol[i, column[name]!], r = row[k]
        #expect(abs(x - r) <= atol + rtol * abs(r), "\(id) \(name) at t = \(row[0]): \(x) vs \(r)")
      }
    }
  }

  /// Long runs with the published events (infusion, rechallenge) against libRoadRunner at
  /// rtol 1e-12 (Fixtures/README.md). Values below one cell are noise in both.
  @Test(arguments: [("cartmath_hdlm2", CARTmathModel.Variant.hdlm2), ("cartmath_raji", .raji)])
  func longReferenceWithEvents(file: String, variant: CARTmathModel.Variant) throws {
    let ref = try readCSV(try fixture(file))
    // Raji's tumour grows without bound (b = 0) to 1e18 cells, where θ·T makes the system
    // very stiff: DP5 alone runs out of steps there, as an explicit method should.
    for method in variant == .raji ? [ODEMethod.rodas4, .rodas4p2, .auto] : ODEMethod.allCases {
      let sol = simulate(variant, times: ref.rows.map { $0[0] }, method: method)
      #expect(sol.returnCode == .success)
      var worst = 0.0
      for (i, row) in ref.rows.enumerated() {
        // Columns time, Ct, Cm, T; the model's states are C_T, C_M, T.
        for j in 0..<3 where abs(row[j + 1]) > 1 {
          worst = max(worst, abs(sol[i, j] - row[j + 1]) / abs(row[j + 1]))
        }
      }
      // libRoadRunner itself differs from scipy Radau by up to 2.3e-6 near one cell.
      #expect(worst < 1e-5, "\(file) \(method): worst relative error \(worst)")
    }
  }

  /// The analytic Jacobian agrees with finite differences.
  @Test func analyticJacobian() {
    let m = CARTmathModel(.hdlm2)
    let sys = m.makeProblem(patient: Patient(), regimen: m.publishedRegimen, start: 0, end: 1).problem.system
    let u = [3e5, 2e4, 7e6]
    var J = [Double](repeating: 0, count: 9)
    u.withUnsafeBufferPointer { ub in J.withUnsafeMutableBufferPointer { sys.jacobian(t: 0, u: ub, J: $0) } }
    func f(_ x: [Double]) -> [Double] {
      var d = [Double](repeating: 0, count: 3)
      x.withUnsafeBufferPointer { xb in d.withUnsafeMutableBufferPointer { sys.rhs(t: 0, u: xb, du: $0) } }
      return d
    }
    for j in 0..<3 {
      var up = u, dn = u
      let h = 1e-5 * u[j]
      up[j] += h
      dn[j] -= h
      let fd = zip(f(up), f(dn)).map { ($0 - $1) / (2 * h) }
      for i in 0..<3 { #expect(abs(fd[i] - J[i * 3 + j]) <= 1e-6 * max(abs(J[i * 3 + j]), 1e-8), "J[\(i)][\(j)]") }
    }
  }
}
