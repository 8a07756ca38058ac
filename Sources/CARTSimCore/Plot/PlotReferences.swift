import CARTModels
import Foundation

/// A horizontal reference line of a plot: a threshold a reader compares the curve with.
public struct PlotReference: Sendable {
  public var y: Double
  public var label: String
  public var color: String
  public init(y: Double, label: String, color: String = "#b33") {
    self.y = y
    self.label = label
    self.color = color
  }
}

extension SimulationResult {
  /// The reference lines of the standard plots, by series, shared by the SVG files of
  /// `cartsim simulate` and the web app's explorer: the qPCR detection limit in cells/µL
  /// (`car_t_blood`), the RECIST −30% and +20% lines (`sld`), and the IL-6 thresholds of the
  /// CRS proxy (`il6`).
  public var plotReferences: [(series: String, lines: [PlotReference])] {
    var out: [(series: String, lines: [PlotReference])] = []
    // The transgene copies per CAR T cell, from the first point where both are positive.
    if let car = series("car_t_blood"), let copies = series("car_t_transgene"), parameters.contains("qpcr_lod"),
      let ratio = zip(car, copies).first(where: { $0.0 > 0 && $0.1 > 0 })
    {
      let lod = parameters["qpcr_lod"]
      out.append(
        (
          "car_t_blood",
          [
            PlotReference(
              y: lod * ratio.0 / ratio.1,
              label: "qPCR detection limit: \(fmt(lod)) \(lod == 1 ? "copy" : "copies") per µg DNA")
          ]
        ))
    }
    if series("sld") != nil, let base = summary.sldBaseline {
      out.append(
        (
          "sld",
          [
            PlotReference(y: base * 0.7, label: "PR: −30% from baseline", color: "#2ca02c"),
            PlotReference(y: base * 1.2, label: "+20% from baseline", color: "#d62728"),
          ]
        ))
    }
    if series("il6") != nil {
      out.append(
        (
          "il6",
          (1...4).compactMap { k in
            parameters.contains("IL6_grade\(k)")
              ? PlotReference(y: parameters["IL6_grade\(k)"], label: "CRS grade \(k) proxy", color: "#b33") : nil
          }
        ))
    }
    return out
  }
}
