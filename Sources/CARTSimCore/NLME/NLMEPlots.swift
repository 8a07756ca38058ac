import Foundation
import NLME

/// The goodness-of-fit plots pharmacometricians read after a population fit: DV against PRED
/// and IPRED with the line of identity, CWRES against TIME and PRED with zero and ±2, the
/// individual fits (DV points, IPRED and PRED lines) and each ETA against each covariate.
public enum NLMEPlots {
  public static func diagnostics(problem: NLMEProblem, fit: NLMEFitResult, diagnostics d: Diagnostics) -> [(String, String)] {
    let kept = d.rows.filter { !$0.censored }
    let time = kept.map { problem.data.subjects[$0.subject].records[$0.record].time }
    func scatter(_ title: String, _ xLabel: String, _ yLabel: String, x: [Double], y: [Double], identity: Bool) -> String {
      var plot = LinePlot(title: title, xLabel: xLabel, yLabel: yLabel)
      plot.series = [LinePlot.Series(name: "observations", x: x, y: y, color: "#1f5fa8", points: true)]
      if identity {
        let hi = max(x.max() ?? 1, y.max() ?? 1)
        plot.series.append(LinePlot.Series(name: "identity", x: [0, hi], y: [0, hi], color: "#b33", dashed: true))
      } else {
        plot.references = [
          .init(y: 0, label: "0", color: "#555"), .init(y: 2, label: "+2", color: "#b33"), .init(y: -2, label: "−2", color: "#b33"),
        ]
      }
      return plot.svg()
    }
    var out: [(String, String)] = [
      ("dv_vs_pred.svg", scatter("DV against PRED", "PRED", "DV", x: kept.map(\.pred), y: kept.map(\.dv), identity: true)),
      ("dv_vs_ipred.svg", scatter("DV against IPRED", "IPRED", "DV", x: kept.map(\.ipred), y: kept.map(\.dv), identity: true)),
      ("cwres_vs_time.svg", scatter("CWRES against TIME", "TIME", "CWRES", x: time, y: kept.map(\.cwres), identity: false)),
      ("cwres_vs_pred.svg", scatter("CWRES against PRED", "PRED", "CWRES", x: kept.map(\.pred), y: kept.map(\.cwres), identity: false)),
    ]
    out.append(("individual_fits.svg", individualFits(problem, d)))
    if let etas = etaCovariates(problem, fit) { out.append(("eta_vs_covariates.svg", etas)) }
    return out
  }

  /// Up to 36 subjects, 6 panels a row.
  static func individualFits(_ problem: NLMEProblem, _ d: Diagnostics) -> String {
    var bySubject: [Int: [Diagnostics.Row]] = [:]
    for r in d.rows { bySubject[r.subject, default: []].append(r) }
    let shown = bySubject.keys.sorted().prefix(36)
    let panels = shown.map { i -> String in
      let rows = bySubject[i] ?? []
      let s = problem.data.subjects[i]
      let t = rows.map { s.records[$0.record].time }
      var plot = LinePlot(title: "ID \(NLMETablesFormat.id(s.id))", xLabel: "TIME", yLabel: "DV")
      plot.width = 300
      plot.height = 240
      let observed = rows.indices.filter { !rows[$0].censored }
      let censored = rows.indices.filter { rows[$0].censored }
      plot.series = [
        LinePlot.Series(name: "", x: observed.map { t[$0] }, y: observed.map { rows[$0].dv }, color: "#1f5fa8", points: true),
        LinePlot.Series(name: "", x: t, y: rows.map(\.ipred), color: "#b33"),
        LinePlot.Series(name: "", x: t, y: rows.map(\.pred), color: "#888", dashed: true),
      ]
      if !censored.isEmpty {
        plot.series.append(
          LinePlot.Series(name: "", x: censored.map { t[$0] }, y: censored.map { rows[$0].dv }, color: "#e08a00", points: true))
      }
      return plot.svg()
    }
    let title =
      "Individual fits (\(shown.count) of \(bySubject.count) subjects): DV points, IPRED red, PRED grey dashed"
      + (d.rows.contains(where: \.censored) ? ", below the limit orange (drawn at the limit)" : "")
    return grid(panels, columns: 6, panelWidth: 300, panelHeight: 240, title: title)
  }

  /// Each ETA against each covariate (data items other than NONMEM's reserved ones, taken at
  /// the subject's first record).
  static func etaCovariates(_ problem: NLMEProblem, _ fit: NLMEFitResult) -> String? {
    let reserved: Set<String> = ["ID", "TIME", "DV", "AMT", "EVID", "MDV", "CMT", "RATE", "II", "ADDL", "SS", "CENS", "BLQ", "LLOQ", "LOQ"]
    let covariates = problem.data.items.enumerated().filter { item in
      !reserved.contains(item.element)
        && Set(problem.data.subjects.compactMap { $0.records.first?.values[item.offset] }).count > 1
    }
    let nEta = problem.stream.etaCount
    guard nEta > 0, !covariates.isEmpty else { return nil }
    var panels: [String] = []
    for k in 0..<nEta {
      for c in covariates {
        let x = problem.data.subjects.map { $0.records.first?.values[c.offset] ?? .nan }
        let y = fit.individuals.map { $0.count == nEta ? $0[k] : .nan }
        var plot = LinePlot(title: "ETA\(k + 1) vs \(c.element)", xLabel: c.element, yLabel: "ETA\(k + 1)")
        plot.width = 300
        plot.height = 240
        plot.series = [LinePlot.Series(name: "", x: x, y: y, color: "#1f5fa8", points: true)]
        plot.references = [.init(y: 0, label: "", color: "#888")]
        panels.append(plot.svg())
      }
    }
    return grid(
      panels, columns: min(4, panels.count), panelWidth: 300, panelHeight: 240, title: "Conditional modes of the ETAs against covariates")
  }

  /// Panels (whole SVG documents) laid out in a grid under a title.
  static func grid(_ panels: [String], columns: Int, panelWidth: Double, panelHeight: Double, title: String) -> String {
    let rows = (panels.count + columns - 1) / max(columns, 1)
    let width = Double(columns) * panelWidth
    let height = 40 + Double(rows) * panelHeight
    var s =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s += "<text x=\"12\" y=\"26\" font-size=\"16\" font-weight=\"bold\">\(LinePlot.escape(title))</text>\n"
    for (k, panel) in panels.enumerated() {
      let x = Double(k % columns) * panelWidth
      let y = 40 + Double(k / columns) * panelHeight
      s += panel.replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", with: "<svg x=\"\(Int(x))\" y=\"\(Int(y))\" ")
    }
    return s + "</svg>\n"
  }
}

enum NLMETablesFormat {
  static func id(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
  static func number(_ v: Double) -> String { v.isFinite ? String(format: "%.10g", v) : "." }
}

extension NLMEPlots {
  /// The VPC: observed percentiles (red: median solid, 5th and 95th dashed) over the 95%
  /// intervals of the simulated ones (bands), the observations in grey; and the fraction
  /// below the limit when the data have one.
  public static func vpc(_ v: VPC, title: String) -> [(String, String)] {
    let t = v.bins.map(\.time)
    let label = v.predictionCorrected ? "prediction-corrected DV" : "DV"
    var plot = LinePlot(title: "\(v.predictionCorrected ? "pcVPC" : "VPC"): \(title)", xLabel: "TIME", yLabel: label)
    let colors = ["#1f5fa8", "#b33", "#1f5fa8"]
    for (k, q) in v.percentiles.enumerated() {
      func column(_ c: Int) -> [Double] { v.bins.map { $0.simulated[k][c] ?? .nan } }
      plot.bands.append(LinePlot.Band(x: t, lower: column(0), upper: column(2), color: colors[k % 3]))
      plot.series.append(
        LinePlot.Series(
          name: "observed \(Int((q * 100).rounded()))th percentile", x: t, y: v.bins.map { $0.observed[k] ?? .nan },
          color: "#b33", dashed: q != 0.5))
    }
    let points = v.points.compactMap { p -> (Double, Double)? in
      guard let x = p[0], let y = p[1] else { return nil }
      return (x, y)
    }
    plot.series.insert(LinePlot.Series(name: "", x: points.map(\.0), y: points.map(\.1), color: "#bbbbbb", points: true), at: 0)
    var out = [("vpc.svg", plot.svg())]
    if v.hasLimit {
      var blq = LinePlot(title: "Fraction below the quantification limit: \(title)", xLabel: "TIME", yLabel: "fraction BLQ")
      blq.bands = [
        LinePlot.Band(x: t, lower: v.bins.map { $0.blqSimulated[0] }, upper: v.bins.map { $0.blqSimulated[2] }, color: "#1f5fa8")
      ]
      blq.series = [
        LinePlot.Series(name: "observed", x: t, y: v.bins.map(\.blqObserved), color: "#b33", points: true),
        LinePlot.Series(name: "simulated median (band: 95% interval)", x: t, y: v.bins.map { $0.blqSimulated[1] }, color: "#1f5fa8"),
      ]
      out.append(("vpc_blq.svg", blq.svg()))
    }
    return out
  }
}
