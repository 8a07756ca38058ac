import CSVKit
import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

/// Simulates an SBML model and writes `timecourse.csv`, `summary.json` and
/// `plots/species.svg` like a built-in model's run.
public enum SBMLRun {
  public struct Result {
    public var modelFile: String
    public var timeCourse: SBMLTimeCourse
    public var compiled: CompiledSBML

    /// The line `cartsim simulate --sbml` prints: return code, size and solver work.
    public var line: String {
      let tc = timeCourse
      return
        "\(modelFile): \(tc.returnCode.rawValue), \(compiled.states.count) states, \(tc.stats.steps) steps, \(tc.stats.rhsEvaluations) RHS evaluations"
    }
  }

  /// Every species (concentration, or amount with `hasOnlySubstanceUnits`), then every
  /// non-constant parameter and compartment.
  public static func outputs(_ c: CompiledSBML) -> [(id: String, quantity: SBMLSystem.Quantity)] {
    var out: [(String, SBMLSystem.Quantity)] = c.model.species.map { ($0.id, .symbol) }
    out += c.model.parameters.filter { !$0.constant }.map { ($0.id, .symbol) }
    out += c.model.compartments.filter { !$0.constant }.map { ($0.id, .symbol) }
    return out
  }

  public static func run(
    file: String, start: Double = 0, duration: Double, steps: Int, method: ODEMethod = .auto,
    rtol: Double = 1e-8, atol: Double = 1e-12
  ) throws -> Result {
    _ = try Limits.check(steps, in: 1...(Limits.outputPoints - 1), field: "--steps")
    _ = try Limits.positive(duration, max: .greatestFiniteMagnitude, field: "--duration")
    let model: SBMLModel
    let compiled: CompiledSBML
    do {
      model = try SBMLModel.load(path: file)
      compiled = try CompiledSBML(model)
    } catch let e as SBMLError {
      throw InputError(file: file, path: "", message: e.kind == .unsupported ? "unsupported SBML: \(e.description)" : e.description)
    }
    let sys = SBMLSystem(compiled)
    let tc = sys.simulate(
      start: start, duration: duration, steps: steps, variables: outputs(compiled), rtol: rtol, atol: atol,
      method: method)
    return Result(modelFile: file, timeCourse: tc, compiled: compiled)
  }

  public static func write(_ r: Result, to dir: String) throws {
    let fm = FileManager.default
    let plots = (dir as NSString).appendingPathComponent("plots")
    try ResultWriter.createDirectory(plots)
    try? fm.removeItem(atPath: (dir as NSString).appendingPathComponent("summary.json"))
    let tc = r.timeCourse
    let species = Set(r.compiled.model.species.map(\.id))
    let only = Set(r.compiled.model.species.filter(\.hasOnlySubstanceUnits).map(\.id))
    // Plot: species over time.
    var p = LinePlot(title: "Species — \((r.modelFile as NSString).lastPathComponent)", xLabel: "time", yLabel: "value")
    let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    for (j, id) in tc.variables.enumerated() where species.contains(id) && p.series.count < 8 {
      p.series.append(LinePlot.Series(name: id, x: tc.times, y: tc.values.map { $0[j] }, color: palette[p.series.count]))
    }
    try ResultWriter.atomicWrite(p.svg(), to: (plots as NSString).appendingPathComponent("species.svg"))
    var csv =
      CSV.row(
        ["time"]
          + tc.variables.map { id in
            "\(id) [\(species.contains(id) ? (only.contains(id) ? "amount" : "concentration") : "value")]"
          }) + "\n"
    for (i, t) in tc.times.enumerated() {
      csv += CSV.row([String(format: "%.9g", t)] + tc.values[i].map { String(format: "%.9g", $0) }) + "\n"
    }
    try ResultWriter.atomicWrite(csv, to: (dir as NSString).appendingPathComponent("timecourse.csv"))
    let summary = JSONOut.object([
      ("model", .string(r.modelFile)),
      ("status", .string(tc.returnCode.isSuccessful ? "complete" : "failed: partial result to time \(tc.times.last ?? 0)")),
      ("states", .int(r.compiled.states.count)),
      (
        "solver",
        .object([
          ("return_code", .string(tc.returnCode.rawValue)), ("steps", .int(tc.stats.steps)),
          ("rejected_steps", .int(tc.stats.rejectedSteps)), ("stiff_steps", .int(tc.stats.stiffSteps)),
          ("rhs_evaluations", .int(tc.stats.rhsEvaluations)), ("jacobian_evaluations", .int(tc.stats.jacobianEvaluations)),
        ])
      ),
    ])
    try ResultWriter.atomicWrite(summary.render() + "\n", to: (dir as NSString).appendingPathComponent("summary.json"))
  }
}
