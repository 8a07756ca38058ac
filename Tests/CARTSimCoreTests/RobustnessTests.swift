import Foundation
import TestSupport
import Testing

@testable import CARTSimCore

/// Hostile numbers, cut-short files and stale outputs: each gets an error that names the file
/// and the field, and nothing half-written is left under a final name.
@Suite("Robustness") struct RobustnessTests {
  /// The HEROS 2.0 cohort B example with its `simulation` object replaced (as text, so that
  /// numbers beyond a double reach the reader as written).
  func scenario(_ simulation: String) -> Data {
    var s = try! JSONSerialization.jsonObject(with: Data(EmbeddedScenarios.heros2CohortB.utf8)) as! [String: Any]
    s["simulation"] = "SIMULATION"
    let text = String(decoding: try! JSONSerialization.data(withJSONObject: s), as: UTF8.self)
    return Data(text.replacingOccurrences(of: #""SIMULATION""#, with: simulation).utf8)
  }

  func error(_ body: () throws -> Any) -> InputError? {
    do {
      _ = try body()
      return nil
    } catch let e as InputError { return e } catch { return nil }
  }

  @Test func hostileNumbersNameTheField() {
    for (simulation, field) in [
      (#"{"horizon_days": 1e300}"#, "simulation.horizon_days"),
      (#"{"output_step_days": 1e-300}"#, "simulation.output_step_days"),
      (#"{"horizon_days": 36000, "output_step_days": 1e-9}"#, "simulation.output_step_days"),
      (#"{"max_steps": 1e19}"#, "simulation.max_steps"),
      (#"{"max_steps": 9.3e18}"#, "simulation.max_steps"),
      (#"{"horizon_days": 1e400}"#, "simulation.horizon_days"),
    ] {
      let e = error { try Scenario.parse(scenario(simulation), file: "s.json") }
      #expect(e?.file == "s.json" && e?.path == field, "\(simulation): \(String(describing: e))")
    }
    // A number beyond a double is a sentence, not a decoder dump.
    let e = error { try Scenario.parse(scenario(#"{"horizon_days": 1e400}"#), file: "s.json") }
    #expect(e?.message.contains("too large") == true && e?.message.contains("DecodingError") == false)
    // The limits themselves are accepted.
    #expect(error { try Scenario.parse(scenario(#"{"horizon_days": 36525, "output_step_days": 1}"#), file: "s.json") } == nil)
  }

  @Test func limitsCheckCounts() throws {
    #expect(Limits.count(9.3e18, in: 0...Int.max) == nil)
    #expect(Limits.count(.infinity, in: 0...Int.max) == nil)
    #expect(Limits.count(2.5, in: 0...10) == nil)
    #expect(Limits.count(7, in: 0...10) == 7)
    #expect(throws: InputError.self) { try Limits.outputIntervals(span: 1e300, step: 1e-300, field: "f", file: "x") }
    #expect(try Limits.outputIntervals(span: 10, step: 0.5, field: "f", file: "x") == 20)
  }

  /// A shard cut short is refused, naming it, before the merge writes anything.
  @Test func truncatedShardIsRefusedBeforeWriting() throws {
    let (specPath, dir) = try smallTrial(patients: 3)
    let spec = try TrialSpec.load(path: specPath)
    let shards = try (0..<2).map { i -> String in
      var o = TrialRunner.Options()
      o.threads = 1
      o.shard = (i, 2)
      let out = dir + "/shard\(i)"
      try TrialRunner.run(spec, options: o, to: out)
      return out
    }
    let csv = shards[1] + "/patients.csv"
    let text = try String(contentsOfFile: csv, encoding: .utf8)
    let out = dir + "/merged"
    // Cut inside a row, then at a row boundary.
    for cut in [String(text.dropLast(7)), text.split(separator: "\n").dropLast().joined(separator: "\n") + "\n"] {
      try String(cut).write(toFile: csv, atomically: true, encoding: .utf8)
      let e = error { try TrialMerge.merge(shards, to: out) }
      #expect(e?.file == csv, "\(String(describing: e))")
      for f in ["patients.csv", "aggregate.json", "summary.json"] {
        #expect(!FileManager.default.fileExists(atPath: out + "/" + f), "\(f) written by a refused merge")
      }
    }
  }

  /// A new run into an old output folder removes the old results at its start, so the old
  /// `patients.csv` never sits beside the new one's checkpoint.
  @Test func rerunRemovesTheEarlierResults() throws {
    let (specPath, dir) = try smallTrial(patients: 2)
    let spec = try TrialSpec.load(path: specPath)
    var o = TrialRunner.Options()
    o.threads = 1
    try TrialRunner.run(spec, options: o, to: dir + "/out")
    try TrialResults.load(dir: dir + "/out").write(to: dir + "/out")
    o.isCancelled = { true }
    #expect(throws: (any Error).self) { try TrialRunner.run(spec, options: o, to: dir + "/out") }
    for f in ["patients.csv", "summary.json", "aggregate.json", "report.html"] {
      #expect(!FileManager.default.fileExists(atPath: dir + "/out/" + f), "\(f) of the earlier run left in place")
    }
  }

  /// Values inside a regimen that became loop bounds, trapping conversions or infinite doses
  /// (found in review): each refused with its field.
  @Test func hostileRegimensNameTheField() {
    func heros3(_ change: (inout [String: Any]) -> Void) -> Data {
      var s = try! JSONSerialization.jsonObject(with: Data(EmbeddedScenarios.files["heros3.json"]!.utf8)) as! [String: Any]
      change(&s)
      return try! JSONSerialization.data(withJSONObject: s)
    }
    func sub(_ s: inout [String: Any], _ key: String, _ change: (inout [String: Any]) -> Void) {
      var o = s[key] as! [String: Any]
      change(&o)
      s[key] = o
    }
    let cases: [(String, (inout [String: Any]) -> Void)] = [
      ("car_t.lymphodepletion_before[0]", { s in sub(&s, "car_t") { $0["lymphodepletion_before"] = [1e20] } }),
      (
        "lymphodepletion.agents[0].mg_per_m2",
        { s in
          sub(&s, "lymphodepletion") { l in
            var a = l["agents"] as! [[String: Any]]
            a[0]["mg_per_m2"] = 1e308
            l["agents"] = a
          }
        }
      ),
      (
        "lymphodepletion.agents[0].days[0]",
        { s in
          sub(&s, "lymphodepletion") { l in
            var a = l["agents"] as! [[String: Any]]
            a[0]["days"] = [-1e11]
            l["agents"] = a
          }
        }
      ),
      ("checkpoint_inhibitor.dose_mg_per_kg", { s in sub(&s, "checkpoint_inhibitor") { $0["dose_mg_per_kg"] = 1e307 } }),
      ("checkpoint_inhibitor.start_day", { s in sub(&s, "checkpoint_inhibitor") { $0["start_day"] = -1e12 } }),
      ("response.assessment_every_days", { s in sub(&s, "response") { $0["assessment_every_days"] = 1e-300 } }),
      ("car_t.interval_days", { s in sub(&s, "car_t") { $0["interval_days"] = 1e300 } }),
    ]
    for (field, change) in cases {
      let e = error { try Scenario.parse(heros3(change), file: "s.json") }
      #expect(e?.path == field, "\(field): \(String(describing: e))")
    }
  }

  /// Merging into one of the shards is refused before anything is removed.
  @Test func mergeIntoAShardIsRefused() throws {
    let (specPath, dir) = try smallTrial(patients: 2)
    let spec = try TrialSpec.load(path: specPath)
    var o = TrialRunner.Options()
    o.threads = 1
    o.shard = (0, 2)
    try TrialRunner.run(spec, options: o, to: dir + "/s0")
    o.shard = (1, 2)
    try TrialRunner.run(spec, options: o, to: dir + "/s1")
    let e = error { try TrialMerge.merge([dir + "/s0", dir + "/s1"], to: dir + "/./s0") }
    #expect(e?.message.contains("is also a shard") == true)
    #expect(FileManager.default.fileExists(atPath: dir + "/s0/patients.csv"))
  }

  /// A damaged patients.csv or aggregate.json is an error naming the file, not a trap.
  @Test func damagedResultsAreRefused() throws {
    let (specPath, dir) = try smallTrial(patients: 2)
    var o = TrialRunner.Options()
    o.threads = 1
    try TrialRunner.run(try TrialSpec.load(path: specPath), options: o, to: dir + "/out")
    let csv = dir + "/out/patients.csv", agg = dir + "/out/aggregate.json"
    let text = try String(contentsOfFile: csv, encoding: .utf8), json = try String(contentsOfFile: agg, encoding: .utf8)
    let header = text.split(separator: "\n")[0].split(separator: ",").map(String.init)
    let pfs = try #require(header.firstIndex(of: "pfs_days"))
    var rows = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    rows[1][pfs] = "-5"
    try (rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    #expect(error { try TrialResults.load(dir: dir + "/out") }?.path == "line 2, column 'pfs_days'")
    rows[1][pfs] = "nan"
    try (rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    _ = try TrialResults.load(dir: dir + "/out")  // a missing time, as for a failed patient
    try json.replacingOccurrences(of: #""patients": 2"#, with: #""patients": 1e300"#).write(toFile: agg, atomically: true, encoding: .utf8)
    #expect(json.contains(#""patients": 2"#))
    #expect(error { try TrialAggregate.load(path: agg) }?.file == agg)
  }
}
