import CSVKit
import Foundation
import NLME

/// `cartsim nlme bootstrap`: the nonparametric or parametric bootstrap of a fitted population model
/// (``NLMEBootstrap``). Writes `bootstrap.csv` (every sample's objective and estimates),
/// `bootstrap.svg` (their histograms with the estimate and the percentile interval) and, last,
/// `bootstrap.json` (the summary and intervals).
extension NLMERun {
  public struct BootstrapSettings: Sendable {
    public var dataPath: String?
    /// fit.json of a fit of the model: the estimates every sample starts from.
    public var fitPath: String
    /// The samples' method, or nil for the control stream's last `$ESTIMATION` (as the fit used).
    public var method: ControlStream.EstimationStep.Method?
    public var samples = 200
    public var seed: UInt64 = 1
    public var threads = 1
    /// Simulate the samples from the estimates instead of resampling the subjects.
    public var parametric = false
    /// Resample within the strata of this data item (nonparametric only).
    public var stratifyOn: String?
    public init(fitPath: String) { self.fitPath = fitPath }
  }

  public struct BootstrapDocument: Codable, Sendable {
    public var model: String
    public var fit: String
    public var method: String
    /// "nonparametric" (subjects resampled) or "parametric" (observations simulated).
    public var kind: String
    /// The data item whose strata the subjects were resampled in, if any.
    public var stratify_on: String?
    public var samples: Int
    public var seed: UInt64
    public var successful: Int
    public var intervals: [NLMEBootstrap.Interval]
    public var seconds: Double
  }

  public static func bootstrap(
    model path: String, settings: BootstrapSettings, out dir: String, progress: (@Sendable (Int) -> Void)? = nil
  ) throws -> BootstrapDocument {
    let began = Date()
    let (problem, _, start, step) = try fitted(
      model: path, dataPath: settings.dataPath, fitPath: settings.fitPath, method: settings.method)
    let fitName = URL(fileURLWithPath: settings.fitPath).lastPathComponent
    var bootstrap = NLMEBootstrap(step: step)
    bootstrap.samples = settings.samples
    bootstrap.seed = settings.seed
    bootstrap.threads = settings.threads
    bootstrap.parametric = settings.parametric
    bootstrap.stratifyOn = settings.stratifyOn
    try ResultWriter.createDirectory(dir)
    try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent("bootstrap.json"))
    let result = try bootstrap.run(problem, estimates: start, progress: progress)
    var csv = CSV.row(["SAMPLE", "OFV", "SUCCESSFUL"] + result.names) + "\n"
    for s in result.samples {
      csv +=
        CSV.row([String(s.sample), NLMETablesFormat.number(s.ofv), s.converged ? "1" : "0"] + s.estimates.map(NLMETablesFormat.number))
        + "\n"
    }
    try ResultWriter.writeText(csv, to: (dir as NSString).appendingPathComponent("bootstrap.csv"))
    try ResultWriter.writeText(NLMEPlots.bootstrap(result), to: (dir as NSString).appendingPathComponent("bootstrap.svg"))
    let document = BootstrapDocument(
      model: URL(fileURLWithPath: path).lastPathComponent, fit: fitName, method: step.method.rawValue,
      kind: settings.parametric ? "parametric" : "nonparametric", stratify_on: settings.stratifyOn, samples: settings.samples,
      seed: settings.seed, successful: result.successful, intervals: result.intervals, seconds: Date().timeIntervalSince(began))
    try ResultWriter.writeText(try JSONText.render(document), to: (dir as NSString).appendingPathComponent("bootstrap.json"))
    return document
  }
}

extension NLMEPlots {
  /// One panel per parameter: the histogram of the successful samples' estimates, the
  /// estimate, and the percentile interval's ends.
  static func bootstrap(_ r: NLMEBootstrap.Result) -> String {
    let good = r.samples.filter { $0.converged && $0.ofv.isFinite }
    let panels = r.intervals.compactMap { interval -> String? in
      guard let k = r.names.firstIndex(of: interval.parameter) else { return nil }
      let values = good.map { $0.estimates[k] }
      guard let lo = values.min(), let hi = values.max() else { return nil }
      let bins = max(5, min(30, Int(Double(values.count).squareRoot())))
      let width = hi > lo ? (hi - lo) / Double(bins) : max(abs(lo), 1) * 1e-3
      var counts = [Double](repeating: 0, count: bins)
      for v in values { counts[min(bins - 1, Int((v - lo) / width))] += 1 }
      // A step outline: each bin's two edges at its count.
      var x: [Double] = []
      var y: [Double] = []
      for (b, c) in counts.enumerated() {
        x += [lo + Double(b) * width, lo + Double(b + 1) * width]
        y += [c, c]
      }
      var plot = LinePlot(title: interval.parameter, xLabel: interval.parameter, yLabel: "samples")
      plot.width = 300
      plot.height = 240
      plot.bands = [LinePlot.Band(x: x, lower: [Double](repeating: 0, count: x.count), upper: y, color: "#9db7d9")]
      plot.series = [LinePlot.Series(name: "", x: x, y: y, color: "#1f5fa8")]
      plot.markers = [
        LinePlot.Marker(x: interval.estimate, label: "estimate", color: "#555"),
        LinePlot.Marker(x: interval.percentile_lower, label: "2.5%", color: "#b33"),
        LinePlot.Marker(x: interval.percentile_upper, label: "97.5%", color: "#b33"),
      ]
      return plot.svg()
    }
    let title = "Bootstrap: \(good.count) of \(r.samples.count) samples successful; estimate grey, 2.5th and 97.5th percentiles red"
    return grid(panels, columns: 3, panelWidth: 300, panelHeight: 240, title: title)
  }
}
