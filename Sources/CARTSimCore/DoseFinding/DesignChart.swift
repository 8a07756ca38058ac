import DoseFinding
import Foundation

/// The dose-finding chart: selection percent per dose (and "none") per design, as SVG.
enum DesignChart {
  static func selection(_ ocs: [OperatingCharacteristics]) -> String {
    let k = ocs[0].pTrue.count, groups = k + 1, colors = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377"]
    let W = 760.0, H = 440.0, left = 70.0, right = 170.0, top = 40.0, bottom = 70.0
    let pw = W - left - right, ph = H - top - bottom, gw = pw / Double(groups)
    let maxPct = max(10, ((ocs.flatMap(\.selectionPercent) + ocs.map(\.stopPercent)).max() ?? 100) / 10).rounded(.up) * 10
    let yMax = min(100, maxPct)
    let f = TextTable.f
    func y(_ v: Double) -> Double { top + ph * (1 - v / yMax) }
    func q(_ x: Double) -> String { "\"\(f(x, 1))\"" }
    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(W))" height="\(Int(H))" font-family="Helvetica, Arial, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(left + pw / 2)" y="22" text-anchor="middle" font-size="14">Selection of each dose as MTD (target \(ocs[0].target))</text>

      """
    // True-MTD marker: shaded band behind that group.
    let mtd = Double(ocs[0].trueMTD)
    s += "<rect x=\(q(left + gw * mtd)) y=\(q(top)) width=\(q(gw)) height=\(q(ph)) fill=\"#eeeeee\"/>\n"
    s += "<text x=\(q(left + gw * (mtd + 0.5))) y=\(q(top - 4)) text-anchor=\"middle\" fill=\"#555\">true MTD</text>\n"
    for t in stride(from: 0.0, through: yMax, by: yMax > 50 ? 20 : 10) {
      s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(y(t))) y2=\(q(y(t))) stroke=\"#ddd\"/>"
      s += "<text x=\(q(left - 6)) y=\(q(y(t) + 4)) text-anchor=\"end\">\(Int(t))</text>\n"
    }
    let bw = gw * 0.8 / Double(ocs.count)
    for (i, oc) in ocs.enumerated() {
      let values = oc.selectionPercent + [oc.stopPercent]
      for (g, v) in values.enumerated() {
        let x = left + gw * Double(g) + gw * 0.1 + bw * Double(i)
        s +=
          "<rect x=\(q(x)) y=\(q(y(v))) width=\(q(bw)) height=\(q(y(0) - y(v))) fill=\"\(colors[i % colors.count])\"><title>\(oc.design) \(g < k ? "dose \(g + 1)" : "no MTD"): \(f(v, 1))%</title></rect>\n"
      }
    }
    for g in 0..<groups {
      let label = g < k ? "\(g + 1)" : "none"
      let p = g < k ? "p=\(f(ocs[0].pTrue[g], 2))" : "stopped"
      s += "<text x=\(q(left + gw * (Double(g) + 0.5))) y=\(q(top + ph + 18)) text-anchor=\"middle\">\(label)</text>"
      s +=
        "<text x=\(q(left + gw * (Double(g) + 0.5))) y=\(q(top + ph + 33)) text-anchor=\"middle\" fill=\"#555\" font-size=\"11\">\(p)</text>\n"
    }
    s += "<line x1=\(q(left)) x2=\(q(left)) y1=\(q(top)) y2=\(q(top + ph)) stroke=\"black\"/>"
    s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(top + ph)) y2=\(q(top + ph)) stroke=\"black\"/>\n"
    s += "<text x=\(q(left + pw / 2)) y=\(q(H - 12)) text-anchor=\"middle\">Dose level</text>\n"
    s += "<text transform=\"translate(20 \(f(top + ph / 2, 1))) rotate(-90)\" text-anchor=\"middle\">Selected as MTD (% of trials)</text>\n"
    for (i, oc) in ocs.enumerated() {
      let ly = top + 10 + 22 * Double(i)
      s += "<rect x=\(q(left + pw + 20)) y=\(q(ly)) width=\"14\" height=\"14\" fill=\"\(colors[i % colors.count])\"/>"
      s += "<text x=\(q(left + pw + 40)) y=\(q(ly + 11))>\(oc.design) (PCS \(f(oc.pcs, 1))%)</text>\n"
    }
    return s + "</svg>\n"
  }
}
