import CARTModels
import Foundation

/// The standard plots of a simulation.
enum Plots {
  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

  static func make(_ r: SimulationResult) -> [(String, String)] {
    var out: [(String, String)] = []
    let t = r.times
    let all = r.plotReferences
    func references(_ series: String) -> [PlotReference] { all.first { $0.series == series }?.lines ?? [] }
    let infusionMarkers = r.scenario.regimen.infusions.enumerated().map {
      LinePlot.Marker(x: $1.day, label: "CAR T \($0 + 1)\($1.lymphodepleted ? " (LD)" : "")", color: "#555")
    }
    if let car = r.series("car_t_blood") {
      var p = LinePlot(
        title: "CAR T cells in blood — \(r.scenario.name)", xLabel: "time since first infusion (days)",
        yLabel: "CAR T cells per µL blood", logY: true)
      p.series = [LinePlot.Series(name: "CAR T cells/µL", x: t, y: car, color: palette[0])]
      p.references = references("car_t_blood")
      p.markers = infusionMarkers
      out.append(("car_t_blood.svg", p.svg()))
    } else if let total = r.series("car_t_total") {
      var p = LinePlot(title: "CAR T cells — \(r.scenario.name)", xLabel: "time (days)", yLabel: "cells", logY: true)
      p.series = [LinePlot.Series(name: "CAR T cells", x: t, y: total, color: palette[0])]
      if let tumour = r.series("tumour_cells") {
        p.series.append(LinePlot.Series(name: "tumour cells", x: t, y: tumour, color: palette[1]))
      }
      p.markers = infusionMarkers
      out.append(("car_t_blood.svg", p.svg()))
    }
    if let sld = r.series("sld"), r.summary.sldBaseline != nil {
      var p = LinePlot(
        title: "Tumour burden (RECIST SLD) — \(r.scenario.name)", xLabel: "time since first infusion (days)",
        yLabel: "sum of longest diameters (mm)")
      p.series = [LinePlot.Series(name: "SLD", x: t, y: sld, color: palette[1])]
      p.references = references("sld")
      p.markers = infusionMarkers
      out.append(("tumour_sld.svg", p.svg()))
    }
    if let il6 = r.series("il6") {
      var p = LinePlot(
        title: "Serum IL-6 — \(r.scenario.name)", xLabel: "time since first infusion (days)",
        yLabel: "IL-6 (pg/mL)", logY: true)
      p.logSpanDecades = 4
      p.series = [LinePlot.Series(name: "IL-6", x: t, y: il6, color: palette[3])]
      p.references = references("il6")
      p.markers = infusionMarkers
      out.append(("il6.svg", p.svg()))
    }
    if let alc = r.series("alc") {
      var p = LinePlot(
        title: "Lymphocytes in blood — \(r.scenario.name)", xLabel: "time since first infusion (days)",
        yLabel: "cells per µL blood", logY: true)
      p.logSpanDecades = 5
      p.series = [LinePlot.Series(name: "all lymphocytes (ALC)", x: t, y: alc, color: palette[2])]
      if let car = r.series("car_t_blood") {
        p.series.append(LinePlot.Series(name: "CAR T cells", x: t, y: car, color: palette[0], dashed: true))
      }
      p.markers = infusionMarkers
      out.append(("lymphocytes.svg", p.svg()))
    }
    return out
  }
}
