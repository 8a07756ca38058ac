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
    /// Simulations per subject for NPDE.
    public var npdeSamples = 1000
    public var seed: UInt64 = 1
    public init() {}
  }

  /// The methods `cartsim nlme fit` carries out.
  public static func firstOrderMethod(_ m: ControlStream.EstimationStep.Method, file: String) throws -> FirstOrderObjective.Method {
    switch m {
    case .fo: return .fo
    case .foce: return .foce
    case .focei: return .focei
    case .laplace: return .laplace
    case .saem, .imp:
      throw NLMEError(file, field: "$ESTIMATION", "METHOD \(m.rawValue) is not supported yet (FO, FOCE, FOCE-I and LAPLACE are)")
    }
  }

  /// Fits and writes the files; returns the fit document.
  public static func fit(
    model path: String, settings: Settings, out dir: String, progress: (@Sendable (NLMEFitter.Iteration) -> Void)? = nil
  ) throws -> NLMEDocument {
    let problem = try NLMEProblem(controlStream: path, dataPath: settings.dataPath)
    let step = problem.stream.estimations.last
    let method = try firstOrderMethod(settings.method ?? step?.method ?? .fo, file: problem.stream.file)
    try ResultWriter.createDirectory(dir)
    try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent("fit.json"))
    var fitter = NLMEFitter(method: method)
    fitter.threads = settings.threads
    fitter.maxEvaluations = step?.maxEvaluations ?? fitter.maxEvaluations
    fitter.covariance = settings.covariance ? problem.stream.covariance?.matrix : nil
    fitter.progress = progress
    let fit = fitter.fit(problem)
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: method)
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
