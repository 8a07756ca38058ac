import CARTModels
import Foundation
import ODEKit

/// The result of simulating one scenario: states and observables on the output grid,
/// the solver's report, and the summary endpoints.
public struct SimulationResult: Sendable {
  /// The scenario as run: its regimen holds the infusions given (after the dosing rules).
  public var scenario: Scenario
  public var modelTitle: String
  public var stateNames: [String]
  public var stateUnits: [String]
  public var observables: [Observable]
  public var times: [Double]
  /// Row-major states, `times.count × stateNames.count`.
  public var states: [Double]
  /// Row-major observables, `times.count × observables.count`.
  public var observed: [Double]
  public var returnCode: ReturnCode
  public var stats: SolverStats
  public var methodDescription: String
  public var eventLog: [(time: Double, label: String)]
  /// Parameters as used (after overrides).
  public var parameters: ParameterSet
  public var summary: Summary

  /// One observable over time, or `nil` if the model has none of that name.
  public func series(_ name: String) -> [Double]? {
    guard let j = observables.firstIndex(where: { $0.name == name }) else { return nil }
    let m = observables.count
    return (0..<times.count).map { observed[$0 * m + j] }
  }
}

/// Simulates scenarios with the built-in models.
public enum Simulator {
  /// Runs `scenario`. Bad parameter overrides throw ``InputError``; numerical failure is
  /// reported in the result's `returnCode` with the outputs reached so far.
  public static func run(_ scenario: Scenario, file: String = "scenario", method: ODEMethod? = nil) throws -> SimulationResult {
    // Each built-in model by its own type, so that the solver is compiled for its system (a
    // specialised integrator that calls the model's right-hand side directly) rather than run
    // generically through witness tables and run-time type metadata.
    switch try model(scenario, file: file) {
    case let m as HEROSModel: try run(m, scenario, file: file, method: method)
    case let m as CARTmathModel: try run(m, scenario, file: file, method: method)
    case let m: try run(m, scenario, file: file, method: method)
    }
  }

  /// The parameters a scenario's model runs with (defaults and the scenario's overrides).
  public static func parameters(_ scenario: Scenario, file: String = "scenario") throws -> ParameterSet {
    try parameters(model(scenario, file: file), scenario, file: file)
  }

  /// Validates everything about a scenario that needs its model (parameter overrides)
  /// without simulating.
  public static func check(_ scenario: Scenario, file: String = "scenario") throws {
    _ = try parameters(scenario, file: file)
  }

  /// The scenario's built-in model.
  static func model(_ scenario: Scenario, file: String) throws -> any TherapyModel {
    guard let m = ModelCatalog.model(scenario.model) else {
      throw InputError(file: file, path: "model", message: "unknown model '\(scenario.model)'")
    }
    return m
  }

  static func parameters<M: TherapyModel>(_ model: M, _ scenario: Scenario, file: String) throws -> ParameterSet {
    try prepare(model, scenario, file: file).model.parameters
  }

  /// Builds the ODE problem and solver options of a scenario for a model.
  public static func prepare<M: TherapyModel>(_ model: M, _ scenario: Scenario, file: String = "scenario", method: ODEMethod? = nil)
    throws -> (model: M, problem: ODEProblem<M.System>, options: SolverOptions, method: ODEMethod)
  {
    var model = model
    for (name, value) in scenario.parameterOverrides {
      do { try model.parameters.set(name, to: value) } catch {
        throw InputError(file: file, path: "parameters.\(name)", message: "\(error)")
      }
    }
    let mp = model.makeProblem(
      patient: scenario.patient, regimen: scenario.regimen, start: scenario.startDay,
      end: scenario.horizonDays)
    let options = SolverOptions(
      rtol: scenario.rtol, atol: mp.absoluteTolerances, saveAt: scenario.outputTimes,
      maxSteps: scenario.maxSteps, nonNegative: mp.nonNegative)
    return (model, mp.problem, options, method ?? scenario.method)
  }

  static func run<M: TherapyModel>(_ model: M, _ scenario: Scenario, file: String, method: ODEMethod?) throws -> SimulationResult {
    let (model, problem, options, method) = try prepare(model, scenario, file: file, method: method)
    var scenario = scenario
    let sol: ODESolution
    var observed: [Double] = []
    if scenario.regimen.rules.isEmpty {
      sol = solve(problem, method: method, options: options)
      let n = model.stateNames.count
      observed.reserveCapacity(sol.t.count * model.observables.count)
      let observe = model.observer(patient: scenario.patient)
      for i in 0..<sol.t.count { observed += observe(sol.values[(i * n)..<((i + 1) * n)]) }
    } else {
      let run = DosingDecisions.solve(model, scenario, problem: problem, options: options, method: method)
      sol = run.solution
      observed = run.observed
      scenario.regimen = run.given
    }
    var result = SimulationResult(
      scenario: scenario, modelTitle: model.title, stateNames: model.stateNames, stateUnits: model.stateUnits,
      observables: model.observables, times: sol.t, states: sol.values, observed: observed, returnCode: sol.returnCode,
      stats: sol.stats, methodDescription: sol.methodDescription, eventLog: sol.eventLog, parameters: model.parameters,
      summary: Summary())
    result.summary = Summary(result)
    return result
  }
}
