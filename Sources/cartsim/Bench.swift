import ArgumentParser
import CARTModels
import CARTSimCore
import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

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

  func validate() throws {
    try checkOption(repeats, 1...Limits.repeats, "--repeats")
    try checkPositive(horizon, max: Limits.horizonDays, "--horizon")
  }

  func run() throws {
    var (scenario, file) = try loadScenario(self.scenario)
    scenario.horizonDays = horizon
    do { try scenario.checkOutputGrid(file: file) } catch { throw fail(error) }
    #if DEBUG
      FileHandle.standardError.write(Data("warning: this is a debug build; measure with `swift run -c release cartsim bench`\n".utf8))
    #endif
    var rows: [JSONOut] = []
    if !json {
      print("scenario: \(scenario.name), horizon \(Int(horizon)) days, rtol \(scenario.rtol), \(repeats) repeats")
      print("solver  return      time/sim (min)  time/sim (median)  RHS evals  Jacobians  LUs   steps  rejected  stiff steps")
    }
    for method in ODEMethod.allCases {
      var times: [Double] = []
      var last: SimulationResult? = nil
      for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        let r = try Simulator.run(scenario, file: file, method: method)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        last = r
      }
      times.sort()
      let r = last!, st = r.stats
      let median = times[times.count / 2]
      if json {
        rows.append(
          .object([
            ("method", .string(method.rawValue)), ("return_code", .string(r.returnCode.rawValue)),
            ("ms_min", .number(times[0])), ("ms_median", .number(median)), ("rhs_evaluations", .int(st.rhsEvaluations)),
            ("jacobians", .int(st.jacobianEvaluations)), ("lu_decompositions", .int(st.luDecompositions)),
            ("steps", .int(st.steps)), ("rejected", .int(st.rejectedSteps)), ("stiff_steps", .int(st.stiffSteps)),
          ]))
      } else {
        let name = method.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
        let code = r.returnCode.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
        print(
          name + " " + code
            + String(
              format: " %11.3f ms  %14.3f ms  %9d  %9d  %4d  %6d  %8d  %11d",
              times[0], median, st.rhsEvaluations, st.jacobianEvaluations,
              st.luDecompositions, st.steps, st.rejectedSteps, st.stiffSteps))
      }
    }
    if sbml {
      // The same model and doses as SBML, through the importer.
      let xml = try SBMLExport.document(for: scenario, file: file)
      let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
      let names = ModelCatalog.describe(scenario.model)!.states
      if !json {
        print(
          "SBML: \(compiled.states.count) states, \(compiled.main.instructions.count) instructions per evaluation (\(compiled.invariant.instructions.count) more once per run), \(compiled.events.count) events, \(compiled.fluxes.count) fluxes"
        )
      }
      let duration = scenario.horizonDays - scenario.startDay
      let steps = scenario.outputTimes.count - 1
      for method in ODEMethod.allCases {
        var times: [Double] = []
        var last: SBMLTimeCourse? = nil
        for _ in 0..<repeats {
          let start = DispatchTime.now().uptimeNanoseconds
          let tc = SBMLSystem(compiled).simulate(
            start: 0, duration: duration, steps: steps, variables: names.map { ($0, .symbol) },
            rtol: scenario.rtol, atol: 1e-3, method: method)
          times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
          last = tc
        }
        times.sort()
        let st = last!.stats
        if json {
          rows.append(
            .object([
              ("method", .string("sbml-" + method.rawValue)), ("return_code", .string(last!.returnCode.rawValue)),
              ("ms_min", .number(times[0])), ("ms_median", .number(times[times.count / 2])),
              ("rhs_evaluations", .int(st.rhsEvaluations)), ("steps", .int(st.steps)),
            ]))
        } else {
          let name = ("sbml-" + method.rawValue).padding(toLength: 12, withPad: " ", startingAt: 0)
          print(
            name + last!.returnCode.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
              + String(
                format: " %11.3f ms  %14.3f ms  %9d  %9d  %4d  %6d  %8d  %11d", times[0], times[times.count / 2],
                st.rhsEvaluations, st.jacobianEvaluations, st.luDecompositions, st.steps, st.rejectedSteps, st.stiffSteps))
        }
      }
    }
    if json { print(JSONOut.array(rows).render()) }
  }
}
