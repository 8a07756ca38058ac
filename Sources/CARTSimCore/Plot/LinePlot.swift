import CARTModels
import Foundation

/// A line chart rendered as a self-contained SVG: linear or log-10 y axis, several
/// series, vertical event markers (infusions) and horizontal reference lines.
public struct LinePlot {
  public struct Series {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public var color: String
    public var dashed: Bool
    /// Drawn as points (data) instead of a line.
    public var points: Bool
    public init(name: String, x: [Double], y: [Double], color: String, dashed: Bool = false, points: Bool = false) {
      self.name = name
      self.x = x
      self.y = y
      self.color = color
      self.dashed = dashed
      self.points = points
    }
  }
  public struct Marker {
    public var x: Double
    public var label: String
    public var color: String
    public init(x: Double, label: String, color: String = "#888") {
      self.x = x
      self.label = label
      self.color = color
    }
  }
  public typealias Reference = PlotReference

  /// A shaded region between two curves (an interval), drawn under the series.
  public struct Band {
    public var x: [Double]
    public var lower: [Double]
    public var upper: [Double]
    public var color: String
    public init(x: [Double], lower: [Double], upper: [Double], color: String) {
      self.x = x
      self.lower = lower
      self.upper = upper
      self.color = color
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var logY: Bool
  public var series: [Series] = []
  public var markers: [Marker] = []
  public var references: [Reference] = []
  public var bands: [Band] = []
  /// Smallest decade shown on a log axis, relative to the largest value.
  public var logSpanDecades: Double = 6
  public var width = 860.0, height = 460.0
  /// Ticks on the x axis only at whole numbers (the x values count something, e.g. starts).
  public var wholeX = false

  public init(title: String, xLabel: String, yLabel: String, logY: Bool = false) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.logY = logY
  }

  // MARK: Rendering

  public func svg() -> String {
    let left = 86.0, right = 24.0, top = 48.0, bottom = 92.0
    let pw = width - left - right, ph = height - top - bottom
    // Legend entries below the plot: (series, x, row), wrapped into rows that fit the width;
    // each row beyond the first adds to the height.
    var legend: [(series: Series, x: Double, row: Int)] = []
    var lx = left, row = 0
    for ser in series where !ser.name.isEmpty {
      let w = 40 + Double(ser.name.count) * 6.6
      if lx > left && lx + w - 10 > width - right {
        row += 1
        lx = left
      }
      legend.append((ser, lx, row))
      lx += w
    }
    let totalHeight = height + 18 * Double(row)
    let xs = series.flatMap(\.x) + bands.flatMap(\.x)
    let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, (xs.min() ?? 0) + 1e-9)
    // The x axis spans the data; ticks are the round values inside it.
    let x0 = xMin, x1 = xMax
    let xt = LinePlot.niceTicks(xMin, xMax).filter {
      $0 >= x0 - 1e-9 * (x1 - x0) && $0 <= x1 + 1e-9 * (x1 - x0) && (!wholeX || $0 == $0.rounded())
    }

    var y0: Double, y1: Double, yt: [Double]
    let ys = (series.flatMap(\.y) + bands.flatMap { $0.lower + $0.upper }).filter(\.isFinite) + references.map(\.y)
    if logY {
      let pos = ys.filter { $0 > 0 }
      let hi = Foundation.log10(pos.max() ?? 1).rounded(.up)
      let lo = max(Foundation.log10(pos.min() ?? 0.1).rounded(.down), hi - logSpanDecades)
      y0 = lo
      y1 = max(hi, lo + 1)
      yt = Array(stride(from: y0, through: y1, by: 1))
    } else {
      let lo = min(ys.min() ?? 0, 0), hi = max(ys.max() ?? 1, lo + 1e-9)
      yt = LinePlot.niceTicks(lo, hi)
      y0 = yt.first!
      y1 = yt.last!
    }
    func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
    func py(_ y: Double) -> Double? {
      let v: Double
      if logY {
        guard y > 0 else { return nil }
        v = Foundation.log10(y)
      } else {
        v = y
      }
      // Values below the axis are not drawn (the curve leaves the plot), never clamped.
      guard v.isFinite, v >= y0 - 1e-9 * (y1 - y0) else { return nil }
      return top + ph - (min(v, y1) - y0) / (y1 - y0) * ph
    }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(totalHeight))" viewBox="0 0 \(Int(width)) \(Int(totalHeight))" font-family="Helvetica, Arial, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(f(left))" y="26" font-size="16" font-weight="bold">\(LinePlot.escape(title))</text>

      """
    // Grid and ticks.
    for v in xt {
      s += "<line x1=\"\(f(px(v)))\" y1=\"\(f(top))\" x2=\"\(f(px(v)))\" y2=\"\(f(top + ph))\" stroke=\"#eee\"/>\n"
      s += "<text x=\"\(f(px(v)))\" y=\"\(f(top + ph + 18))\" text-anchor=\"middle\">\(LinePlot.label(v))</text>\n"
    }
    for v in yt {
      let yy = top + ph - (v - y0) / (y1 - y0) * ph
      s += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + pw))\" y2=\"\(f(yy))\" stroke=\"#eee\"/>\n"
      if logY {
        s +=
          "<text x=\"\(f(left - 8))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">10<tspan dy=\"-6\" font-size=\"9\">\(Int(v))</tspan></text>\n"
      } else {
        s += "<text x=\"\(f(left - 8))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(LinePlot.label(v))</text>\n"
      }
    }
    s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(top + ph + 40))\" text-anchor=\"middle\">\(LinePlot.escape(xLabel))</text>\n"
    s += "<text transform=\"translate(20,\(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(LinePlot.escape(yLabel))</text>\n"
    // Reference lines.
    for r in references {
      guard let yy = py(r.y) else { continue }
      s +=
        "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + pw))\" y2=\"\(f(yy))\" stroke=\"\(r.color)\" stroke-dasharray=\"6,4\"/>\n"
      s +=
        "<text x=\"\(f(left + pw - 4))\" y=\"\(f(yy - 4))\" text-anchor=\"end\" fill=\"\(r.color)\" font-size=\"11\">\(LinePlot.escape(r.label))</text>\n"
    }
    // Event markers.
    for (i, m) in markers.enumerated() where m.x >= x0 && m.x <= x1 {
      let xx = px(m.x)
      s += "<line x1=\"\(f(xx))\" y1=\"\(f(top))\" x2=\"\(f(xx))\" y2=\"\(f(top + ph))\" stroke=\"\(m.color)\" stroke-dasharray=\"2,3\"/>\n"
      s +=
        "<text x=\"\(f(xx + 3))\" y=\"\(f(top + 12 + Double(i % 3) * 12))\" fill=\"\(m.color)\" font-size=\"10\">\(LinePlot.escape(m.label))</text>\n"
    }
    // Bands, then the series over them.
    for b in bands {
      let upper = zip(b.x, b.upper).compactMap { x, y in py(y).map { "\(f(px(x))),\(f($0))" } }
      let lower = zip(b.x, b.lower).reversed().compactMap { x, y in py(y).map { "\(f(px(x))),\(f($0))" } }
      guard upper.count > 1, lower.count > 1 else { continue }
      s += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(b.color)\" fill-opacity=\"0.18\" stroke=\"none\"/>\n"
    }
    // Series: break the path where a value cannot be shown.
    s += "<g clip-path=\"none\">\n"
    for ser in series where ser.points {
      for (x, y) in zip(ser.x, ser.y) {
        guard let yy = py(y) else { continue }
        s += "<circle cx=\"\(f(px(x)))\" cy=\"\(f(yy))\" r=\"3.5\" fill=\"\(ser.color)\" fill-opacity=\"0.75\"/>\n"
      }
    }
    for ser in series where !ser.points {
      var d = "", pen = false
      for (x, y) in zip(ser.x, ser.y) {
        guard let yy = py(y) else {
          pen = false
          continue
        }
        d += (pen ? "L" : "M") + f(px(x)) + " " + f(yy) + " "
        pen = true
      }
      let dash = ser.dashed ? " stroke-dasharray=\"7,4\"" : ""
      s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash)/>\n"
    }
    s += "</g>\n"
    // Legend below the plot.
    for (ser, lx, row) in legend {
      let ly = height - 22 + 18 * Double(row)
      let dash = ser.dashed ? " stroke-dasharray=\"7,4\"" : ""
      if ser.points {
        s += "<circle cx=\"\(f(lx + 12))\" cy=\"\(f(ly - 4))\" r=\"3.5\" fill=\"\(ser.color)\"/>\n"
      } else {
        s +=
          "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly - 4))\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash)/>\n"
      }
      s += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly))\">\(LinePlot.escape(ser.name))</text>\n"
    }
    s += "</svg>\n"
    return s
  }

  /// Round tick values covering `[lo, hi]` (steps of 1, 2 or 5 × 10ᵏ).
  static func niceTicks(_ lo: Double, _ hi: Double, target: Int = 7) -> [Double] {
    let span = max(hi - lo, 1e-12)
    let raw = span / Double(target)
    let mag = pow(10, (Foundation.log10(raw)).rounded(.down))
    let step = [1.0, 2, 5, 10].map { $0 * mag }.first { span / $0 <= Double(target) } ?? 10 * mag
    let start = (lo / step).rounded(.down) * step, end = (hi / step).rounded(.up) * step
    return Array(stride(from: start, through: end + step * 1e-9, by: step))
  }

  static func label(_ v: Double) -> String {
    if v == 0 { return "0" }
    if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
    return formatNumber((v * 1e6).rounded() / 1e6)
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
}
