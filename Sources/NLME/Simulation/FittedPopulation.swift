import StatKit

/// A fitted population model as the source of a virtual population: for each virtual
/// patient, ETAs drawn from the fitted Ω, the model's `$PK` run with the fitted THETAs and the
/// patient's covariates (data items named like them), and the values of the SBML parameters
/// the mapping sets (the built-in model's parameters, for a `"model"` mapping).
public struct FittedPopulation: Sendable {
  public let problem: NLMEProblem
  public let parameters: PopulationParameters
  /// The model parameters a patient gets, in the mapping's order.
  public let parameterIDs: [String]
  let omegaCholesky: [Double]

  /// - Throws: ``NLMEError`` when the model has no SBML mapping (nothing to hand on) or Ω is
  ///   not positive definite.
  public init(problem: NLMEProblem, parameters: PopulationParameters) throws {
    guard let mapping = problem.stream.sbml else {
      throw NLMEError(problem.stream.file, field: "model", "only a model with an SBML or built-in mapping can be a trial's population")
    }
    let n = problem.stream.etaCount
    guard let l = cholesky(parameters.omega, n) ?? (n == 0 ? [] : nil) else {
      throw NLMEError(problem.stream.file, field: "omega", "the fitted Ω is not positive definite")
    }
    self.problem = problem
    self.parameters = parameters
    parameterIDs = mapping.parameters.map(\.id)
    omegaCholesky = l
  }

  /// The number of standard normal draws one patient takes (one per ETA).
  public var draws: Int { problem.stream.etaCount }

  /// One patient's parameter values from standard normal draws `z` (``draws`` of them) and
  /// covariates by data-item name (upper case); items not given are 0.
  public func individual(z: [Double], covariates: [String: Double]) -> [(id: String, value: Double)] {
    let n = draws
    precondition(z.count == n, "one draw per ETA")
    let eta = (0..<n).map { a in (0...a).reduce(0) { $0 + omegaCholesky[a * n + $1] * z[$1] } }
    let model = problem.model
    let predictor = Predictor(model: model)
    let fr = predictor.frame
    for (k, s) in model.theta.enumerated() { if let s { fr[s] = parameters.theta[k] } }
    for (k, s) in model.eta.enumerated() { if let s { fr[s] = eta[k] } }
    for (name, slot) in zip(problem.data.items, model.items) { fr[slot] = covariates[name] ?? 0 }
    predictor.pk?.run(fr)
    guard let map = model.kinetics?.sbml, let mapping = problem.stream.sbml else { return [] }
    return zip(mapping.parameters, map.parameters).map { ($0.0.id, fr[$0.1.frame]) }
  }
}
