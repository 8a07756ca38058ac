import ArgumentParser
import CARTSimCore
import Foundation
import NLME
import Parallel

extension ControlStream.EstimationStep.Method: ExpressibleByArgument {
  public init?(argument: String) {
    let a = argument.uppercased().replacingOccurrences(of: "_", with: "-")
    self.init(rawValue: a == "FOCEI" ? "FOCE-I" : a)
  }

  /// As the help text spells them (any case is read, and FOCE-I as focei).
  public static var allValueStrings: [String] { allCases.map { $0 == .focei ? "focei" : $0.rawValue.lowercased() } }
}

struct NLMECommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nlme", abstract: "Population (nonlinear mixed-effects) models: NONMEM control streams and datasets.",
    subcommands: [NLMEFit.self, NLMEProfile.self, NLMEBootstrapCommand.self, NLMEVPC.self, NLMESimulate.self])
}

struct NLMEFit: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fit", abstract: "Fit a population model written as a NONMEM control stream.",
    discussion: """
      Reads MODEL.mod and its $DATA (relative to the control stream's folder, or --data), \
      estimates THETA, OMEGA and SIGMA by each $ESTIMATION in turn (or --method: fo, \
      foce, focei, laplace, saem, imp), runs the covariance step if the control stream has $COVARIANCE, on all cores \
      with results independent of --threads. Writes DIR/fit.json (ofv, theta, omega and sigma as \
      lower triangles, se, shrinkage, status, history), DIR/sdtab.csv (ID TIME DV PRED IPRED RES \
      WRES CWRES IWRES NPDE CENS ETAs), the $TABLE files, and the plots dv_vs_pred.svg, \
      dv_vs_ipred.svg, cwres_vs_time.svg, cwres_vs_pred.svg, individual_fits.svg and \
      eta_vs_covariates.svg.
      """)

  @Argument(help: "The NONMEM control stream (.mod, .ctl).")
  var model: String

  @Option(help: "The dataset in place of the control stream's $DATA file.")
  var data: String?

  @Option(
    help:
      "Estimation method: fo, foce, focei, laplace, saem (then the importance-sampling objective) or imp (default: the control stream's $ESTIMATION records in turn)."
  )
  var method: ControlStream.EstimationStep.Method?

  @Flag(help: "Skip the covariance step.")
  var noCovariance = false

  @Flag(help: "Take the derivatives in ETA and the outer gradient from finite differences, not from sensitivities (to compare).")
  var finiteDifferences = false

  @Option(help: "Simulations per subject for NPDE (0 for none, at most 100000).")
  var npdeSamples = 1000

  @Option(help: "Seed of the NPDE simulations.")
  var seed: UInt64 = 1

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output folder.")
  var out: String

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    try checkOption(npdeSamples, 0...100_000, "--npde-samples")
  }

  func run() throws {
    var settings = NLMERun.Settings()
    settings.dataPath = data
    settings.method = method
    settings.threads = threadsOption.count
    settings.covariance = !noCovariance
    settings.finiteDifferences = finiteDifferences
    settings.npdeSamples = npdeSamples
    settings.seed = seed
    let quiet = !progress.shown
    let doc = try NLMERun.fit(model: model, settings: settings, out: out) { it in
      if !quiet {
        let values = it.parameters.map { String(format: "%.5g", $0) }.joined(separator: " ")
        FileHandle.standardError.write(Data("evaluation \(it.evaluation)  OFV \(String(format: "%.6f", it.ofv))  \(values)\n".utf8))
      }
    }
    print(
      "\(doc.method): OFV \(String(format: "%.6f", doc.ofv)), \(doc.status), \(doc.evaluations) evaluations, \(String(format: "%.2f", doc.seconds)) s"
    )
    if let status = doc.covariance_status { print("covariance step (\(doc.covariance_matrix ?? "")): \(status)") }
    print("wrote \(out)/fit.json, sdtab.csv and the plots")
  }
}

struct NLMEProfile: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "profile", abstract: "Profile likelihoods and 95% intervals of a fitted population model's parameters.",
    discussion: """
      Holds one parameter at a time at a sequence of values and estimates the others again \
      (the control stream's last $ESTIMATION, or --method), starting from --from DIR/fit.json, \
      until the objective has risen by χ²₁(0.95) = 3.84 on each side: the ends of its 95% \
      interval, which follow the likelihood's shape where estimate ± 1.96·SE assumes it is \
      quadratic. THETAs and the variances of diagonal $OMEGA/$SIGMA records can be profiled. \
      With --at NAME=VALUE the objective is evaluated at those values only. Writes \
      DIR/profiles.json and DIR/profile_<name>.svg.
      """)

  @OptionGroup var source: NLMEFittedModel

  @Option(
    help: "Parameters to profile, comma-separated, e.g. 'OMEGA(1,1),SIGMA(1,1)' (default: every THETA and diagonal variance estimated).")
  var parameters: String?

  @Option(help: "Evaluate the profile at NAME=VALUE only (repeatable), e.g. 'SIGMA(1,1)=0.3136'.")
  var at: [String] = []

  @Option(help: "Re-fits per side of a profile at most (1–40).")
  var steps = 12

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output folder.")
  var out: String

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    try checkOption(steps, 1...NLMEProfiler.maxSteps, "--steps")
    guard parameters == nil || at.isEmpty else { throw ValidationError("give either --parameters or --at") }
    guard at.count <= NLMEProfiler.maxSteps else { throw ValidationError("--at: at most \(NLMEProfiler.maxSteps) values") }
    _ = try points()
  }

  /// `--at NAME=VALUE` items.
  func points() throws -> [(String, Double)] {
    try at.map { item in
      let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, let v = Double(parts[1]), v.isFinite else { throw ValidationError("--at \(item): expected NAME=VALUE") }
      return (parts[0], v)
    }
  }

  func run() throws {
    var settings = NLMERun.ProfileSettings(fitPath: source.fit)
    settings.dataPath = source.data
    settings.method = source.method
    settings.steps = steps
    settings.threads = threadsOption.count
    settings.parameters = parameters.map { NLMERun.parameterList($0) }
    settings.at = try points()
    let quiet = !progress.shown
    let doc = try NLMERun.profile(model: source.model, settings: settings, out: out) { p in
      if !quiet { FileHandle.standardError.write(Data("profiled \(p.parameter): \(p.points.count) re-fits\n".utf8)) }
    }
    print("\(doc.method): OFV \(String(format: "%.6f", doc.ofv)) at the estimates of \(doc.fit)")
    for p in doc.profiles { print(NLMERun.profileLine(p)) }
    print("wrote \(out)/profiles.json and profile_<name>.svg")
  }
}

struct NLMEBootstrapCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bootstrap", abstract: "Nonparametric or parametric bootstrap of a fitted population model.",
    discussion: """
      Draws the subjects with replacement into --samples datasets of the same size (within the \
      strata of --stratify-on; with --parametric: simulates the study's observations from the \
      estimates of --from instead, censoring a value below its limit), from the seed's addressed \
      streams; fits each from the \
      estimates of --from DIR/fit.json by the control stream's last $ESTIMATION (or --method) \
      without the covariance step, and reports per parameter the bootstrap mean, median, SE and \
      bias, the percentile interval (2.5th to 97.5th percentile), the basic interval \
      (2·estimate − the percentiles) and the normal interval (estimate − bias ± 1.96·SE). \
      Samples are spread over the threads; results depend on --seed only. Writes \
      DIR/bootstrap.json, DIR/bootstrap.csv and DIR/bootstrap.svg.
      """)

  @OptionGroup var source: NLMEFittedModel

  @Option(help: "Bootstrap samples (1–\(NLMEBootstrap.maxSamples)).")
  var samples = 200

  @Option(help: "Seed of the resampling (or of the simulation).")
  var seed: UInt64 = 1

  @Flag(help: "Simulate each sample from the estimates (parametric bootstrap) instead of resampling the subjects.")
  var parametric = false

  @Option(help: "Resample the subjects within the strata of this data item (its value on each subject's first record).")
  var stratifyOn: String?

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output folder.")
  var out: String

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    try checkOption(samples, 1...NLMEBootstrap.maxSamples, "--samples")
    if parametric && stratifyOn != nil {
      throw ValidationError("--stratify-on resamples subjects; --parametric simulates them: give one of them")
    }
  }

  func run() throws {
    var settings = NLMERun.BootstrapSettings(fitPath: source.fit)
    settings.dataPath = source.data
    settings.method = source.method
    settings.samples = samples
    settings.seed = seed
    settings.threads = threadsOption.count
    settings.parametric = parametric
    settings.stratifyOn = stratifyOn
    let bar = progress.bar("samples")
    let total = samples
    let doc = try NLMERun.bootstrap(model: source.model, settings: settings, out: out) { done in bar.update(done, of: total) }
    bar.finish()
    print(
      "\(doc.method), \(doc.kind): \(doc.successful) of \(doc.samples) bootstrap samples successful, \(String(format: "%.1f", doc.seconds)) s"
    )
    func show(_ v: Double) -> String { String(format: "%.5g", v) }
    for i in doc.intervals {
      print(
        "\(i.parameter) \(show(i.estimate)): SE \(show(i.se)), percentile [\(show(i.percentile_lower)), \(show(i.percentile_upper))], basic [\(show(i.basic_lower)), \(show(i.basic_upper))], normal [\(show(i.normal_lower)), \(show(i.normal_upper))]"
      )
    }
    print("wrote \(out)/bootstrap.json, bootstrap.csv and bootstrap.svg")
  }
}

/// What `nlme profile` and `nlme bootstrap` re-fit: the model, its data, the fit they start from
/// and the re-fits' method.
struct NLMEFittedModel: ParsableArguments {
  @Argument(help: "The NONMEM control stream (or its JSON form).")
  var model: String

  @Option(help: "The dataset in place of the control stream's $DATA file.")
  var data: String?

  @Option(name: .customLong("from"), help: "fit.json of a fit of this model: its estimates start every re-fit.")
  var fit: String

  @Option(help: "Estimation method of the re-fits (default: the control stream's last $ESTIMATION).")
  var method: ControlStream.EstimationStep.Method?
}

struct NLMEVPC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vpc", abstract: "Visual predictive check of a population model (prediction-corrected by default).",
    discussion: """
      Simulates --replicates copies of the dataset's design from the fit (--from DIR/fit.json of \
      `cartsim nlme fit`; the control stream's initial estimates without it), bins the observations \
      by time into --bins bins of nearly equal counts, and compares the observed 5th, 50th and 95th \
      percentiles with the 95% intervals of the simulated ones; values below the quantification \
      limit count as censored, and their fraction per bin gets its own panel. Writes DIR/vpc.json, \
      DIR/vpc.svg and, when the data have a limit, DIR/vpc_blq.svg.
      """)

  @OptionGroup var source: NLMESimulationSource

  @Option(help: "Simulated replicates (1–10000).")
  var replicates = 200

  @Option(help: "Time bins (1–100).")
  var bins = 8

  @Flag(inversion: .prefixedNo, help: "Prediction-correct the values (pcVPC, Bergstrand 2011).")
  var predictionCorrection = true

  @Flag(help: "DV is on a log scale: correct by adding PRED_bin − PRED rather than scaling.")
  var logScale = false

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output folder.")
  var out: String

  func validate() throws {
    try checkOption(replicates, 1...10_000, "--replicates")
    try checkOption(bins, 1...100, "--bins")
  }

  func run() throws {
    var settings = NLMERun.VPCSettings()
    settings.dataPath = source.data
    settings.fitPath = source.fit
    settings.replicates = replicates
    settings.bins = bins
    settings.seed = source.seed
    settings.threads = threadsOption.count
    settings.predictionCorrected = predictionCorrection
    settings.logScale = logScale
    let vpc = try NLMERun.vpc(model: source.model, settings: settings, out: out)
    print("VPC: \(vpc.bins.count) bins, \(vpc.replicates) replicates; wrote \(out)/vpc.json and vpc.svg")
  }
}

struct NLMESimulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simulate", abstract: "Simulate a dataset's design from a population model.",
    discussion: """
      Draws ETAs from OMEGA and residuals from SIGMA (--from DIR/fit.json of `cartsim nlme fit`; \
      the control stream's initial estimates without it) and writes the dataset --replicates times \
      to --out as CSV: column REP, the $INPUT items with DV simulated, and CENS (1 where the \
      simulated value is below the quantification limit).
      """)

  @OptionGroup var source: NLMESimulationSource

  @Option(help: "Replicates (1–10000).")
  var replicates = 1

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output CSV file.")
  var out: String

  func validate() throws {
    try checkOption(replicates, 1...10_000, "--replicates")
  }

  func run() throws {
    let n = try NLMERun.simulate(
      model: source.model, dataPath: source.data, fitPath: source.fit, replicates: replicates, seed: source.seed,
      threads: threadsOption.count, out: out)
    print("wrote \(n) replicate\(n == 1 ? "" : "s") to \(out)")
  }
}

/// What `nlme vpc` and `nlme simulate` simulate: the model, its data, the fit and the seed.
struct NLMESimulationSource: ParsableArguments {
  @Argument(help: "The NONMEM control stream (or its JSON form).")
  var model: String

  @Option(help: "The dataset in place of the control stream's $DATA file.")
  var data: String?

  @Option(name: .customLong("from"), help: "fit.json of a fit of this model (only its theta, omega and sigma are read).")
  var fit: String?

  @Option(help: "Seed of the simulations.")
  var seed: UInt64 = 1
}
