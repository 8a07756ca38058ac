import Estimation
import Foundation
import ODEKit

/// What `cartsim petab simulate`, `cartsim fit` and `cartsim profile` do with a PEtab problem
/// once their options are read.
public enum PEtabRun {
  /// `result.json` of `cartsim petab simulate`: the objective at the nominal parameters.
  public struct SimulationResult: Codable {
    public var problem: String
    public var chi2: Double
    public var llh: Double
    public var nllh: Double
    public var measurements: Int
    public var return_code: String
    public var failure: String?
    /// With a gradient asked for: ∂nllh/∂x of each estimated parameter on its scale, the
    /// method, and the median wall time of one evaluation with the gradient (seconds).
    public var gradient: [String: Double]?
    public var gradient_method: String?
    public var gradient_seconds: Double?

    /// The line the command prints.
    public var line: String {
      String(format: "%@: %d measurements, chi2 %.10g, llh %.10g", problem, measurements, chi2, llh)
        + (gradient_seconds.map { String(format: ", gradient (%@) in %.4g s", gradient_method ?? "", $0) } ?? "")
    }
  }

  /// The largest `repeats` of ``simulate(_:to:gradient:repeats:)``.
  public static let maxRepeats = 1000

  /// Simulates the problem at its nominal parameters and writes `simulations.tsv` (the
  /// measurement table with `simulation` in place of `measurement`), then `result.json`;
  /// with `gradient`, also the gradient there by that method, timed over `repeats`
  /// evaluations. `solved` is false when the solver stopped early.
  public static func simulate(
    _ path: String, to dir: String, gradient: PEtabObjective.SensitivityMethod? = nil, repeats: Int = 1
  ) throws -> (result: SimulationResult, solved: Bool) {
    precondition((1...maxRepeats).contains(repeats), "repeats must be 1–\(maxRepeats)")
    let p = try PEtabProblem.load(path)
    var options = PEtabObjective.Options()
    if let method = gradient { options.sensitivities = method }
    let objective = try PEtabObjective(p, options: options)
    if gradient != nil, !objective.hasGradient {
      throw InputError(file: path, path: "", message: "the model cannot be differentiated, so no gradient can be computed")
    }
    let ev = objective.evaluate(objective.nominal)
    try ResultWriter.createDirectory(dir)
    try ResultWriter.writeText(p.simulationTable(ev.simulations), to: (dir as NSString).appendingPathComponent("simulations.tsv"))
    var result = SimulationResult(
      problem: p.name, chi2: ev.chi2, llh: ev.llh, nllh: -ev.llh, measurements: p.measurements.count,
      return_code: ev.returnCode.rawValue, failure: ev.failure)
    if gradient != nil {
      var seconds: [Double] = []
      var last: PEtabObjective.Evaluation?
      for _ in 0..<repeats {
        let began = Date()
        last = objective.evaluate(objective.nominal, sensitivities: true)
        seconds.append(Date().timeIntervalSince(began))
      }
      if let g = last?.gradient {
        result.gradient = Dictionary(uniqueKeysWithValues: zip(objective.parameterIDs, g))
        result.gradient_method = objective.gradientMethod.rawValue
        result.gradient_seconds = seconds.sorted()[seconds.count / 2]
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try ResultWriter.writeText(
      String(decoding: try encoder.encode(result), as: UTF8.self), to: (dir as NSString).appendingPathComponent("result.json"))
    return (result, ev.returnCode.isSuccessful)
  }

  /// The problem and its objective, refused when it has nothing to estimate or its model
  /// cannot be differentiated.
  public static func fittable(_ path: String, options: PEtabObjective.Options) throws -> (PEtabProblem, PEtabObjective) {
    let problem = try PEtabProblem.load(path)
    let objective = try PEtabObjective(problem, options: options)
    guard objective.hasGradient else {
      throw InputError(
        file: path, path: "",
        message:
          "the model cannot be differentiated (delay(), algebraic rules, math without derivative rules, or an event trigger that is not made of comparisons), so it cannot be fitted with gradients"
      )
    }
    guard objective.dimension > 0 else { throw InputError(file: path, path: "", message: "no parameter has estimate = 1") }
    return (problem, objective)
  }
}

extension FitReport.Document {
  /// The line `cartsim fit` prints: problem, size, time, best objective and how many starts reached it.
  public func line(parameters: Int, seconds: Double) -> String {
    String(
      format: "%@: %d parameters, %d start%@ in %.1f s; best nllh %.6f (llh %.6f), %d start%@ within 0.01 of it",
      problem, parameters, starts_requested, starts_requested == 1 ? "" : "s", seconds, best_nllh, best_llh, starts_at_best,
      starts_at_best == 1 ? "" : "s")
  }
}
