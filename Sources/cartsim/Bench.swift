import ArgumentParser
import CARTSimCore
import Foundation

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmark the solvers on a scenario (build with -c release).",
    discussion: """
      Simulates the scenario (default: the embedded HEROS 2.0 cohort B, over two years) \
      with each solver and reports the time per simulation (minimum and median over the \
      repeats; solving plus observables and summary, without writing files), RHS \
      evaluations, Jacobians, steps and rejected steps.
      """)

  @Argument(help: "Scenario JSON file (default: the embedded HEROS 2.0 cohort B scenario).")
  var scenario: String?

  @Option(help: "Repeats per solver.")
  var repeats: Int = 20

  @Option(help: "Horizon in days (default 730: two years).")
  var horizon: Double = 730

  @Flag(help: "Print the results as JSON.")
  var json = false

  @Flag(help: "Also time the scenario's model exported to SBML and run through the SBML importer (same solver and tolerances).")
  var sbml = false

  @Flag(help: "Time the stiff methods on the stiff test set (ROBER, HIRES, Van der Pol, OREGO, POLLU) at rtol 1e-4, 1e-6, 1e-8 instead.")
  var stiffSet = false

  func validate() throws {
    try checkOption(repeats, 1...Limits.repeats, "--repeats")
    try checkPositive(horizon, max: Limits.horizonDays, "--horizon")
  }

  func run() throws {
    #if DEBUG
      FileHandle.standardError.write(Data("warning: this is a debug build; measure with `swift run -c release cartsim bench`\n".utf8))
    #endif
    if stiffSet {
      let rows = SolverBench.stiffSet(repeats: repeats)
      print(json ? SolverBench.json(rows).render() : "stiff test set, atol = 1e-4·rtol, \(repeats) repeats\n" + SolverBench.table(rows))
      return
    }
    var (scenario, file) = try Scenario.load(path: self.scenario)
    scenario.horizonDays = horizon
    try scenario.checkOutputGrid(file: file)
    let (rows, sbmlLine) = try SolverBench.run(scenario, file: file, repeats: repeats, sbml: sbml)
    if json {
      print(SolverBench.json(rows).render())
    } else {
      print("scenario: \(scenario.name), horizon \(Int(horizon)) days, rtol \(scenario.rtol), \(repeats) repeats")
      if let sbmlLine { print(sbmlLine) }
      print(SolverBench.table(rows), terminator: "")
    }
  }
}
