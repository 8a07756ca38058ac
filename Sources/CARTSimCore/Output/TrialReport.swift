import Foundation
import StatKit

/// One self-contained HTML page with a trial's tables and plots (SVG inlined, no scripts).
public enum TrialReport {
  static func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
  static func pct(_ x: Int, _ n: Int) -> String {
    guard n > 0 else { return "–" }
    let ci = Distributions.clopperPearson(successes: x, trials: n)
    return String(format: "%d/%d = %.1f%% (%.1f–%.1f)", x, n, 100 * Double(x) / Double(n), 100 * ci.lower, 100 * ci.upper)
  }
  static func num(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "–" }
  static func days(_ x: Double?) -> String { x.map { String(format: "%.0f", $0) } ?? "NR" }
  /// The median with its interval ("NR": not reached), or "–" without patients.
  static func median(_ k: KaplanMeier) -> String {
    k.subjects == 0 ? "–" : "\(days(k.median)) (\(days(k.medianLower))–\(days(k.medianUpper)))"
  }

  /// The style of the self-contained reports (trial, calibration).
  static let css = """

    body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
    table { border-collapse: collapse; margin: 12px 0 24px; font-size: 14px; }
    th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
    th:first-child, td:first-child { text-align: left; }
    th { background: #f3f3f3; }
    .plot svg { max-width: 100%; height: auto; }
    .note { color: #555; font-size: 13px; }
    .out { background: #fde2e2; }

    """

  public static func html(_ r: TrialResults, plots: [(String, String)]) -> String {
    let ag = r.aggregate
    let plot = Dictionary(plots, uniquingKeysWith: { a, _ in a })
    var h = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(esc(ag.name)) — CARTSim trial report</title>
      <style>\(css)</style></head><body>
      <h1>\(esc(ag.name))</h1>
      <p class="note">CARTSim virtual trial · spec \(esc(ag.specFile)) · seed \(ag.seed) · \(r.arms.reduce(0) { $0 + $1.patients }) patients · follow-up \(Int(ag.followUpDays)) days ·
      DLT: \(esc(ag.dltDefinition)) · survival model: \(esc(ag.survivalModel)).</p>

      """
    h += "<h2>Arms</h2>\n<table><tr><th>arm</th><th style=\"text-align:left\">regimen</th><th>patients</th><th>solver failures</th></tr>\n"
    for a in r.arms {
      h +=
        "<tr><td>\(esc(a.name))</td><td style=\"text-align:left\">\(esc(a.description))</td><td>\(a.patients)</td><td>\(a.failed)</td></tr>\n"
    }
    h += "</table>\n"

    h +=
      "<h2>Response (RECIST 1.1, confirmed)</h2>\n<table><tr><th>arm</th><th>CR</th><th>PR</th><th>SD</th><th>PD</th><th>NE</th><th>ORR (95% CI)</th><th>DCR (95% CI)</th></tr>\n"
    for a in r.arms {
      h += "<tr><td>\(esc(a.name))</td>" + Response.allCases.map { "<td>\(a.count($0))</td>" }.joined()
      h += "<td>\(pct(a.objectiveResponses, a.succeeded))</td><td>\(pct(a.diseaseControl, a.succeeded))</td></tr>\n"
    }
    h += "</table>\n"

    h += "<h2>Safety</h2>\n<table><tr><th>arm</th><th>CRS 0</th><th>1</th><th>2</th><th>3</th><th>4</th><th>DLT (95% CI)</th></tr>\n"
    for a in r.arms {
      h += "<tr><td>\(esc(a.name))</td>" + a.crsGrades.map { "<td>\($0)</td>" }.joined() + "<td>\(pct(a.dlts, a.succeeded))</td></tr>\n"
    }
    h += "</table>\n"

    if r.arms.contains(where: { !$0.byParticle.isEmpty }) {
      h +=
        "<h2>Rates over the calibration's posterior</h2>\n<p class=\"note\">Each patient's typical parameter values are a particle of the calibration's posterior sample; the spread of the arm's rate over the particles (method of moments, beta distribution's central 95%).</p>\n"
      h += "<table><tr><th>arm</th><th>ORR (95% over the posterior)</th><th>DLT (95% over the posterior)</th></tr>\n"
      for a in r.arms {
        func cell(_ groups: [(n: Int, k: Int)]) -> String {
          guard let u = ParameterUncertainty(groups: groups) else { return "–" }
          return String(format: "%.1f%% (%.1f–%.1f%%)", 100 * u.mean, 100 * u.lower, 100 * u.upper)
        }
        let orr = cell(a.particleGroups.map { ($0.n, $0.responders) }), dlt = cell(a.particleGroups.map { ($0.n, $0.dlts) })
        h += "<tr><td>\(esc(a.name))</td><td>\(orr)</td><td>\(dlt)</td></tr>\n"
      }
      h += "</table>\n"
    }

    h +=
      "<h2>CAR T kinetics</h2>\n<table><tr><th>arm</th><th>Cmax cells/µL, median (5–95%)</th><th>Tmax days, median</th><th>AUC0–28 cells·d/µL, median</th><th>persistence days, median</th></tr>\n"
    for a in r.arms {
      h += "<tr><td>\(esc(a.name))</td><td>\(num(a.cmax.quantile(0.5))) (\(num(a.cmax.quantile(0.05)))–\(num(a.cmax.quantile(0.95))))</td>"
      h += "<td>\(num(a.tmax.quantile(0.5)))</td><td>\(num(a.auc.quantile(0.5)))</td><td>\(num(a.persistence.quantile(0.5)))</td></tr>\n"
    }
    h += "</table>\n"
    h += "<div class=\"plot\">\(plot["car_t_kinetics.svg"] ?? "")</div>\n"

    h +=
      "<h2>Survival</h2>\n<table><tr><th>arm</th><th>PFS events</th><th>median PFS, days (95% CI)</th><th>OS events</th><th>median OS, days (95% CI)</th><th>OS at 12 months</th></tr>\n"
    for a in r.arms {
      let p = KaplanMeier(a.pfs), o = KaplanMeier(a.os)
      h += "<tr><td>\(esc(a.name))</td><td>\(p.totalEvents)</td><td>\(median(p))</td>"
      h +=
        "<td>\(o.totalEvents)</td><td>\(median(o))</td><td>\(o.survival(at: 365.25).map { String(format: "%.1f%%", 100 * $0) } ?? "–")</td></tr>\n"
    }
    h += "</table>\n"
    if r.arms.count >= 2 {
      h += "<table><tr><th>log-rank test</th><th>PFS χ²</th><th>PFS p</th><th>OS χ²</th><th>OS p</th></tr>\n"
      let p = r.logRankTests(\.pfs), o = r.logRankTests(\.os)
      // Arms without patients with results are left out of the test of all arms.
      let compared = p.all.map { "\($0.degreesOfFreedom + 1) arms with results (df \($0.degreesOfFreedom))" } ?? "all arms"
      h +=
        "<tr><td>\(compared)</td><td>\(num(p.all?.statistic))</td><td>\(num(p.all?.pValue))</td><td>\(num(o.all?.statistic))</td><td>\(num(o.all?.pValue))</td></tr>\n"
      for (a, (pa, oa)) in zip(r.arms.indices.dropFirst(), zip(p.versusFirst, o.versusFirst)) {
        h +=
          "<tr><td>\(esc(r.arms[a].name)) vs \(esc(r.arms[0].name))</td><td>\(num(pa?.statistic))</td><td>\(num(pa?.pValue))</td><td>\(num(oa?.statistic))</td><td>\(num(oa?.pValue))</td></tr>\n"
      }
      h += "</table>\n"
    }
    for name in ["km_pfs.svg", "km_os.svg", "waterfall.svg", "spider.svg", "swimmer.svg"] {
      h += "<div class=\"plot\">\(plot[name] ?? "")</div>\n"
    }
    h += "<h2>By arm</h2>\n"
    for a in r.arms {
      let s = TrialPlots.slug(a.name)
      h += "<h3>\(esc(a.name))</h3>\n"
      for p in ["car_t_kinetics_\(s).svg", "waterfall_\(s).svg", "spider_\(s).svg", "swimmer_\(s).svg", "km_\(s).svg"] {
        h += "<div class=\"plot\">\(plot[p] ?? "")</div>\n"
      }
    }
    h +=
      "<p class=\"note\">Files: patients.csv (one row per patient), summary.json, km.csv, plots/*.svg. Percentiles of CAR T levels come from log-binned histograms (20 bins per decade).</p>\n"
    h += "</body></html>\n"
    return h
  }
}
