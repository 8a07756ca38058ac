import Foundation
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
    do { _ = try body(); return nil } catch let e as InputError { return e } catch { return nil }
  }

  @Test func hostileNumbersNameTheField() {
    for (simulation, field) in [(#"{"horizon_days": 1e300}"#, "simulation.horizon_days"),
                                (#"{"output_step_days": 1e-300}"#, "simulation.output_step_days"),
                                (#"{"horizon_days": 36000, "output_step_days": 1e-9}"#, "simulation.output_step_days"),
                                (#"{"max_steps": 1e19}"#, "simulation.max_steps"),
                                (#"{"max_steps": 9.3e18}"#, "simulation.max_steps"),
                                (#"{"horizon_days": 1e400}"#, "simulation.horizon_days")] {
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
}
