import Foundation
import StatKit

/// A plotting frame: a rectangle with x and y axes (linear, or log-10 in y), grid, tick labels
/// and axis titles, drawn into an SVG string. The trial plots compose frames.
struct Frame {
  var left: Double, top: Double, width: Double, height: Double
  var x0: Double, x1: Double, y0: Double, y1: Double
  var logY = false

  func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * width }
  /// y in data units (log axes take the value, not its log); values outside are clamped.
  func py(_ y: Double) -> Double {
    var v = y
    if logY { v = Foundation.log10(max(y, Foundation.pow(10, y0))) }
    v = min(max(v, y0), y1)
    return top + height - (v - y0) / (y1 - y0) * height
  }

  func axes(xLabel: String, yLabel: String, xTicks: [Double]? = nil) -> String {
    var s = ""
    let xt = (xTicks ?? LinePlot.niceTicks(x0, x1)).filter { $0 >= x0 - 1e-9 && $0 <= x1 + 1e-9 }
    for v in xt {
      s += "<line x1=\"\(f(px(v)))\" y1=\"\(f(top))\" x2=\"\(f(px(v)))\" y2=\"\(f(top + height))\" stroke=\"#eee\"/>\n"
      s += "<text x=\"\(f(px(v)))\" y=\"\(f(top + height + 16))\" text-anchor=\"middle\">\(LinePlot.label(v))</text>\n"
    }
    let yt: [Double] =
      logY ? Array(stride(from: y0, through: y1, by: 1)) : LinePlot.niceTicks(y0, y1).filter { $0 >= y0 - 1e-9 && $0 <= y1 + 1e-9 }
    for v in yt {
      let yy = top + height - (v - y0) / (y1 - y0) * height
      s += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + width))\" y2=\"\(f(yy))\" stroke=\"#eee\"/>\n"
      if logY {
        s +=
          "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">10<tspan dy=\"-6\" font-size=\"9\">\(Int(v))</tspan></text>\n"
      } else {
        s += "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(LinePlot.label(v))</text>\n"
      }
    }
    s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<text x=\"\(f(left + width / 2))\" y=\"\(f(top + height + 34))\" text-anchor=\"middle\">\(LinePlot.escape(xLabel))</text>\n"
    s +=
      "<text transform=\"translate(\(f(left - 48)),\(f(top + height / 2))) rotate(-90)\" text-anchor=\"middle\">\(LinePlot.escape(yLabel))</text>\n"
    return s
  }

  func hline(_ y: Double, color: String, label: String) -> String {
    let yy = py(y)
    return
      "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + width))\" y2=\"\(f(yy))\" stroke=\"\(color)\" stroke-dasharray=\"6,4\"/>\n"
      + "<text x=\"\(f(left + width - 4))\" y=\"\(f(yy - 4))\" text-anchor=\"end\" fill=\"\(color)\" font-size=\"11\">\(LinePlot.escape(label))</text>\n"
  }
}

func f(_ v: Double) -> String { String(format: "%.1f", v) }

func svgOpen(_ w: Double, _ h: Double, title: String) -> String {
  """
  <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="Helvetica, Arial, sans-serif" font-size="12">
  <rect width="100%" height="100%" fill="white"/>
  <text x="20" y="26" font-size="16" font-weight="bold">\(LinePlot.escape(title))</text>

  """
}

/// Legend entries in a row: (label, colour, kind) with kind "line", "box" or "dashed".
func legend(_ items: [(String, String, String)], x: Double, y: Double, maxWidth: Double = 1000) -> String {
  var s = "", lx = x, ly = y
  for (label, color, kind) in items {
    // The swatch, 6 px to its label, then 18 px to the next item: a label stays with its own swatch.
    let swatch = kind == "box" ? 14.0 : kind == "none" ? 0 : 24
    let textX = swatch > 0 ? swatch + 6 : 0
    let w = textX + Double(label.count) * 6.6 + 18
    if lx + w > x + maxWidth {
      lx = x
      ly += 18
    }
    switch kind {
    case "box": s += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 10))\" width=\"14\" height=\"10\" fill=\"\(color)\"/>\n"
    case "none": break
    default:
      let dash = kind == "dashed" ? " stroke-dasharray=\"6,4\"" : ""
      s +=
        "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
    }
    s += "<text x=\"\(f(lx + textX))\" y=\"\(f(ly))\">\(LinePlot.escape(label))</text>\n"
    lx += w
  }
  return s
}

/// The plots of a trial report: CAR T kinetics bands, waterfall, spider, swimmer and
/// Kaplan–Meier curves, for each arm and overlaid across arms.
public enum TrialPlots {
  static let armColors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
  static let responseColors: [Response: String] = [.CR: "#1a7f37", .PR: "#66bb6a", .SD: "#f2b233", .PD: "#d62728", .NE: "#999999"]

  static func color(_ arm: Int) -> String { armColors[arm % armColors.count] }

  /// File-name form of an arm name.
  public static func slug(_ name: String) -> String {
    let s = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
    return String(s).split(separator: "-").joined(separator: "-")
  }

  /// (file name, SVG) for every plot.
  public static func make(_ r: TrialResults) -> [(String, String)] {
    var out: [(String, String)] = []
    let all = Array(r.arms.indices)
    out.append(("car_t_kinetics.svg", kinetics(r, arms: all)))
    out.append(("waterfall.svg", waterfallPanels(r)))
    out.append(("spider.svg", spider(r, arms: all)))
    out.append(("swimmer.svg", swimmer(r, arms: all, perArm: 10)))
    out.append(("km_pfs.svg", kaplanMeier(r, arms: all, endpoint: "PFS")))
    out.append(("km_os.svg", kaplanMeier(r, arms: all, endpoint: "OS")))
    for a in all {
      let s = slug(r.arms[a].name)
      out.append(("car_t_kinetics_\(s).svg", kinetics(r, arms: [a])))
      out.append(("waterfall_\(s).svg", waterfall(r, arm: a)))
      out.append(("spider_\(s).svg", spider(r, arms: [a])))
      out.append(("swimmer_\(s).svg", swimmer(r, arms: [a], perArm: TrialAggregate.samplePatients)))
      out.append(("km_\(s).svg", kaplanMeier(r, arms: [a], endpoint: "both")))
    }
    return out
  }

  // MARK: Kinetics

  static func kinetics(_ r: TrialResults, arms: [Int]) -> String {
    let w = 900.0, h = 500.0
    let bands = arms.map { r.kineticsBand(arm: $0) }
    let days = bands.first?.days ?? [0, 1]
    let xMax = min(days.last ?? 1, 180)
    let positives = bands.flatMap { $0.p95 + $0.p50 }.filter { $0 > 0 }
    let hi = Foundation.log10(positives.max() ?? 1).rounded(.up)
    let lo = max(hi - 6, Foundation.log10(max(bands.flatMap(\.p5).filter { $0 > 0 }.min() ?? 1e-3, 1e-6)).rounded(.down))
    let fr = Frame(left: 90, top: 50, width: w - 120, height: h - 165, x0: 0, x1: xMax, y0: lo, y1: max(hi, lo + 1), logY: true)
    let title = arms.count == 1 ? "CAR T cells in blood — \(r.arms[arms[0]].name)" : "CAR T cells in blood: median and 5–95% band"
    var s = svgOpen(w, h, title: title) + fr.axes(xLabel: "days after the first infusion", yLabel: "CAR T cells / µL (log)")
    var items: [(String, String, String)] = []
    for (k, a) in arms.enumerated() {
      let b = bands[k]
      let idx = b.days.indices.filter { b.days[$0] <= xMax }
      let c = arms.count == 1 ? "#1f77b4" : color(a)
      var poly = idx.map { "\(f(fr.px(b.days[$0]))),\(f(fr.py(b.p95[$0])))" }
      poly += idx.reversed().map { "\(f(fr.px(b.days[$0]))),\(f(fr.py(b.p5[$0])))" }
      s += "<polygon points=\"\(poly.joined(separator: " "))\" fill=\"\(c)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
      let line = idx.map { "\(f(fr.px(b.days[$0]))),\(f(fr.py(b.p50[$0])))" }
      s += "<polyline points=\"\(line.joined(separator: " "))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
      items.append(("\(r.arms[a].name) median", c, "line"))
    }
    items.append(("band: 5th–95th percentile of \(r.arms[arms[0]].patients) patients\(arms.count > 1 ? " per arm" : "")", "#bbbbbb", "box"))
    s += legend(items, x: 90, y: h - 56, maxWidth: w - 120)
    return s + "</svg>\n"
  }

  // MARK: Waterfall

  static func waterfallBody(_ r: TrialResults, arm: Int, frame fr: Frame) -> String {
    let bars = r.arms[arm].waterfall.sorted { ($0.change, $0.id) > ($1.change, $1.id) }
    var s = fr.axes(xLabel: "patients (sorted)", yLabel: "best change in SLD from baseline (%)", xTicks: [])
    let bw = fr.width / Double(max(bars.count, 1))
    let zero = fr.py(0)
    for (i, b) in bars.enumerated() {
      let y = fr.py(min(b.change, fr.y1))
      let x = fr.left + Double(i) * bw
      s +=
        "<rect x=\"\(f(x))\" y=\"\(f(min(y, zero)))\" width=\"\(String(format: "%.2f", max(bw * 0.85, 0.3)))\" height=\"\(f(abs(zero - y)))\" fill=\"\(responseColors[b.best]!)\"/>\n"
    }
    s += fr.hline(20, color: "#d62728", label: "+20%")
    s += fr.hline(-30, color: "#1a7f37", label: "−30%")
    return s
  }

  static func waterfall(_ r: TrialResults, arm: Int) -> String {
    let w = 900.0, h = 480.0
    let n = r.arms[arm].waterfall.count
    let fr = Frame(left: 90, top: 50, width: w - 120, height: h - 130, x0: 0, x1: 1, y0: -100, y1: 100)
    var s = svgOpen(w, h, title: "Best change in tumour size — \(r.arms[arm].name) (\(n) patients)")
    s += waterfallBody(r, arm: arm, frame: fr)
    s += legend(Response.allCases.map { ($0.rawValue, responseColors[$0]!, "box") }, x: 90, y: h - 30)
    return s + "</svg>\n"
  }

  static func waterfallPanels(_ r: TrialResults) -> String {
    let cols = min(2, r.arms.count), rows = (r.arms.count + cols - 1) / cols
    let pw = 520.0, ph = 320.0, w = Double(cols) * pw, h = Double(rows) * ph + 70
    var s = svgOpen(w, h, title: "Best change in tumour size by arm (waterfall)")
    for a in r.arms.indices {
      let cx = Double(a % cols) * pw, cy = 40 + Double(a / cols) * ph
      let fr = Frame(left: cx + 80, top: cy + 24, width: pw - 100, height: ph - 80, x0: 0, x1: 1, y0: -100, y1: 100)
      s += "<text x=\"\(f(cx + 80))\" y=\"\(f(cy + 18))\" font-weight=\"bold\">\(LinePlot.escape(r.arms[a].name))</text>\n"
      s += waterfallBody(r, arm: a, frame: fr)
    }
    s += legend(Response.allCases.map { ($0.rawValue, responseColors[$0]!, "box") }, x: 80, y: h - 14)
    return s + "</svg>\n"
  }

  // MARK: Spider

  static func spider(_ r: TrialResults, arms: [Int]) -> String {
    let w = 900.0, h = 500.0
    let xMax = r.aggregate.followUpDays
    let fr = Frame(left: 90, top: 50, width: w - 120, height: h - 165, x0: 0, x1: xMax, y0: -100, y1: 100)
    let perArm = arms.count == 1 ? TrialAggregate.samplePatients : 15
    let title =
      arms.count == 1
      ? "Tumour size over time — \(r.arms[arms[0]].name) (first \(perArm) patients)"
      : "Tumour size over time, first \(perArm) patients per arm"
    var s = svgOpen(w, h, title: title) + fr.axes(xLabel: "days after the first infusion", yLabel: "change in SLD from baseline (%)")
    s += fr.hline(20, color: "#d62728", label: "+20%") + fr.hline(-30, color: "#1a7f37", label: "−30%")
    for a in arms {
      let samples = r.aggregate.samples[a]
      for id in samples.keys.sorted().prefix(perArm) {
        let pts = [(0.0, 0.0, Response.SD)] + samples[id]!
        let best = r.arms[a].swimmers.first { $0.id == id }?.best ?? .NE
        let c = arms.count == 1 ? responseColors[best]! : color(a)
        let line = pts.map { "\(f(fr.px($0.0))),\(f(fr.py(min($0.1, 100))))" }
        s +=
          "<polyline points=\"\(line.joined(separator: " "))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.3\" stroke-opacity=\"0.8\"/>\n"
        if let last = pts.last, last.2 == .PD {
          s += "<circle cx=\"\(f(fr.px(last.0)))\" cy=\"\(f(fr.py(min(last.1, 100))))\" r=\"3\" fill=\"\(c)\"/>\n"
        }
      }
    }
    let items: [(String, String, String)] =
      arms.count == 1
      ? Response.allCases.map { ("best response \($0.rawValue)", responseColors[$0]!, "line") } + [("dot: progression", "#555", "line")]
      : arms.map { (r.arms[$0].name, color($0), "line") }
    s += legend(items, x: 90, y: h - 56, maxWidth: w - 120)
    return s + "</svg>\n"
  }

  // MARK: Swimmer

  static func swimmer(_ r: TrialResults, arms: [Int], perArm: Int) -> String {
    var lanes: [(arm: Int, lane: ArmStatistics.SwimmerLane)] = []
    for a in arms {
      // The first patients by id (a random sample of the arm), longest on study first.
      lanes += r.arms[a].swimmers.filter { $0.id < perArm }.sorted { ($0.days, $0.id) > ($1.days, $1.id) }.map { (a, $0) }
    }
    let laneH = 14.0, w = 900.0
    let h = 150 + Double(max(lanes.count, 1)) * laneH
    let fr = Frame(
      left: 150, top: 50, width: w - 180, height: Double(max(lanes.count, 1)) * laneH, x0: 0, x1: r.aggregate.followUpDays, y0: 0, y1: 1)
    let title = arms.count == 1 ? "Time on study — \(r.arms[arms[0]].name)" : "Time on study by arm (first \(perArm) patients of each)"
    var s = svgOpen(w, h, title: title)
    s += fr.axes(xLabel: "days after the first infusion", yLabel: "", xTicks: nil).replacingOccurrences(
      of: "<text x=\"144.0\"", with: "<text x=\"-999\"")
    for (i, l) in lanes.enumerated() {
      let y = fr.top + Double(i) * laneH + 2
      let c = arms.count == 1 ? responseColors[l.lane.best]! : color(l.arm)
      s +=
        "<text x=\"\(f(fr.left - 6))\" y=\"\(f(y + 10))\" text-anchor=\"end\" font-size=\"10\">\(arms.count == 1 ? "" : LinePlot.escape(String(r.arms[l.arm].name.prefix(24))) + " ")#\(l.lane.id)</text>\n"
      s +=
        "<rect x=\"\(f(fr.px(0)))\" y=\"\(f(y))\" width=\"\(f(fr.px(l.lane.days) - fr.px(0)))\" height=\"\(f(laneH - 4))\" fill=\"\(c)\" fill-opacity=\"0.75\"/>\n"
      if let d = l.lane.responseDay {
        s +=
          "<polygon points=\"\(f(fr.px(d))),\(f(y - 1)) \(f(fr.px(d) - 4)),\(f(y + laneH - 3)) \(f(fr.px(d) + 4)),\(f(y + laneH - 3))\" fill=\"#0b3d91\"/>\n"
      }
      if let d = l.lane.progressionDay, d <= l.lane.days {
        s +=
          "<text x=\"\(f(fr.px(d)))\" y=\"\(f(y + 10))\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\" fill=\"black\">×</text>\n"
      }
      let endX = fr.px(l.lane.days)
      if l.lane.died {
        s += "<rect x=\"\(f(endX - 2))\" y=\"\(f(y - 1))\" width=\"4\" height=\"\(f(laneH - 2))\" fill=\"black\"/>\n"
      } else {
        s +=
          "<polygon points=\"\(f(endX + 1)),\(f(y)) \(f(endX + 8)),\(f(y + (laneH - 4) / 2)) \(f(endX + 1)),\(f(y + laneH - 4))\" fill=\"#555\"/>\n"
      }
    }
    var items: [(String, String, String)] =
      arms.count == 1
      ? Response.allCases.map { ("best \($0.rawValue)", responseColors[$0]!, "box") }
      : arms.map { (r.arms[$0].name, color($0), "box") }
    items += [
      ("▲ response", "#0b3d91", "none"), ("× progression", "#000", "none"), ("▮ death", "#000", "none"),
      ("▶ alive at last follow-up", "#555", "none"),
    ]
    s += legend(items, x: 150, y: h - 40, maxWidth: w - 180)
    return s + "</svg>\n"
  }

  // MARK: Kaplan–Meier

  static func kaplanMeier(_ r: TrialResults, arms: [Int], endpoint: String) -> String {
    var curves: [(label: String, color: String, dashed: Bool, km: KaplanMeier)] = []
    for a in arms {
      if endpoint == "PFS" || endpoint == "both" {
        curves.append((arms.count == 1 ? "PFS" : r.arms[a].name, arms.count == 1 ? "#1f77b4" : color(a), false, KaplanMeier(r.arms[a].pfs)))
      }
      if endpoint == "OS" || endpoint == "both" {
        curves.append((arms.count == 1 ? "OS" : r.arms[a].name, arms.count == 1 ? "#d62728" : color(a), false, KaplanMeier(r.arms[a].os)))
      }
    }
    let w = 900.0, tableH = 22.0 * Double(curves.count) + 20, h = 50 + 330 + 84 + tableH
    let xMax = r.aggregate.followUpDays
    let ticks = LinePlot.niceTicks(0, xMax).filter { $0 <= xMax }
    let fr = Frame(left: 180, top: 50, width: w - 210, height: 330, x0: 0, x1: xMax, y0: 0, y1: 1)
    let name =
      endpoint == "both"
      ? "Progression-free and overall survival — \(r.arms[arms[0]].name)"
      : (endpoint == "PFS" ? "Progression-free survival" : "Overall survival")
    var s = svgOpen(w, h, title: name + " (Kaplan–Meier, 95% CI)")
    s += fr.axes(xLabel: "days after the first infusion", yLabel: "probability", xTicks: ticks)
    for c in curves where c.km.subjects > 0 {
      var band = "", upper: [(Double, Double)] = [], lower: [(Double, Double)] = []
      var line = "M\(f(fr.px(0))) \(f(fr.py(1)))"
      var prevL = 1.0, prevU = 1.0
      for row in c.km.rows where row.time > 0 {
        let x = fr.px(row.time)
        line += " H\(f(x)) V\(f(fr.py(row.survival)))"
        upper += [(row.time, prevU), (row.time, row.upper)]
        lower += [(row.time, prevL), (row.time, row.lower)]
        prevL = row.lower
        prevU = row.upper
      }
      line += " H\(f(fr.px(c.km.rows.last?.time ?? 0)))"
      if !upper.isEmpty {
        let pts = [(0.0, 1.0)] + upper + lower.reversed() + [(0.0, 1.0)]
        band = pts.map { "\(f(fr.px($0.0))),\(f(fr.py($0.1)))" }.joined(separator: " ")
        s += "<polygon points=\"\(band)\" fill=\"\(c.color)\" fill-opacity=\"0.12\" stroke=\"none\"/>\n"
      }
      s += "<path d=\"\(line)\" fill=\"none\" stroke=\"\(c.color)\" stroke-width=\"2\"/>\n"
      // Censoring ticks.
      for row in c.km.rows where row.censored > 0 && row.time > 0 {
        let x = fr.px(row.time), y = fr.py(row.survival)
        s += "<line x1=\"\(f(x))\" y1=\"\(f(y - 4))\" x2=\"\(f(x))\" y2=\"\(f(y + 4))\" stroke=\"\(c.color)\" stroke-width=\"1\"/>\n"
      }
    }
    s += fr.hline(0.5, color: "#888", label: "median")
    // Numbers at risk below the plot, at the x ticks.
    let ty = fr.top + fr.height + 84
    s += "<text x=\"20\" y=\"\(f(ty))\" font-weight=\"bold\">Number at risk</text>\n"
    for (k, c) in curves.enumerated() {
      let y = ty + 20 + Double(k) * 22
      s +=
        "<text x=\"\(f(fr.left - 22))\" y=\"\(f(y))\" text-anchor=\"end\" fill=\"\(c.color)\">\(LinePlot.escape(String(c.label.prefix(20))))</text>\n"
      for t in ticks {
        let n = c.km.rows.first(where: { $0.time >= t })?.atRisk ?? 0
        s += "<text x=\"\(f(fr.px(t)))\" y=\"\(f(y))\" text-anchor=\"middle\">\(n)</text>\n"
      }
    }
    func note(_ k: KaplanMeier) -> String {
      k.subjects == 0 ? " (no patients with results)" : k.median.map { " (median \(Int($0)) d)" } ?? " (median not reached)"
    }
    s += legend(
      curves.map { ($0.label + note($0.km), $0.color, "line") },
      x: fr.left, y: fr.top + fr.height + 58, maxWidth: w - 210)
    return s + "</svg>\n"
  }
}
