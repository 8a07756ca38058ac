import CSVKit
import Estimation
import Foundation

/// The files of `cartsim fit`: `fit.json`, `parameters.tsv` (the PEtab parameter table with
/// the estimates as nominal values) and the plots — the waterfall of final objectives, the
/// estimates of the best starts within their bounds, data against the fitted simulation per
/// observable and condition.
public enum FitReport {
  public struct Document: Codable {
    public var problem: String
    public var optimizer: String
    public var hessian: String?
    /// How gradients were computed: `forward` or `adjoint` (absent in files written before it was recorded).
    public var sensitivities: String?
    /// Observable scalings computed in closed form at every optimiser point (hierarchical
    /// optimisation), not moved by the optimiser; absent or empty when there were none.
    public var inner_parameters: [String]?
    public var seed: UInt64
    public var starts_requested: Int
    public var best_llh: Double
    public var best_nllh: Double
    /// Starts ending within 0.01 of the best objective.
    public var starts_at_best: Int
    /// id → value on the linear scale.
    public var parameters: [String: Double]
    /// id → value on the parameter scale.
    public var parameters_on_scale: [String: Double]
    public var parameter_order: [String]
    public var scales: [String: String]
    public var lower_bounds: [String: Double]
    public var upper_bounds: [String: Double]
    public var starts: [StartRecord]
  }
  public struct StartRecord: Codable {
    public var start: Int
    public var nllh: Double?
    public var iterations: Int
    public var function_evaluations: Int
    public var gradient_evaluations: Int
    public var exit_reason: String
    public var converged: Bool
    public var seconds: Double
    public var start_point: [Double]
    public var x: [Double]
  }

  public static func document(
    problem: String, fit: MultiStartFit, result: MultiStartFit.Result, sensitivities: PEtabObjective.SensitivityMethod
  ) -> Document? {
    guard let best = result.best else { return nil }
    let ids = result.parameterIDs
    return Document(
      problem: problem, optimizer: fit.optimizer.rawValue, hessian: fit.hessian.rawValue, sensitivities: sensitivities.rawValue,
      inner_parameters: result.innerParameters, seed: fit.seed, starts_requested: fit.starts,
      best_llh: -best.nllh, best_nllh: best.nllh, starts_at_best: result.reached(),
      parameters: Dictionary(uniqueKeysWithValues: ids.indices.map { (ids[$0], result.scales[$0].invert(best.x[$0])) }),
      parameters_on_scale: Dictionary(uniqueKeysWithValues: ids.indices.map { (ids[$0], best.x[$0]) }),
      parameter_order: ids,
      scales: Dictionary(uniqueKeysWithValues: ids.indices.map { (ids[$0], result.scales[$0].rawValue) }),
      lower_bounds: Dictionary(uniqueKeysWithValues: ids.indices.map { (ids[$0], result.lower[$0]) }),
      upper_bounds: Dictionary(uniqueKeysWithValues: ids.indices.map { (ids[$0], result.upper[$0]) }),
      starts: result.starts.map { s in
        StartRecord(
          start: s.index, nllh: s.nllh.isFinite ? s.nllh : nil, iterations: s.iterations,
          function_evaluations: s.functionEvaluations, gradient_evaluations: s.gradientEvaluations,
          exit_reason: s.exitReason, converged: s.converged, seconds: s.seconds, start_point: s.startPoint, x: s.x)
      })
  }

  public static func read(_ path: String) throws -> Document {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw PEtabError(file: path, "cannot be read") }
    do { return try JSONDecoder().decode(Document.self, from: data) } catch {
      throw PEtabError(file: path, "is not a fit.json written by cartsim fit (\(error))")
    }
  }

  /// The best parameters of `doc` (read from `path`) on the scale of `objective`, in its order.
  /// - Throws: ``PEtabError`` naming the parameter when `doc` is a fit of another problem.
  public static func optimum(_ doc: Document, from path: String, for objective: PEtabObjective) throws -> [Double] {
    try objective.parameterIDs.map { id in
      guard let v = doc.parameters_on_scale[id] else {
        throw PEtabError(file: path, "parameters_on_scale has no value for '\(id)' (a fit of another problem?)")
      }
      return v
    }
  }

  /// The parameter table with the estimates as nominal values (other columns unchanged).
  public static func parameterTable(_ problem: PEtabProblem, estimates: [String: Double]) -> String {
    let cols = ["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"]
    var out = CSV.row(cols, delimiter: "\t") + "\n"
    for p in problem.parameters {
      let v = estimates[p.id] ?? p.nominal
      out +=
        CSV.row(
          [
            p.id, p.scale.rawValue, PEtabProblem.format(p.lower), PEtabProblem.format(p.upper), PEtabProblem.format(v),
            p.estimate ? "1" : "0",
          ], delimiter: "\t") + "\n"
    }
    return out
  }

  /// Final objective of every start, sorted (pyPESTO's waterfall plot): `nllh − best + 1`
  /// on a log axis, with the 0.01 band of the best marked.
  public static func waterfall(_ result: MultiStartFit.Result, title: String) -> String {
    let values = result.starts.map(\.nllh).filter(\.isFinite).sorted()
    guard let best = values.first else { return "" }
    var plot = LinePlot(title: "Waterfall: \(title)", xLabel: "start (sorted by final objective)", yLabel: "nllh − best + 1", logY: true)
    // From the best start (1) up to the worst: the best ones are the point of the plot.
    plot.logSpanDecades = max(2, log10((values.last ?? best) - best + 1).rounded(.up) + 1)
    plot.wholeX = true
    let xs = values.indices.map { Double($0 + 1) }
    plot.series = [
      LinePlot.Series(name: "final nllh of each start", x: xs, y: values.map { $0 - best + 1 }, color: "#1f5fa8", points: true),
      LinePlot.Series(name: "", x: xs, y: values.map { $0 - best + 1 }, color: "#9db7d5"),
    ]
    plot.references = [LinePlot.Reference(y: 1.01, label: "best + 0.01", color: "#2a8a2a")]
    return plot.svg()
  }

  /// The estimates of the best starts, each parameter on its own row between its bounds.
  public static func parameterPlot(_ result: MultiStartFit.Result, title: String, best count: Int = 10) -> String {
    let ranked = result.starts.filter { $0.nllh.isFinite }.sorted { $0.nllh < $1.nllh }.prefix(count)
    let ids = result.parameterIDs
    let rowH = 26.0, left = 200.0, right = 40.0, top = 60.0
    let width = 860.0, height = top + rowH * Double(ids.count) + 60
    let pw = width - left - right
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    var s =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
      "<text x=\"20\" y=\"26\" font-size=\"16\" font-weight=\"bold\">\(LinePlot.escape("Estimates of the \(ranked.count) best starts: \(title)"))</text>\n"
    s +=
      "<text x=\"20\" y=\"46\" fill=\"#555\">Each row spans the parameter's bounds on its scale; the best start in red, the others in blue.</text>\n"
    for (k, id) in ids.enumerated() {
      let y = top + rowH * Double(k) + rowH / 2
      s +=
        "<text x=\"\(f(left - 10))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(LinePlot.escape(id)) (\(result.scales[k].rawValue))</text>\n"
      s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#ccc\"/>\n"
      let lo = result.lower[k], hi = result.upper[k]
      for (r, st) in ranked.enumerated().reversed() {
        let xx = left + (st.x[k] - lo) / max(hi - lo, 1e-300) * pw
        s +=
          "<circle cx=\"\(f(xx))\" cy=\"\(f(y))\" r=\"\(r == 0 ? 5 : 3.5)\" fill=\"\(r == 0 ? "#c0392b" : "#1f5fa8")\" fill-opacity=\"\(r == 0 ? 1 : 0.5)\"/>\n"
      }
    }
    let yb = top + rowH * Double(ids.count) + 20
    s +=
      "<text x=\"\(f(left))\" y=\"\(f(yb))\">lower bound</text><text x=\"\(f(left + pw))\" y=\"\(f(yb))\" text-anchor=\"end\">upper bound</text>\n"
    s += "</svg>\n"
    return s
  }

  /// Data and the fitted simulation of one observable, one curve per condition.
  public static func fitPlots(_ curves: [PEtabObjective.Curve], title: String) -> [(name: String, svg: String)] {
    let palette = ["#1f5fa8", "#c0392b", "#2a8a2a", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b"]
    var out: [(String, String)] = []
    let observables = curves.map(\.observable).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    for o in observables {
      let mine = curves.filter { $0.observable == o }
      var plot = LinePlot(
        title: "\(o): data and fit (\(title))", xLabel: "time (lines: fit; dots: data)", yLabel: o, logY: mine.first?.logScale ?? false)
      if plot.logY {
        let values = mine.flatMap { $0.data + $0.values }.filter { $0 > 0 }
        if let lo = values.min(), let hi = values.max() { plot.logSpanDecades = max(1, (log10(hi) - log10(lo)).rounded(.up) + 1) }
      }
      for (k, c) in curves.filter({ $0.observable == o }).enumerated() {
        let color = palette[k % palette.count]
        let name = (c.preequilibration.map { "\($0) → " } ?? "") + c.condition
        plot.series.append(LinePlot.Series(name: name, x: c.times, y: c.values, color: color))
        plot.series.append(LinePlot.Series(name: "", x: c.dataTimes, y: c.data, color: color, points: true))
      }
      out.append(("fit_\(o).svg", plot.svg()))
    }
    return out
  }

  /// Writes every file into `dir` (each written whole, then moved into place).
  public static func write(
    problem: PEtabProblem, objective: PEtabObjective, fit: MultiStartFit, result: MultiStartFit.Result,
    to dir: String
  ) throws -> Document? {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    func put(_ name: String, _ text: String) throws {
      try text.write(toFile: (dir as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    guard let doc = document(problem: problem.name, fit: fit, result: result, sensitivities: objective.gradientMethod),
      let best = result.best
    else { return nil }
    try put("parameters.tsv", parameterTable(problem, estimates: doc.parameters))
    try put("waterfall.svg", waterfall(result, title: problem.name))
    try put("parameters.svg", parameterPlot(result, title: problem.name))
    for (name, svg) in fitPlots(objective.curves(best.x), title: problem.name) { try put(name, svg) }
    let ev = objective.evaluate(best.x)
    try put("simulations.tsv", problem.simulationTable(ev.simulations))
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try put("fit.json", String(decoding: try enc.encode(doc), as: UTF8.self) + "\n")
    return doc
  }
}
