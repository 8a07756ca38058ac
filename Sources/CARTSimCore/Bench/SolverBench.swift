import CARTModels
import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

/// `cartsim bench`: each solver on one scenario, timed over repeats (solving plus observables
/// and summary, without writing files), and optionally the same model exported to SBML and run
/// through the importer.
public enum SolverBench {
  /// One solver's timing and work.
  public struct Row: Sendable {
    public var method: String
    public var returnCode: String
    public var msMin: Double, msMedian: Double
    public var stats: SolverStats
  }

  /// Times every method on `scenario` (`repeats` runs each); with `sbml`, also the SBML export.
  public static func run(_ scenario: Scenario, file: String, repeats: Int, sbml: Bool) throws -> (rows: [Row], sbmlLine: String?) {
    precondition(repeats >= 1, "at least one repeat")
    var rows: [Row] = []
    for method in ODEMethod.allCases {
      var times: [Double] = []
      var last: SimulationResult?
      for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        last = try Simulator.run(scenario, file: file, method: method)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      }
      guard let r = last else { continue }
      rows.append(row(method.rawValue, r.returnCode.rawValue, times, r.stats))
    }
    guard sbml else { return (rows, nil) }
    // The same model and doses as SBML, through the importer.
    let xml = try SBMLExport.document(for: scenario, file: file)
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
    let names = ModelReport(scenario.model)?.states ?? []
    let line =
      "SBML: \(compiled.states.count) states, \(compiled.main.instructions.count) instructions per evaluation (\(compiled.invariant.instructions.count) more once per run), \(compiled.events.count) events, \(compiled.fluxes.count) fluxes"
    let duration = scenario.horizonDays - scenario.startDay
    let steps = scenario.outputTimes.count - 1
    for method in ODEMethod.allCases {
      var times: [Double] = []
      var last: SBMLTimeCourse?
      for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        last = SBMLSystem(compiled).simulate(
          start: 0, duration: duration, steps: steps, variables: names.map { ($0, .symbol) },
          rtol: scenario.rtol, atol: 1e-3, method: method)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      }
      guard let tc = last else { continue }
      rows.append(row("sbml-" + method.rawValue, tc.returnCode.rawValue, times, tc.stats))
    }
    return (rows, line)
  }

  /// The stiff test set (``StiffTestSet``) with each stiff method at rtol 1e-4, 1e-6 and 1e-8
  /// (atol = 1e-4·rtol), `repeats` runs each; rows named "PROBLEM rtol METHOD".
  public static func stiffSet(repeats: Int) -> [Row] {
    precondition(repeats >= 1, "at least one repeat")
    var rows: [Row] = []
    for rtol in [1e-4, 1e-6, 1e-8] {
      for p in StiffTestSet.all {
        for method in [ODEMethod.rodas4, .rodas4p2, .bdf, .auto] {
          var times: [Double] = []
          var last: ODESolution?
          for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            last = solve(
              ODEProblem(system: p.system, u0: p.u0, tspan: (0, p.end)), method: method,
              options: SolverOptions(rtol: rtol, atol: [rtol * 1e-4], saveAt: [p.end]))
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
          }
          guard let sol = last else { continue }
          rows.append(row(String(format: "%@ %.0e %@", p.name, rtol, method.rawValue), sol.returnCode.rawValue, times, sol.stats))
        }
      }
    }
    return rows
  }

  static func row(_ method: String, _ code: String, _ times: [Double], _ stats: SolverStats) -> Row {
    let sorted = times.sorted()
    return Row(method: method, returnCode: code, msMin: sorted[0], msMedian: sorted[sorted.count / 2], stats: stats)
  }

  /// The table `cartsim bench` prints.
  public static func table(_ rows: [Row]) -> String {
    let width = max(12, rows.map(\.method.count).max() ?? 0)
    var out = [
      "solver".padding(toLength: width, withPad: " ", startingAt: 0)
        + " return      time/sim (min)  time/sim (median)  RHS evals  Jacobians  LUs   steps  rejected  stiff steps"
    ]
    for r in rows {
      let st = r.stats
      out.append(
        r.method.padding(toLength: width, withPad: " ", startingAt: 0) + " "
          + r.returnCode.padding(toLength: 11, withPad: " ", startingAt: 0)
          + String(
            format: " %11.3f ms  %14.3f ms  %9d  %9d  %4d  %6d  %8d  %11d", r.msMin, r.msMedian, st.rhsEvaluations,
            st.jacobianEvaluations, st.luDecompositions, st.steps, st.rejectedSteps, st.stiffSteps))
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The rows as JSON.
  public static func json(_ rows: [Row]) -> JSONOut {
    .array(
      rows.map { r in
        .object([
          ("method", .string(r.method)), ("return_code", .string(r.returnCode)), ("ms_min", .number(r.msMin)),
          ("ms_median", .number(r.msMedian)), ("rhs_evaluations", .int(r.stats.rhsEvaluations)),
          ("jacobians", .int(r.stats.jacobianEvaluations)), ("lu_decompositions", .int(r.stats.luDecompositions)),
          ("steps", .int(r.stats.steps)), ("rejected", .int(r.stats.rejectedSteps)), ("stiff_steps", .int(r.stats.stiffSteps)),
        ])
      })
  }
}
