import CARTSimCore
import Foundation
import ODEKit
import TestSupport
import Testing

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
}
