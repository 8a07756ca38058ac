import CARTSimCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CARTSimServer

@Suite("Trials and the run store") struct TrialAPITests {
  /// Waits for a run to leave queued/running in this process and returns its record.
  func finish(_ server: CARTSimServer, _ id: String) async throws -> RunRecord {
    await server.jobs.wait(id)
    return try #require(try server.store.run(id))
  }

  @Test func trialLifecycle() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    let spec = try tinyTrial()
    try await server.makeApplication().test(.router) { client in
      let started = try await client.post("/api/trials?source=test", spec)
      #expect(started.status == .accepted)
      let id = try #require(started.json["id"] as? String)
      #expect(started.headers[.location] == "/api/trials/\(id)")
      #expect(["queued", "running"].contains(started.json["status"] as? String))

      let run = try await finish(server, id)
      #expect(run.status == .complete, "\(run.message ?? "")")
      let status = try await client.get("/api/trials/\(id)")
      #expect(status.json["status"] as? String == "complete")
      let progress = status.json["progress"] as? [String: Any] ?? [:]
      #expect(progress["patients_done"] as? Int == 20 && progress["patients_total"] as? Int == 20)
      let summary = try #require(status.json["summary"] as? [String: Any])
      #expect((summary["arms"] as? [Any])?.count == 5)

      let csv = try await client.get("/api/trials/\(id)/patients.csv")
      #expect(csv.status == .ok)
      #expect(csv.text.split(separator: "\n").count == 21)
      // Identical to the command line's run of the same spec.
      let dir = tempDataDir("cli")
      let parsed = try SpecParsing.trialSpec(Data(spec.utf8), file: "spec.json")
      var o = TrialRunner.Options()
      o.threads = 1
      try TrialRunner.run(parsed, options: o, to: dir)
      #expect(csv.text == (try String(contentsOfFile: dir + "/patients.csv", encoding: .utf8)))

      #expect(try await client.get("/api/trials/\(id)/report.html").text.contains("<svg"))
      #expect(try await client.get("/api/trials/\(id)/km.csv").status == .ok)
      #expect(try await client.get("/api/trials/\(id)/summary.json").status == .ok)
      #expect(try await client.get("/api/trials/\(id)/plots/km_os.svg").status == .ok)
      #expect(try await client.get("/api/trials/\(id)/plots/..%2F..%2Fcartsim.sqlite").status == .notFound)
      #expect(try await client.get("/api/trials/\(id)/spec").text == spec, "the spec is kept exactly as sent")
      #expect(try await client.get("/trials/\(id)").status == .ok)

      let list = try await client.get("/api/trials")
      #expect((list.json["trials"] as? [[String: Any]])?.first?["id"] as? String == id)

      // A complete run cannot be resumed; it can be rerun (same spec, new id, same patients).
      #expect(try await client.post("/api/trials/\(id)/resume", "").status == .conflict)
      let rerun = try await client.post("/api/trials/\(id)/rerun", "")
      #expect(rerun.status == .accepted)
      let id2 = try #require(rerun.json["id"] as? String)
      #expect(try await finish(server, id2).status == .complete)
      #expect(try await client.get("/api/trials/\(id2)/patients.csv").text == csv.text)
      #expect(try await client.get("/api/trials/\(id2)").json["rerun_of"] as? String == id)
    }
    await server.shutdown()
  }

  @Test func trialErrors() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      func spec(_ change: (inout [String: Any]) -> Void) throws -> String {
        var s = try JSONSerialization.jsonObject(with: Data(try tinyTrial().utf8)) as! [String: Any]
        change(&s)
        return String(decoding: try JSONSerialization.data(withJSONObject: s), as: UTF8.self)
      }
      let cases: [(String, String)] = [
        (try spec { $0["patients_per_arm"] = 0 }, "patients_per_arm"),
        (
          try spec { s in
            var a = s["arms"] as! [[String: Any]]
            a[1]["scenario"] = "missing.json"
            s["arms"] = a
          }, "arms[1].scenario"
        ),
        (
          try spec { s in
            var p = s["population"] as! [String: Any]
            p["csv"] = "/etc/passwd"
            s["population"] = p
          }, "population.csv"
        ),
        (try spec { $0["surprise"] = 1 }, "surprise"),
      ]
      for (body, field) in cases {
        let r = try await client.post("/api/trials", body)
        #expect(r.status == .badRequest, "\(field)")
        #expect(r.json["field"] as? String == field, "\(r.text)")
      }
      // An inline scenario's errors name the path inside the spec.
      let inline = try spec { s in
        var a = s["arms"] as! [[String: Any]]
        var sc = try! JSONSerialization.jsonObject(with: Data(EmbeddedScenarios.files["heros1.json"]!.utf8)) as! [String: Any]
        var c = sc["car_t"] as! [String: Any]
        c["dose"] = "lots"
        sc["car_t"] = c
        a[0]["scenario"] = sc
        s["arms"] = a
      }
      let r = try await client.post("/api/trials", inline)
      #expect(r.json["field"] as? String == "arms[0].scenario.car_t.dose", "\(r.text)")
      let stored = try await client.get("/api/trials").json["trials"] as? [Any]
      #expect(stored?.isEmpty == true, "nothing is stored for invalid specs")
    }
  }

  /// A run interrupted by a graceful shutdown keeps its completed shards; after a restart on
  /// the same data folder it is listed as interrupted, resumes from there, and its result is
  /// identical to an uninterrupted run's. A crash (no checkpoint) is detected at the next start.
  @Test func persistenceAcrossRestarts() async throws {
    let dir = tempDataDir()
    // Long enough that neither the graceful shutdown nor the crash below comes after the end,
    // however fast the patients run: 100 per arm (500 in all), in shards of 2.
    let spec = try tinyTrial(patients: 100, days: 100, seed: 11)
    let shards = try SpecParsing.trialSpec(Data(spec.utf8), file: "spec.json").arms.reduce(0) { $0 + $1.patients } / 2
    var config = testConfig(dir, shardPatients: 2)

    // 1. A finished run and a run interrupted by a graceful shutdown.
    let first = try await CARTSimServer(config: config)
    let (doneID, cutID) = try await first.makeApplication().test(.router) { client in
      let doneID = try #require(try await client.post("/api/trials", try tinyTrial()).json["id"] as? String)
      #expect(try await finish(first, doneID).status == .complete)
      let cutID = try #require(try await client.post("/api/trials", spec).json["id"] as? String)
      #expect(try await eventually { (try first.store.run(cutID)?.shardsDone ?? 0) >= 2 })
      return (doneID, cutID)
    }
    await first.shutdown()
    let cut = try #require(try first.store.run(cutID))
    #expect(cut.status == .interrupted)
    #expect(cut.shardsDone >= 2 && cut.shardsDone < shards, "\(cut.shardsDone) of \(shards)")
    #expect(cut.message?.contains("checkpointed") == true)
    #expect(cut.patientsDone == cut.shardsDone * 2, "progress as checkpointed")
    #expect(!FileManager.default.fileExists(atPath: first.jobs.resultDirectory(cutID)), "nothing complete-looking")

    // 2. Restart on the same folder: both are listed; resume the interrupted one.
    let second = try await CARTSimServer(config: config)
    try await second.makeApplication().test(.router) { client in
      let list = try await client.get("/api/trials")
      let runs = (list.json["trials"] as? [[String: Any]]) ?? []
      #expect(Set(runs.compactMap { $0["id"] as? String }) == [doneID, cutID])
      #expect(try await client.get("/api/trials/\(doneID)/patients.csv").status == .ok, "a finished run survives the restart")
      #expect(try await client.get("/api/trials/\(cutID)").json["status"] as? String == "interrupted")
      #expect(try await client.get("/api/trials/\(cutID)/patients.csv").status == .conflict)
      let resumed = try await client.post("/api/trials/\(cutID)/resume", "")
      #expect(resumed.status == .accepted)
      // 3. Crash in the middle of the resumed run (no checkpoint written).
      _ = try await eventually { (try second.store.run(cutID)?.shardsDone ?? 0) >= cut.shardsDone + 2 }
    }
    await second.simulateCrash()
    let crashed = try #require(try second.store.run(cutID))
    #expect(crashed.status == .running, "the crash should come before the end of the run")
    if crashed.status == .running {
      let third = try await CARTSimServer(config: config)
      let recovered = try #require(try third.store.run(cutID))
      #expect(recovered.status == .interrupted)
      #expect(recovered.message?.contains("crash") == true)
      #expect(recovered.interruptions == 2)
      #expect(recovered.shardsDone >= cut.shardsDone && recovered.patientsDone == recovered.shardsDone * 2)
      await third.shutdown()
    }

    // 4. Resume to the end, on a fourth start; compare with an uninterrupted run.
    config.shardPatients = 2
    let fourth = try await CARTSimServer(config: config)
    try await fourth.makeApplication().test(.router) { client in
      let status = try await client.get("/api/trials/\(cutID)").json["status"] as? String
      if status != "complete" { #expect(try await client.post("/api/trials/\(cutID)/resume", "").status == .accepted) }
      #expect(try await finish(fourth, cutID).status == .complete)
      let csv = try await client.get("/api/trials/\(cutID)/patients.csv").text
      let ref = tempDataDir("reference")
      var o = TrialRunner.Options()
      o.threads = 2
      try TrialRunner.run(try SpecParsing.trialSpec(Data(spec.utf8), file: "spec.json"), options: o, to: ref)
      #expect(csv == (try String(contentsOfFile: ref + "/patients.csv", encoding: .utf8)))
      let summary = try await client.get("/api/trials/\(cutID)/summary.json").json
      #expect(summary["status"] as? String == "complete")
    }
    await fourth.shutdown()
  }
}
