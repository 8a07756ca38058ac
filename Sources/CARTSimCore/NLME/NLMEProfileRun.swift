import Foundation
import NLME

/// `cartsim nlme profile`: profile likelihoods and 95% intervals of a fitted population model's
/// parameters (``NLMEProfiler``). Writes `profiles.json` and one plot per parameter,
/// `profile_<name>.svg`; `profiles.json` is written last.
extension NLMERun {
  public struct ProfileSettings: Sendable {
    public var dataPath: String?
    /// fit.json of a fit of the model: the estimates the profiles start from.
    public var fitPath: String
    /// The re-fits' method, or nil for the control stream's last `$ESTIMATION` (as the fit used).
    public var method: ControlStream.EstimationStep.Method?
    /// The parameters to profile by NONMEM's names; nil for every THETA and diagonal variance estimated.
    public var parameters: [String]?
    /// Evaluate the profile at these values only, with no search for the interval.
    public var at: [(parameter: String, value: Double)] = []
    public var steps = 12
    public var threads = 1
    public init(fitPath: String) { self.fitPath = fitPath }
  }

  public struct ProfileDocument: Codable, Sendable {
    public var model: String
    public var fit: String
    public var method: String
    /// χ²₁(0.95): an interval's ends lie this far above the fit's objective.
    public var threshold: Double
    /// The objective at the fit's estimates, evaluated by the re-fits' method.
    public var ofv: Double
    public var profiles: [NLMEProfiler.Profile]
    public var seconds: Double
  }

  /// Profiles the parameters and writes the files; `progress` hears of each profile as it ends.
  public static func profile(
    model path: String, settings: ProfileSettings, out dir: String, progress: ((NLMEProfiler.Profile) -> Void)? = nil
  ) throws -> ProfileDocument {
    let began = Date()
    let (problem, estimates, start, step) = try fitted(
      model: path, dataPath: settings.dataPath, fitPath: settings.fitPath, method: settings.method)
    let fitName = URL(fileURLWithPath: settings.fitPath).lastPathComponent
    var profiler = NLMEProfiler(step: step)
    profiler.threads = settings.threads
    profiler.steps = settings.steps
    // Check every name before the first re-fit.
    let names =
      settings.at.isEmpty
      ? settings.parameters
        ?? Parameterization(problem.stream).names.filter { (try? NLMEProfiler.target($0, in: problem.stream)) != nil }
      : []
    for name in names + settings.at.map(\.parameter) { _ = try NLMEProfiler.target(name, in: problem.stream) }
    try ResultWriter.createDirectory(dir)
    try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent("profiles.json"))
    let reference = profiler.objective(problem, at: start)
    guard reference.isFinite else {
      throw NLMEError(fitName, field: "theta, omega, sigma", "the objective cannot be evaluated at these estimates")
    }
    var profiles: [NLMEProfiler.Profile] = []
    for name in names {
      let t = try NLMEProfiler.target(name, in: problem.stream)
      let p = try profiler.profile(problem, parameter: name, estimates: start, reference: reference, se: estimates.standardError(t))
      progress?(p)
      profiles.append(p)
    }
    // --at: the points of each parameter, in the order given.
    var order: [String] = []
    for (name, _) in settings.at where !order.contains(name) { order.append(name) }
    for name in order {
      let values = settings.at.filter { $0.parameter == name }.map(\.value)
      let p = try profiler.points(problem, parameter: name, values: values, estimates: start, reference: reference)
      progress?(p)
      profiles.append(p)
    }
    let document = ProfileDocument(
      model: URL(fileURLWithPath: path).lastPathComponent, fit: fitName, method: step.method.rawValue, threshold: NLMEProfiler.threshold,
      ofv: reference, profiles: profiles, seconds: Date().timeIntervalSince(began))
    for p in profiles {
      try ResultWriter.writeText(
        NLMEPlots.profile(p), to: (dir as NSString).appendingPathComponent(profileFile(p.parameter)))
    }
    try ResultWriter.writeText(try JSONText.render(document), to: (dir as NSString).appendingPathComponent("profiles.json"))
    return document
  }

  /// What `nlme profile` and `nlme bootstrap` start from: the problem, the estimates of a
  /// fit.json of it, and the estimation step of the re-fits (the control stream's last
  /// `$ESTIMATION`, FO without one, with `method` in its place if given).
  static func fitted(model path: String, dataPath: String?, fitPath: String, method: ControlStream.EstimationStep.Method?) throws -> (
    NLMEProblem, NLMEEstimates, PopulationParameters, ControlStream.EstimationStep
  ) {
    let problem = try NLMEProblem(controlStream: path, dataPath: dataPath, builtIn: builtIn)
    let estimates = try NLMEEstimates.read(fitPath)
    let start = try estimates.parameters(for: problem.stream, file: URL(fileURLWithPath: fitPath).lastPathComponent)
    var step = problem.stream.estimations.last ?? ControlStream.EstimationStep(method: .fo, line: 0)
    if let method { step.method = method }
    return (problem, estimates, start, step)
  }

  /// `THETA(1), OMEGA(2,2)` split at the commas between names (not those inside the parentheses).
  public static func parameterList(_ text: String) -> [String] {
    var names: [String] = []
    var current = ""
    var depth = 0
    for c in text {
      if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
      if c == "," && depth == 0 {
        names.append(current.trimmingCharacters(in: .whitespaces))
        current = ""
      } else {
        current.append(c)
      }
    }
    names.append(current.trimmingCharacters(in: .whitespaces))
    return names.filter { !$0.isEmpty }
  }

  /// One line of the console summary: the estimate, the interval, and the points at given values.
  public static func profileLine(_ p: NLMEProfiler.Profile) -> String {
    func show(_ v: Double) -> String { String(format: "%.5g", v) }
    var line = "\(p.parameter) \(show(p.estimate)): "
    if p.lower_status.hasPrefix("not searched") {
      line += p.points.map { "ΔOFV \(String(format: "%.3f", $0.delta)) at \(show($0.value))" }.joined(separator: ", ")
    } else {
      line += "95% interval [\(p.lower.map(show) ?? "open"), \(p.upper.map(show) ?? "open")] from \(p.points.count) re-fits"
      for (end, status) in [(p.lower, p.lower_status), (p.upper, p.upper_status)] where end == nil { line += "; \(status)" }
    }
    if let lowest = p.lower_ofv_found {
      line += "; a re-fit reached OFV \(String(format: "%.4f", lowest)), below the fit's: refit from there"
    }
    return line
  }

  /// `profile_THETA1.svg`, `profile_OMEGA2_2.svg`: the name without parentheses.
  public static func profileFile(_ parameter: String) -> String {
    "profile_"
      + parameter.replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "").replacingOccurrences(of: ",", with: "_")
      + ".svg"
  }
}

extension NLMEPlots {
  /// ΔOFV against the parameter's value: the re-fits, the threshold and the interval's ends.
  static func profile(_ p: NLMEProfiler.Profile) -> String {
    var plot = LinePlot(title: "Profile likelihood of \(p.parameter)", xLabel: p.parameter, yLabel: "OFV − OFV at the estimates")
    let x = p.points.map(\.value) + [p.estimate]
    let y = p.points.map(\.delta) + [0]
    let order = x.indices.sorted { x[$0] < x[$1] }
    plot.series = [
      LinePlot.Series(name: "profile", x: order.map { x[$0] }, y: order.map { y[$0] }, color: "#1f5fa8"),
      LinePlot.Series(name: "re-estimated", x: p.points.map(\.value), y: p.points.map(\.delta), color: "#1f5fa8", points: true),
    ]
    plot.references = [LinePlot.Reference(y: NLMEProfiler.threshold, label: "χ²₁(0.95) = 3.84", color: "#b33")]
    plot.markers = [LinePlot.Marker(x: p.estimate, label: "estimate", color: "#555")]
    for (end, label) in [(p.lower, "lower 95%"), (p.upper, "upper 95%")] {
      if let end { plot.markers.append(LinePlot.Marker(x: end, label: label, color: "#b33")) }
    }
    return plot.svg()
  }
}
