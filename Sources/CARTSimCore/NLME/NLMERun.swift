import CARTModels
import CSVKit
import Foundation
import NLME

/// `cartsim nlme fit`: reads a control stream and its data, fits, and writes `fit.json`,
/// `sdtab.csv`, the `$TABLE` files and the diagnostic plots. `fit.json` is written last, so a
/// folder with one holds a whole result.
public enum NLMERun {
  public struct Settings: Sendable {
    public var dataPath: String?
    /// The method, or nil for the control stream's last `$ESTIMATION` (FO without one).
    public var method: ControlStream.EstimationStep.Method?
    public var threads = 1
    /// Skip the covariance step even when the control stream asks for it.
    public var covariance = true
    /// Derivatives in η and the outer gradient by finite differences, not sensitivities.
    public var finiteDifferences = false
    /// Simulations per subject for NPDE.
    public var npdeSamples = 1000
    public var seed: UInt64 = 1
    public init() {}
  }

  /// A built-in model (the JSON form's `"model"`) as SBML: the default patient, no doses (the
  /// dataset gives them).
  public static func builtIn(_ name: String) throws -> String {
    guard ModelCatalog.ids.contains(name) else {
      throw NLMEError("model", "'\(name)' is not a built-in model (\(ModelCatalog.ids.joined(separator: ", ")))")
    }
    return try SBMLExport.document(model: name, scenarioPath: nil)
  }

  /// Fits and writes the files; returns the fit document.
  public static func fit(
    model path: String, settings: Settings, out dir: String, progress: (@Sendable (NLMEFitter.Iteration) -> Void)? = nil
  ) throws -> NLMEDocument {
    let problem = try NLMEProblem(controlStream: path, dataPath: settings.dataPath, builtIn: builtIn)
    // Each $ESTIMATION in turn, from the estimates of the one before (--method: that alone).
    // --method keeps the options of the last $ESTIMATION (MAXEVAL, ISAMPLE, SEED, …).
    var steps = problem.stream.estimations.isEmpty ? [ControlStream.EstimationStep(method: .fo, line: 0)] : problem.stream.estimations
    if let method = settings.method, var last = steps.last {
      last.method = method
      steps = [last]
    }
    try ResultWriter.createDirectory(dir)
    try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent("fit.json"))
    var fit: NLMEFitResult? = nil
    var seconds = 0.0
    var statuses: [String] = []
    for (k, step) in steps.enumerated() {
      var fitter = NLMEFitter(step)
      fitter.threads = settings.threads
      fitter.exactDerivatives = !settings.finiteDifferences
      fitter.analyticGradient = !settings.finiteDifferences
      fitter.covariance = settings.covariance && k == steps.count - 1 ? problem.stream.covariance?.matrix : nil
      fitter.progress = progress
      let result = fitter.fit(problem, from: fit?.parameters)
      seconds += result.seconds
      statuses.append(steps.count > 1 ? "\(step.method.rawValue): \(result.status)" : result.status)
      fit = result
    }
    guard var fit else { throw NLMEError(problem.stream.file, field: "$ESTIMATION", "no estimation step") }
    fit.seconds = seconds
    fit.status = statuses.joined(separator: "; then ")
    fit.method = steps.map(\.method.rawValue).joined(separator: " + ")
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .focei)
    let diagnostics = Diagnostics(
      objective: objective, parameters: fit.parameters, etas: fit.individuals, samples: settings.npdeSamples, seed: settings.seed)
    let document = NLMEDocument(
      problem: problem, fit: fit, diagnostics: diagnostics, threads: settings.threads,
      modelName: URL(fileURLWithPath: path).lastPathComponent)
    func write(_ text: String, _ name: String) throws {
      try ResultWriter.writeText(text, to: (dir as NSString).appendingPathComponent(name))
    }
    try write(NLMETables.sdtab(problem: problem, fit: fit, diagnostics: diagnostics), "sdtab.csv")
    for (k, t) in problem.stream.tables.enumerated() {
      let text = try NLMETables.table(t, number: k + 1, problem: problem, fit: fit, diagnostics: diagnostics)
      try write(text, t.file ?? "table\(k + 1)")
    }
    for (name, svg) in NLMEPlots.diagnostics(problem: problem, fit: fit, diagnostics: diagnostics) { try write(svg, name) }
    try write(try JSONText.render(document), "fit.json")
    return document
  }
}

extension NLMERun {
  /// The parameters to simulate from: a fit.json of this control stream, or its initial estimates.
  static func parameters(_ problem: NLMEProblem, fit path: String?) throws -> PopulationParameters {
    guard let path else { return problem.initial }
    return try NLMEEstimates.read(path).parameters(for: problem.stream, file: URL(fileURLWithPath: path).lastPathComponent)
  }

  public struct VPCSettings: Sendable {
    public var dataPath: String?
    public var fitPath: String?
    public var replicates = 200
    public var bins = 8
    public var seed: UInt64 = 1
    public var threads = 1
    public var predictionCorrected = true
    public var logScale = false
    public init() {}
  }

  /// `cartsim nlme vpc`: writes vpc.json, vpc.svg and (with a quantification limit) vpc_blq.svg.
  public static func vpc(model path: String, settings: VPCSettings, out dir: String) throws -> VPC {
    let problem = try NLMEProblem(controlStream: path, dataPath: settings.dataPath, builtIn: builtIn)
    let p = try parameters(problem, fit: settings.fitPath)
    try ResultWriter.createDirectory(dir)
    let vpc = VPC(
      problem: problem, parameters: p, replicates: settings.replicates, seed: settings.seed, threads: settings.threads,
      binCount: settings.bins, predictionCorrected: settings.predictionCorrected, logScale: settings.logScale)
    for (name, svg) in NLMEPlots.vpc(vpc, title: problem.stream.problem) {
      try ResultWriter.writeText(svg, to: (dir as NSString).appendingPathComponent(name))
    }
    try ResultWriter.writeText(try JSONText.render(vpc), to: (dir as NSString).appendingPathComponent("vpc.json"))
    return vpc
  }

  /// `cartsim nlme simulate`: the dataset with DV replaced by simulated values, one block of
  /// rows per replicate (column REP first, CENS last: 1 where the value fell below the limit).
  public static func simulate(
    model path: String, dataPath: String?, fitPath: String?, replicates: Int, seed: UInt64, threads: Int, out file: String
  ) throws -> Int {
    let problem = try NLMEProblem(controlStream: path, dataPath: dataPath, builtIn: builtIn)
    let p = try parameters(problem, fit: fitPath)
    let sims = NLMESimulation(problem: problem, parameters: p).replicates(replicates, seed: seed, threads: threads)
    let dvColumn = problem.data.items.firstIndex(of: "DV")
    var out = CSV.row(["REP"] + problem.data.items + ["CENS"]) + "\n"
    for (r, rep) in sims.enumerated() {
      var k = 0
      for s in problem.data.subjects {
        for (index, record) in s.records.enumerated() {
          var values = record.values
          var cens = "0"
          if s.observations.contains(index) {
            if let d = dvColumn { values[d] = rep.y[k] }
            cens = rep.censored[k] ? "1" : "0"
            k += 1
          }
          out += CSV.row([String(r + 1)] + values.map { NLMETablesFormat.number($0) } + [cens]) + "\n"
        }
      }
    }
    try ResultWriter.writeText(out, to: file)
    return sims.count
  }
}
