import Estimation
import Foundation
import RealModule

/// Fitting a population model: the first-order methods' objective minimised over THETA, Ω and
/// Σ, then the covariance step, the individual estimates and the diagnostics NONMEM reports.
public struct NLMEFitter: Sendable {
  public var method: ControlStream.EstimationStep.Method
  public var threads = 1
  /// Importance samples per subject (IMP, and the objective after SAEM), SAEM's iterations,
  /// the seed of every random draw.
  public var samples = 300
  public var burnIn = 300
  public var iterations = 200
  public var seed: UInt64 = 1
  /// Only evaluate the objective at the start (`EONLY=1`, or `MAXEVAL=0`).
  public var evaluateOnly = false
  /// The most objective evaluations of the outer optimisation (`MAXEVAL`).
  public var maxEvaluations = 9999
  /// The covariance step's matrix, or nil to skip it.
  public var covariance: ControlStream.CovarianceStep.Matrix? = .sandwich
  /// The outer gradient of FOCE and FOCE-I from the sensitivities on jets where the model
  /// allows (``FirstOrderObjective/gradient(_:_:fit:directions:predictor:)``); when false, or
  /// where the jets do not serve, by central differences of the population objective.
  public var analyticGradient = true
  /// The η-derivatives of the predictions on jets where the model allows; when false, by finite
  /// differences everywhere (``FirstOrderObjective/exactDerivatives``, for comparison).
  public var exactDerivatives = true
  /// Called after each outer iteration with the iteration, the OFV and the parameters.
  public var progress: (@Sendable (Iteration) -> Void)? = nil

  public init(method: ControlStream.EstimationStep.Method) { self.method = method }

  /// The settings of one `$ESTIMATION` record.
  public init(_ step: ControlStream.EstimationStep) {
    method = step.method
    maxEvaluations = step.maxEvaluations ?? maxEvaluations
    samples = step.samples ?? samples
    burnIn = step.burnIn ?? burnIn
    iterations = step.iterations ?? iterations
    seed = step.seed ?? seed
    evaluateOnly = step.evaluateOnly || step.maxEvaluations == 0
  }

  /// One row of the iteration history.
  public struct Iteration: Sendable, Codable {
    public var evaluation: Int
    public var ofv: Double
    public var parameters: [Double]
  }

  /// Fits `problem` from `start` (the control stream's initial estimates by default): SAEM
  /// followed by the importance-sampling objective, or the outer optimisation of the
  /// objective of the other methods.
  public func fit(_ problem: NLMEProblem, from start: PopulationParameters? = nil) -> NLMEFitResult {
    let began = Date()
    let param = Parameterization(problem.stream)
    var objective = FirstOrderObjective(
      model: problem.model, data: problem.data, method: FirstOrderObjective.Method(rawValue: method.rawValue) ?? .imp)
    objective.samples = samples
    objective.seed = seed
    objective.exactDerivatives = exactDerivatives
    let population = PopulationObjective(objective: objective, threads: threads)
    let history = HistoryLog()
    let progress = self.progress
    let maxEvaluations = self.maxEvaluations
    let analytic = analyticGradient
    let directions = param.jetDirections
    let bounded = BoundedProblem(lower: param.lower, upper: param.upper) { x, derivatives in
      let p = param.parameters(x)
      // The first point's modes are checked from other starts; later points start from the
      // modes of the best point so far.
      let fits = history.count == 0 ? population.settled(p) : population.subjects(p)
      let f = population.total(fits)
      let count = history.record(f, param.natural(p))
      if f < history.best {
        history.best = f
        population.accept(fits)
        progress?(Iteration(evaluation: count, ofv: f, parameters: param.natural(p)))
      }
      guard derivatives, f.isFinite, count < maxEvaluations else {
        return (f, derivatives && f.isFinite ? [Double](repeating: 0, count: x.count) : nil, nil)
      }
      // Central differences from the same warm start (the modes of the best point so far).
      // The subjects' own differences give the BHHH matrix ½ Σ_i ∇OFV_i ∇OFV_iᵀ, the outer
      // product of the scores, which estimates the Hessian of OFV near the maximum (the
      // Fisher information of the model's subjects) at no extra cost: the optimiser's Hessian
      // model until BFGS takes over.
      // With fewer than two subjects per parameter the outer product is (nearly) singular:
      // BFGS then starts from the identity instead.
      let d = x.count
      let bhhh = fits.count >= 2 * d
      var gradient = [Double](repeating: 0, count: d)
      var scores = [[Double]](repeating: [Double](repeating: 0, count: d), count: bhhh ? fits.count : 0)
      if analytic, let exact = population.gradients(p, directions: directions, fits: fits, scale: { param.chain(x, $0) }) {
        // The subjects' exact gradients (FOCE, FOCE-I on jets); the scores are these.
        for g in exact { for k in 0..<d { gradient[k] += g[k] } }
        if bhhh { scores = exact }
      } else {
        for k in x.indices {
          let h = 1e-4 * max(1, abs(x[k]))
          var xp = x
          xp[k] += h
          var xm = x
          xm[k] -= h
          if xp[k] > param.upper[k] { xp[k] = x[k] }
          if xm[k] < param.lower[k] { xm[k] = x[k] }
          let plus = population.subjects(param.parameters(xp))
          let minus = population.subjects(param.parameters(xm))
          let width = xp[k] - xm[k]
          gradient[k] = (population.total(plus) - population.total(minus)) / width
          for i in scores.indices { scores[i][k] = ((plus[i]?.ofv ?? .nan) - (minus[i]?.ofv ?? .nan)) / width }
        }
      }
      guard bhhh else { return (f, gradient.allSatisfy(\.isFinite) ? gradient : nil, nil) }
      var fim = [Double](repeating: 0, count: d * d)
      for s in scores { for a in 0..<d { for b in 0..<d { fim[a * d + b] += 0.5 * s[a] * s[b] } } }
      return (f, gradient.allSatisfy(\.isFinite) ? gradient : nil, fim.allSatisfy(\.isFinite) ? fim : nil)
    }
    var optimizer = TrustRegionOptimizer()
    optimizer.hessian = .bfgs
    optimizer.rules.fatol = 1e-6
    optimizer.rules.frtol = 1e-10
    optimizer.rules.gatol = 1e-4
    optimizer.rules.maxIterations = 500
    let initial = start ?? param.initial
    var result: OptimizerResult? = nil
    var estimates = initial
    var status = start == nil ? "objective evaluated at the initial estimates" : "objective evaluated at the previous step's estimates"
    var converged = true
    var evaluations = 0
    var settledAtEstimates: [SubjectFit?]? = nil
    if method == .saem {
      var saem = SAEM()
      saem.burnIn = burnIn
      saem.iterations = iterations
      saem.seed = seed
      saem.threads = threads
      let r = saem.run(problem.withInitial(initial)) { k, f in progress?(Iteration(evaluation: k, ofv: f, parameters: [])) }
      estimates = r.parameters
      status =
        "SAEM completed \(burnIn) burn-in and \(iterations) averaging iterations; objective by importance sampling (\(samples) samples per subject)"
      history.rows = r.history.enumerated().map { Iteration(evaluation: $0.offset + 1, ofv: $0.element, parameters: []) }
    } else if !evaluateOnly, param.count > 0, var x = param.x(initial) {
      // The Hessian model starts from the scores' outer product, which can overstate the
      // curvature away from the optimum and stop the search early. So the minimisation is
      // restarted from where it stopped, with the Hessian model taken there, until a round
      // lowers the objective by less than 10⁻³ (at most four rounds). Before each restart
      // the modes are checked from other starts; where a subject has a higher mode than the
      // one its warm starts followed, the next round goes on with the new modes.
      var previous = Double.infinity
      for round in 0..<4 {
        let r = optimizer.minimize(bounded, from: x)
        x = r.x
        evaluations += r.functionEvaluations
        result = r
        estimates = param.parameters(r.x)
        converged = r.converged
        status = r.converged ? "minimisation successful (\(r.exitReason))" : "minimisation terminated: \(r.exitReason)"
        guard round < 3, history.count < maxEvaluations else { break }
        let settled = population.settled(estimates)
        let f = population.total(settled)
        let modesChanged = f < r.f - 1e-6 * max(1, abs(r.f))
        if modesChanged {
          history.best = f
          population.accept(settled)
        }
        guard modesChanged || previous - r.f > 1e-3 else {
          // The modes at the estimates, checked from the same warm starts the final check
          // would use: that check is this one.
          if !modesChanged { settledAtEstimates = settled }
          break
        }
        previous = r.f
      }
    }
    let fits = method == .saem ? population.subjects(estimates) : settledAtEstimates ?? population.settled(estimates)
    population.accept(fits)
    let ofv = population.total(fits)
    if !ofv.isFinite { status = "the objective cannot be evaluated at the estimates" }
    var out = NLMEFitResult(
      method: method.rawValue, ofv: ofv, parameters: estimates, names: param.names, estimated: param.natural(estimates),
      status: status, converged: converged && ofv.isFinite, evaluations: result == nil ? history.count : evaluations,
      history: history.rows,
      ofvStandardError: method == .imp || method == .saem ? fits.reduce(0) { $0 + ($1?.variance ?? 0) }.squareRoot() : nil,
      individuals: fits.map { $0?.eta ?? [] }, subjectOFV: fits.map { $0?.ofv ?? .nan }, ids: problem.data.subjects.map(\.id),
      observations: problem.data.observationCount, seconds: 0)
    if let matrix = covariance, ofv.isFinite {
      var step = CovarianceStep(population: population, parameterization: param, estimates: estimates)
      step.analyticGradient = analyticGradient
      out.covariance = step.run(matrix)
    }
    out.seconds = Date().timeIntervalSince(began)
    return out
  }
}

/// The evaluations so far (the objective closure runs on one thread at a time).
final class HistoryLog: @unchecked Sendable {
  var rows: [NLMEFitter.Iteration] = []
  var best = Double.infinity
  var count = 0

  func record(_ f: Double, _ parameters: [Double]) -> Int {
    count += 1
    if f < best { rows.append(.init(evaluation: count, ofv: f, parameters: parameters)) }
    return count
  }
}

/// What a fit found.
public struct NLMEFitResult: Sendable {
  public var method: String
  public var ofv: Double
  public var parameters: PopulationParameters
  /// Names and natural-scale values of the estimated parameters (THETA(k), OMEGA(i,j), SIGMA(i,j)).
  public var names: [String]
  public var estimated: [Double]
  public var status: String
  public var converged: Bool
  public var evaluations: Int
  public var history: [NLMEFitter.Iteration]
  /// The Monte Carlo standard error of an importance-sampled OFV.
  public var ofvStandardError: Double?
  /// The conditional modes η̂ per subject, and each subject's OFV_i.
  public var individuals: [[Double]]
  public var subjectOFV: [Double]
  public var ids: [Double]
  public var observations: Int
  public var seconds: Double
  public var covariance: CovarianceResult? = nil
}
