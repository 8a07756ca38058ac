import CARTSimCore
import Foundation

/// Request bodies are validated by the same code the command line uses for files; the only
/// differences are the name shown for the "file" and that example scenario files are
/// resolved from the copies compiled into the binary (never from the server's disk).
public enum SpecParsing {
  /// A scenario, as `cartsim simulate FILE` reads it.
  public static func scenario(_ data: Data, file: String) throws -> Scenario {
    let json = try JSONValue.decode(data, file: file)
    let s = try Scenario.parse(json, file: file, path: "")
    try Simulator.check(s, file: file)
    try checkServerLimits(s, file: file, path: "simulation")
    return s
  }

  /// The most output points of one simulation the server computes (per request, or per
  /// patient of a trial); the command line allows ``Limits/outputPoints``.
  public static let maxPoints = 100_000
  /// The solver's step budget on the server (the default of a scenario).
  public static let maxSteps = 1_000_000

  /// Refuses a scenario the server would spend too long or too much memory on, naming the field.
  static func checkServerLimits(_ s: Scenario, file: String, path: String) throws {
    let p = path.isEmpty ? "" : path + "."
    let n = try Limits.outputIntervals(span: s.horizonDays - s.startDay, step: s.outputStepDays, field: p + "output_step_days", file: file)
    guard n + 2 <= maxPoints else {
      throw InputError(
        file: file, path: p + "output_step_days",
        message: "gives \(n + 2) output points; the server computes at most \(maxPoints) (use the command line for more)")
    }
    guard s.maxSteps <= maxSteps else {
      throw InputError(file: file, path: p + "max_steps", message: "must be ≤ \(maxSteps) on the server (use the command line for more)")
    }
  }

  /// A trial spec, as `cartsim trial SPEC` reads it. Arms may name the example scenario files
  /// (`heros1.json`, `heros2-cohortB.json`, …) or give scenarios inline.
  public static func trialSpec(_ data: Data, file: String) throws -> TrialSpec {
    let json = try JSONValue.decode(data, file: file)
    // A server must not read files a request names: a covariate CSV has to be inline data.
    if case .object(let root) = json, case .object(let pop)? = root["population"], pop["csv"] != nil {
      throw InputError(
        file: file, path: "population.csv",
        message: "covariate CSV files cannot be read by the server; use the command line (cartsim trial) for CSV populations")
    }
    let spec = try TrialSpec.parse(json, file: file) { rel in
      guard let text = EmbeddedScenarios.files[rel] else { return nil }
      return (try JSONValue.decode(Data(text.utf8), file: rel), rel)
    }
    for (i, arm) in spec.arms.enumerated() {
      do { try checkServerLimits(arm.scenario, file: file, path: "") } catch let e as InputError {
        // The grid comes from the spec's follow-up and step; the step budget from the arm.
        throw InputError(
          file: file, path: e.path.hasSuffix("max_steps") ? "arms[\(i)].scenario.simulation.max_steps" : e.path,
          message: e.message)
      }
    }
    return spec
  }

  /// Example files (scenarios and trial specs) compiled into the binary.
  public static var exampleNames: [String] { EmbeddedScenarios.files.keys.sorted() }

  /// The name a stored spec is shown under (in messages and the report): the example or
  /// uploaded file name when known.
  public static func displayName(source: String, runID: String) -> String {
    for prefix in ["example:", "upload:"] where source.hasPrefix(prefix) {
      let name = source.dropFirst(prefix.count).split(separator: "/").last.map(String.init) ?? ""
      if name.count > 1 { return name }
    }
    return "spec of run \(runID)"
  }

  public static func isTrialSpec(_ name: String) -> Bool { name.hasSuffix("-trial.json") }
}
