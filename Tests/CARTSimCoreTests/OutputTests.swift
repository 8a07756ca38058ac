import CARTSimCore
import Foundation
import ODEKit
import TestSupport
import Testing

@testable import Estimation

struct OutputTests {
  @Test func writesTimecourseSummaryAndPlots() throws {
    let s = try Scenario.load(path: example("heros1"))
    let r = try Simulator.run(s)
    let dir = try temporaryDirectory()
    try ResultWriter.write(r, to: dir)
    let csv = try String(contentsOfFile: dir + "/timecourse.csv", encoding: .utf8).split(separator: "\n")
    #expect(csv[0].hasPrefix("time [d],F1 [mg]"))
    #expect(csv[0].contains("car_t_blood [cells/uL]") && csv[0].contains("sld [mm]") && csv[0].contains("il6 [pg/mL]"))
    #expect(csv.count == r.times.count + 1)
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    for key in [
      "car_t_cmax_cells_per_uL", "car_t_tmax_days", "car_t_auc_0_28", "car_t_persistence_days",
      "sld_best_percent_change", "best_response", "il6_peak_pg_per_mL", "crs_grade", "solver",
    ] {
      #expect(summary[key] != nil, "summary.json lacks \(key)")
    }
    let solver = summary["solver"] as! [String: Any]
    #expect(solver["return_code"] as? String == "Success")
    #expect((solver["rhs_evaluations"] as? Int ?? 0) > 0)
    #expect(summary["status"] as? String == "complete")
    for plot in ["car_t_blood.svg", "tumour_sld.svg", "il6.svg"] {
      let svg = try String(contentsOfFile: dir + "/plots/" + plot, encoding: .utf8)
      #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"), "\(plot)")
      #expect(svg.contains("<path d=\"M"), "\(plot) has no curve")
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/summary.json.partial"))
  }

  /// A solver failure writes the partial result and says so; it never looks complete.
  @Test func partialResultIsMarked() throws {
    var s = try Scenario.load(path: example("heros2-cohortB"))
    s.maxSteps = 50
    let r = try Simulator.run(s)
    #expect(r.returnCode == .maxSteps)
    #expect(r.times.count < s.outputTimes.count && !r.times.isEmpty)
    let dir = try temporaryDirectory()
    try ResultWriter.write(r, to: dir)
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    #expect((summary["status"] as! String).hasPrefix("failed"))
    #expect((summary["solver"] as! [String: Any])["return_code"] as? String == "MaxSteps")
  }

  /// The summary follows its definitions on the time course it came from.
  @Test func summaryMatchesTimecourse() throws {
    let r = try Simulator.run(try Scenario.load(path: example("heros2-cohortB")))
    let car = r.series("car_t_blood")!
    let window = r.times.indices.filter { r.times[$0] >= 0 && r.times[$0] <= 28 }
    let cmax = window.map { car[$0] }.max()!
    #expect(r.summary.carTCmax == cmax)
    #expect(car[window.first { car[$0] == cmax }!] == cmax)
    var auc = 0.0
    for i in window.dropLast() { auc += 0.5 * (car[i] + car[i + 1]) * (r.times[i + 1] - r.times[i]) }
    #expect(abs(r.summary.carTAUC028! - auc) < 1e-9 * auc)
    #expect(r.summary.il6Peak == r.series("il6")!.max())
  }

  @Test func niceSVGForLogAxisWithZeros() {
    var p = LinePlot(title: "t", xLabel: "x", yLabel: "y", logY: true)
    p.series = [LinePlot.Series(name: "s", x: [0, 1, 2, 3], y: [0, 10, 1000, 0], color: "#000")]
    let svg = p.svg()
    #expect(svg.contains("M") && !svg.contains("nan") && !svg.contains("inf"))
  }

  @Test("a legend too wide for one row wraps, every entry inside the width, and the picture grows to hold it")
  func legendWraps() throws {
    var p = LinePlot(title: "t", xLabel: "x", yLabel: "y")
    let names = (1...12).map { "condition_step_\($0)_with_a_long_name" }
    p.series = names.map { LinePlot.Series(name: $0, x: [0, 1], y: [0, 1], color: "#000") }
    let svg = p.svg()
    // Each entry's text starts 30 px after its mark and takes about 6.6 px per character.
    for name in names {
      let line = try #require(svg.split(separator: "\n").first { $0.contains(">\(name)</text>") })
      let x = try #require(Double(line.split(separator: "\"")[1]))
      #expect(x + 6.6 * Double(name.count) <= p.width - 24 + 1e-9, "\(name) ends at \(x + 6.6 * Double(name.count))")
    }
    let rows = Set(
      svg.split(separator: "\n").filter { $0.contains("</text>") && $0.contains("condition_step_") }.map { $0.split(separator: "\"")[3] })
    #expect(rows.count > 1)
    #expect(svg.contains("height=\"\(Int(p.height) + 18 * (rows.count - 1))\""))
    // One short entry: one row, the picture's own height.
    p.series = [LinePlot.Series(name: "s", x: [0, 1], y: [0, 1], color: "#000")]
    #expect(p.svg().contains("height=\"\(Int(p.height))\""))
  }

  @Test(
    "the fit waterfall's log axis reaches down to the best start (at 1), however far above the worst one lies; its x ticks are whole starts"
  )
  func waterfallShowsTheBest() {
    let starts = [-66.6, -44.1, 1e8].enumerated().map { k, nllh in
      MultiStartFit.Start(
        index: k, startPoint: [0], x: [0], nllh: nllh, iterations: 1, functionEvaluations: 1, gradientEvaluations: 1,
        exitReason: "", converged: true, seconds: 0)
    }
    let result = MultiStartFit.Result(parameterIDs: ["a"], scales: [.lin], lower: [0], upper: [1], starts: starts)
    let svg = FitReport.waterfall(result, title: "t")
    // Tick labels 10⁰ … 10⁹: the best start sits on the lowest, the worst below the highest.
    #expect(svg.contains("10<tspan dy=\"-6\" font-size=\"9\">0</tspan>"))
    #expect(svg.contains("10<tspan dy=\"-6\" font-size=\"9\">9</tspan>"))
    // Starts are counted: whole-number ticks only.
    #expect(svg.contains(">2</text>") && !svg.contains(">1.5</text>") && !svg.contains(">2.5</text>"))
  }
}
