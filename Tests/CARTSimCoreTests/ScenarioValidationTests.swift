import CARTModels
import CARTSimCore
import Foundation
import TestSupport
import Testing

/// Bad input is refused with the file, the field path and what is wrong.
struct ScenarioValidationTests {
  let valid = """
    {"model": "heros", "car_t": {"dose": 1e8, "number": 2, "interval_days": 42},
     "lymphodepletion": {"mode": "pk", "agents": [{"drug": "fludarabine", "mg_per_m2": 30, "days": [-5, -4, -3]}]},
     "simulation": {"horizon_days": 100}}
    """

  func expectError(_ json: String, path: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
      _ = try parse(json)
      Issue.record("accepted bad input: \(json)", sourceLocation: sourceLocation)
    } catch let e as InputError {
      #expect(e.file == "test.json", sourceLocation: sourceLocation)
      #expect(e.path == path, "path \(e.path) in: \(e)", sourceLocation: sourceLocation)
      #expect(e.message.contains(text), "message: \(e)", sourceLocation: sourceLocation)
      #expect(e.description.hasPrefix("test.json: \(path)"), sourceLocation: sourceLocation)
    } catch {
      Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func validScenarioParses() throws {
    let s = try parse(valid)
    #expect(s.regimen.infusions.map(\.day) == [0, 42])
    #expect(s.regimen.infusions.allSatisfy { $0.lymphodepleted })
    #expect(s.startDay == -5)
    let times = s.outputTimes
    #expect(times.first == -5 && times.last == 100)
  }

  @Test func allExamplesAreValid() throws {
    for name in ["heros1", "heros2-cohortA", "heros2-cohortB", "heros2-cohortC", "heros3"] {
      let s = try Scenario.load(path: example(name))
      try Simulator.check(s, file: name)
    }
  }

  /// The files compiled into the binary are the example files, byte for byte, all of them.
  @Test func embeddedFilesMatchExamples() throws {
    let onDisk = try FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("Examples").path)
      .filter { $0.hasSuffix(".json") }
    #expect(Set(EmbeddedScenarios.files.keys) == Set(onDisk))
    for (name, text) in EmbeddedScenarios.files {
      let file = try String(contentsOfFile: example((name as NSString).deletingPathExtension), encoding: .utf8)
      #expect(text == file, "Examples/\(name) differs from the embedded copy: run python3 Scripts/embed.py")
    }
  }

  /// The generated sources are what Scripts/embed.py writes today from Examples/ and Guides/
  /// (it regenerates them into a temporary folder and compares, file by file).
  @Test func generatedSourcesAreUpToDate() throws {
    let r = try runTool(["python3", "Scripts/embed.py", "--check"])
    #expect(r.status == 0, "\(r.output)")
  }

  @Test func unknownField() {
    expectError(#"{"car_t": {"dose": 1e8, "doze": 2}}"#, path: "car_t.doze", contains: "unknown field")
    expectError(#"{"car_t": {"dose": 1e8}, "horizon": 3}"#, path: "horizon", contains: "unknown field")
  }

  @Test func wrongType() {
    expectError(#"{"car_t": {"dose": "1e8"}}"#, path: "car_t.dose", contains: "expected a number, found a string")
    expectError(#"{"car_t": {"dose": 1e8}, "patient": {"weight_kg": true}}"#, path: "patient.weight_kg", contains: "found a boolean")
    expectError(#"{"car_t": {"dose": 1e8}, "patient": []}"#, path: "patient", contains: "expected an object")
  }

  @Test func negativeOrMissingDose() {
    expectError(#"{"car_t": {"dose": -1e8}}"#, path: "car_t.dose", contains: "must be > 0")
    expectError(#"{"car_t": {"dose": 0}}"#, path: "car_t.dose", contains: "must be > 0")
    expectError(#"{"car_t": {}}"#, path: "car_t.dose", contains: "is required")
    expectError(#"{"model": "heros"}"#, path: "car_t", contains: "is required")
  }

  @Test func infusionDuringLymphodepletion() {
    let json = """
      {"car_t": {"dose": 1e8, "days": [0, 4]},
       "lymphodepletion": {"agents": [{"drug": "fludarabine", "mg_per_m2": 30, "days": [-5, -4]}]}}
      """
    expectError(json, path: "car_t.days[0]", contains: "falls during the lymphodepletion")
    let late = """
      {"car_t": {"dose": 1e8},
       "lymphodepletion": {"agents": [{"drug": "fludarabine", "mg_per_m2": 30, "days": [-2, 0]}]}}
      """
    expectError(late, path: "lymphodepletion.agents[0].days[1]", contains: "not before the infusion")
  }

  @Test func badHorizon() {
    expectError(#"{"car_t": {"dose": 1e8}, "simulation": {"horizon_days": 0}}"#, path: "simulation.horizon_days", contains: "must be > 0")
    expectError(#"{"car_t": {"dose": 1e8}, "simulation": {"horizon_days": -30}}"#, path: "simulation.horizon_days", contains: "must be > 0")
    expectError(
      #"{"car_t": {"dose": 1e8, "first_day": 400}, "simulation": {"horizon_days": 100}}"#, path: "car_t.days[0]",
      contains: "after the horizon")
  }

  @Test func unknownModelOrParameter() {
    expectError(#"{"model": "herros", "car_t": {"dose": 1e8}}"#, path: "model", contains: "unknown value 'herros'")
    expectError(#"{"car_t": {"dose": 1e8}, "parameters": {"K_CC": 1}}"#, path: "parameters.K_CC", contains: "did you mean 'K_C'")
    expectError(#"{"car_t": {"dose": 1e8}, "parameters": {"r_N": -0.1}}"#, path: "parameters.r_N", contains: "must be ≥ 0")
  }

  @Test func malformedOrUnreadable() {
    expectError(#"{"car_t": {"dose": 1e8}"#, path: "", contains: "not valid JSON")
    // Where: the second comma on line 2.
    expectError("{\"car_t\": {\"dose\": 1e8},\n  \"model\": \"heros\",,\n}", path: "", contains: "line 2, column 20")
    do {
      _ = try Scenario.load(path: "/nonexistent/scenario.json")
      Issue.record("read a missing file")
    } catch let e as InputError {
      #expect(e.file == "/nonexistent/scenario.json")
      #expect(e.message.contains("cannot read"))
    } catch { Issue.record("\(error)") }
  }
}
