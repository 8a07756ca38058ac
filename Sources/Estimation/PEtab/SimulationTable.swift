import CSVKit
import Foundation
import ODEKit

extension PEtabProblem {
  /// The PEtab simulation table: the measurement table with `measurement` replaced by
  /// `simulation` (the untransformed observable), other columns as they were (quoted as
  /// RFC 4180 asks where a cell holds a tab, a quote or a line break).
  public func simulationTable(_ simulations: [Double]) -> String {
    let mt = measurementTable
    var out = CSV.row(mt.columns.map { $0 == "measurement" ? "simulation" : $0 }, delimiter: "\t") + "\n"
    for r in mt.rows.indices {
      var cells = mt.rows[r]
      if let c = mt.columns.firstIndex(of: "measurement") { cells[c] = PEtabProblem.format(simulations[r]) }
      out += CSV.row(cells, delimiter: "\t") + "\n"
    }
    return out
  }

  /// Shortest text that reads back to the same double.
  public static func format(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    return "\(x)"
  }
}

/// One case of the PEtab test suite (github.com/PEtab-dev/petab_test_suite): the problem,
/// the expected chi², log-likelihood and simulation table, and the tolerances. Judged as
/// AMICI's runner does: a case passes only if all three agree.
public struct PEtabTestCase: Sendable {
  public enum Verdict: String, Sendable { case pass, fail, unsupported, error }
  public struct Outcome: Sendable {
    public var id: String
    public var verdict: Verdict
    public var detail: String
  }

  /// Case folders below `root` (folders holding a `_NNNN_solution.yaml`), sorted.
  public static func find(under root: String) -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root) else { return [] }
    while let rel = e.nextObject() as? String {
      let name = (rel as NSString).lastPathComponent
      if name.hasPrefix("_") && name.hasSuffix("_solution.yaml") {
        out.append((root as NSString).appendingPathComponent((rel as NSString).deletingLastPathComponent))
      }
      if out.count > 100_000 { break }
    }
    return out.sorted()
  }

  public static func run(_ dir: String) -> Outcome {
    let id = (dir as NSString).lastPathComponent
    let problemPath = (dir as NSString).appendingPathComponent("_\(id).yaml")
    let solutionPath = (dir as NSString).appendingPathComponent("_\(id)_solution.yaml")
    do {
      guard let text = try? String(contentsOfFile: solutionPath, encoding: .utf8) else {
        return Outcome(id: id, verdict: .error, detail: "\(solutionPath) cannot be read")
      }
      let solution = try YAML.parse(text, file: solutionPath)
      guard let chi2 = solution["chi2"]?.double, let llh = solution["llh"]?.double,
        let files = solution["simulation_files"]?.strings, !files.isEmpty
      else {
        return Outcome(id: id, verdict: .error, detail: "\(solutionPath): chi2, llh or simulation_files missing")
      }
      let tolChi2 = solution["tol_chi2"]?.double ?? 1e-3, tolLlh = solution["tol_llh"]?.double ?? 1e-3
      let tolSim = solution["tol_simulations"]?.double ?? 1e-3
      let problem: PEtabProblem
      do { problem = try PEtabProblem.load(problemPath) } catch let e as PEtabError where e.message.contains("not supported") {
        return Outcome(id: id, verdict: .unsupported, detail: "\(e)")
      }
      let objective = try PEtabObjective(problem)
      let ev = objective.evaluate(objective.nominal)
      guard ev.returnCode.isSuccessful else { return Outcome(id: id, verdict: .fail, detail: ev.failure ?? "simulation failed") }
      // Simulations: sort both tables by their id columns and time, compare row by row.
      var distances: [Double] = []
      for f in files {
        let expected = try PEtabTable(contentsOf: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(f)), name: f)
        let ours = try PEtabTable(text: problem.simulationTable(ev.simulations), file: "simulation table")
        let keys = ["observableId", "simulationConditionId", "preequilibrationConditionId"]
        func rows(_ t: PEtabTable) throws -> [(key: [String], time: Double, value: Double)] {
          try t.rows.indices.map { r in
            let key = keys.map { k -> String in
              let c = t.cell(r, k)
              return c.lowercased() == "nan" ? "" : c
            }
            return (key, try t.number(r, "time"), try t.number(r, "simulation", allowNaN: true))
          }.sorted { a, b in a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : a.time < b.time }
        }
        let a = try rows(ours), b = try rows(expected)
        guard a.count == b.count else {
          return Outcome(id: id, verdict: .error, detail: "simulation table has \(a.count) rows, expected \(b.count)")
        }
        var sum = 0.0
        for (x, y) in zip(a, b) {
          guard x.key == y.key, Swift.abs(x.time - y.time) <= 1e-8 + 1e-5 * Swift.abs(y.time) else {
            return Outcome(id: id, verdict: .error, detail: "simulation rows do not match: \(x.key) t=\(x.time) vs \(y.key) t=\(y.time)")
          }
          sum += Swift.abs(x.value - y.value)
        }
        distances.append(sum / Double(max(a.count, 1)))
      }
      let distance = distances.reduce(0, +) / Double(distances.count)
      let okChi2 = Swift.abs(ev.chi2 - chi2) < tolChi2, okLlh = Swift.abs(ev.llh - llh) < tolLlh, okSim = distance < tolSim
      let detail = String(
        format: "chi2 %.10g (expected %.10g), llh %.10g (expected %.10g), simulation distance %.3g", ev.chi2, chi2, ev.llh, llh, distance)
      return Outcome(id: id, verdict: okChi2 && okLlh && okSim ? .pass : .fail, detail: detail)
    } catch {
      return Outcome(id: id, verdict: .error, detail: "\(error)")
    }
  }
}
