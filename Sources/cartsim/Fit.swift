import ArgumentParser
import CARTSimCore
import Estimation
import Foundation
import ODEKit
import Parallel

extension OptimizerKind: ExpressibleByArgument {}
extension HessianApproximation: ExpressibleByArgument {}
extension PEtabObjective.SensitivityMethod: ExpressibleByArgument {}

/// Options shared by `fit` and `profile`: solver tolerances and the optimiser.
struct EstimationOptions: ParsableArguments {
  @Option(help: "Optimiser: trust-region (Fisher information / BFGS hybrid, as fides) or lbfgsb.")
  var optimizer: OptimizerKind = .trustRegion

  @Option(
    help:
      "Hessian model of the trust-region optimiser: fim (Gauss–Newton), hybrid (FIM, then BFGS once the trust region stops changing, as fides) or bfgs."
  )
  var hessian: HessianApproximation = .hybrid

  @Option(help: "Maximum iterations per local optimisation (1–100000).")
  var maxIterations = 1000

  @Option(help: "Relative tolerance of the ODE solver.")
  var rtol = 1e-8

  @Option(help: "Absolute tolerance of the ODE solver.")
  var atol = 1e-10

  @Option(help: "ODE method: bdf (default), auto (DP5, switching to Rodas4P2 when stiff), rodas4, rodas4p2 or dp5.")
  var method: ODEMethod = .bdf

  @Option(
    help:
      "Gradients by forward sensitivities (with the Fisher information) or by the adjoint method (gradient alone, BFGS Hessian; for models without events, where many parameters make it pay)."
  )
  var sensitivities: PEtabObjective.SensitivityMethod = .forward

  @OptionGroup var threadsOption: ThreadsOption

  func validate() throws {
    guard (1...100_000).contains(maxIterations) else { throw ValidationError("--max-iterations must be 1–100000") }
    guard rtol > 0, rtol < 1, atol > 0, atol < 1 else { throw ValidationError("--rtol and --atol must be in (0, 1)") }
  }

  func objective(_ path: String) throws -> (PEtabProblem, PEtabObjective) {
    var o = PEtabObjective.Options()
    o.rtol = rtol
    o.atol = atol
    o.method = method
    o.sensitivities = sensitivities
    let (problem, objective) = try PEtabRun.fittable(path, options: o)
    if sensitivities != objective.gradientMethod {
      FileHandle.standardError.write(
        Data("note: the model has events, which the adjoint method does not handle; gradients by forward sensitivities\n".utf8))
    }
    return (problem, objective)
  }

  var rules: StoppingRules {
    var r = StoppingRules()
    r.maxIterations = maxIterations
    return r
  }
}

struct Fit: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Fit a PEtab problem by multi-start local optimisation.",
    discussion: """
      Starts from a Latin hypercube within the bounds on the parameter scale (or from the \
      initialisation priors), optimises each start with gradients from forward sensitivities (or --sensitivities adjoint), on all \
      cores; results depend on --seed only, not on --threads. Writes DIR/fit.json (best_llh, best_nllh, \
      parameters on the linear scale, every start), DIR/parameters.tsv (the parameter table with the \
      estimates as nominal values), DIR/simulations.tsv at the best fit, and the plots waterfall.svg, \
      parameters.svg and fit_<observable>.svg.
      """)

  @Argument(help: "The PEtab problem file (yaml).")
  var problem: String

  @Option(help: "Number of starts (1–100000).")
  var starts = 20

  @Option(help: "Seed of the starting points.")
  var seed: UInt64 = 1

  @OptionGroup var estimation: EstimationOptions

  @Flag(
    inversion: .prefixedNo,
    help: "Give observable scalings (c in c·h) their closed-form best value at every point instead of optimising them (hierarchical).")
  var hierarchical = true

  @Option(help: "Output folder.")
  var out: String

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    guard (1...MultiStartFit.maxStarts).contains(starts) else { throw ValidationError("--starts must be 1–\(MultiStartFit.maxStarts)") }
  }

  func run() throws {
    let (p, objective) = try estimation.objective(problem)
    var fit = MultiStartFit()
    fit.starts = starts
    fit.seed = seed
    fit.threads = estimation.threadsOption.count
    fit.optimizer = estimation.optimizer
    fit.hessian = estimation.hessian
    fit.rules = estimation.rules
    fit.hierarchical = hierarchical
    let bar = progress.bar("starts")
    let began = Date()
    let result = fit.run(objective) { done, total, _ in bar.update(done, of: total) }
    bar.finish()
    guard let doc = try FitReport.write(problem: p, objective: objective, fit: fit, result: result, to: out) else {
      throw ValidationError("no start reached a finite objective; nothing written")
    }
    print(doc.line(parameters: objective.dimension, seconds: Date().timeIntervalSince(began)))
    print("wrote \(out)/fit.json, parameters.tsv, simulations.tsv and the plots")
  }
}

struct Profile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Profile likelihoods of the estimated parameters around a fit.",
    discussion: """
      Reads the best parameters of DIR/fit.json (written by `cartsim fit`), fixes each estimated \
      parameter on a sequence of values in both directions and re-optimises the others, until the \
      objective rises by more than χ²₁(0.95)/2 = 1.92 or the bound is reached. Writes \
      OUT/profiles.json (points, 95% confidence interval on the linear scale, identifiability flag) \
      and OUT/profile_<id>.svg.
      """)

  @Argument(help: "The PEtab problem file (yaml).")
  var problem: String

  @Option(name: .customLong("from"), help: "fit.json of a fit of this problem.")
  var fitFile: String

  @OptionGroup var estimation: EstimationOptions

  @Option(help: "Output folder (default: the folder of --from).")
  var out: String?

  @OptionGroup var progress: ProgressOption

  func run() throws {
    let (p, objective) = try estimation.objective(problem)
    let doc = try FitReport.read(fitFile)
    let optimum = try FitReport.optimum(doc, from: fitFile, for: objective)
    var profiler = ProfileLikelihood()
    profiler.optimizer = estimation.optimizer
    profiler.hessian = estimation.hessian
    profiler.rules = estimation.rules
    profiler.threads = estimation.threadsOption.count
    let bar = progress.bar("parameters")
    let profiles = profiler.run(objective, optimum: optimum) { done, total in bar.update(done, of: total) }
    bar.finish()
    let dir = out ?? (fitFile as NSString).deletingLastPathComponent
    let best = profiles.map(\.bestNllh).min() ?? doc.best_nllh
    try ProfileReport.write(problem: p.name, profiles: profiles, bestNllh: best, to: dir.isEmpty ? "." : dir)
    for pr in profiles {
      func show(_ v: Double?) -> String { v.map { String(format: "%.4g", $0) } ?? "open" }
      print("\(pr.parameter): 95% CI [\(show(pr.lower95)), \(show(pr.upper95))]  \(pr.identifiability.rawValue)")
    }
    print("wrote \(dir.isEmpty ? "." : dir)/profiles.json and profile_<id>.svg")
  }
}
