import CARTSimCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CARTSimServer

/// The reproductions of the robustness issue, each answered with a clear error or a bounded
/// answer while the server stays up. (Slow clients and dropped uploads need real sockets:
/// Scripts/abuse_test.py, run by CI.)
@Suite("Abuse") struct AbuseTests {
  /// Hostile numbers get 400 naming the field on every route that reads a scenario.
  @Test func hostileNumbersAre400() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let horizon = scenario { s in s["simulation"] = ["horizon_days": 1e300] }
      let step = scenario { s in s["simulation"] = ["output_step_days": 1e-300] }
      for (uri, body, field) in [
        ("/api/simulate", horizon, "simulation.horizon_days"), ("/api/simulate", step, "simulation.output_step_days"),
        ("/api/scenarios", horizon, "simulation.horizon_days"),
      ] {
        let r = try await client.post(uri, body)
        #expect(r.status == .badRequest && r.json["field"] as? String == field, "\(uri): \(r.text)")
      }
      let huge = try await client.post("/api/simulate", #"{"name": "x", "simulation": {"horizon_days": 1e400}}"#)
      #expect(huge.status == .badRequest && (huge.json["message"] as? String)?.contains("too large") == true, "\(huge.text)")
      var spec = try JSONSerialization.jsonObject(with: Data(try tinyTrial().utf8)) as! [String: Any]
      spec["follow_up_days"] = 1e300
      let trial = try await client.post("/api/trials", String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self))
      #expect(trial.status == .badRequest && (trial.json["field"] as? String)?.contains("follow_up_days") == true, "\(trial.text)")
      #expect(try await client.get("/health").status == .ok)
    }
  }

  /// Repeated series names are answered once; too many different ones are refused.
  @Test func seriesAreBounded() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let once = try await client.post("/api/simulate?series=sld", scenario())
      let many = try await client.post("/api/simulate?series=" + Array(repeating: "sld", count: 20_000).joined(separator: ","), scenario())
      #expect(many.status == .ok)
      #expect(many.body.readableBytes < once.body.readableBytes + 100)
      #expect(Set(((many.json["time_course"] as? [String: Any])?["series"] as? [String: Any] ?? [:]).keys) == ["sld"])
      let names = (0..<100).map { "n\($0)" }.joined(separator: ",")
      let tooMany = try await client.post("/api/simulate?series=" + names, scenario())
      #expect(tooMany.status == .badRequest && tooMany.json["field"] as? String == "series")
    }
  }

  /// A second server on the same data folder is refused before it touches the store.
  @Test func dataFolderIsLocked() async throws {
    let dir = tempDataDir()
    let first = try await CARTSimServer(config: testConfig(dir))
    do {
      _ = try await CARTSimServer(config: testConfig(dir))
      Issue.record("a second server opened a folder in use")
    } catch let e as InputError {
      #expect(e.message.contains("another cartsim serve"), "\(e)")
      #expect(e.message.contains("\(getpid())"))
    }
    await first.shutdown()
    let again = try await CARTSimServer(config: testConfig(dir))
    await again.shutdown()
  }

  /// A full queue answers 503 with Retry-After; what was accepted is bounded.
  @Test func queueIsBounded() async throws {
    var config = testConfig(tempDataDir())
    config.maxQueuedJobs = 2
    let server = try await CARTSimServer(config: config)
    try await server.makeApplication().test(.router) { client in
      // Long enough (10,000 patients an arm) to be running still when the last request comes, however
      // loaded the machine; shutdown stops it after the patient in flight.
      let spec = try tinyTrial(patients: 10_000, days: 300)
      var accepted = 0, refused = 0
      for _ in 0..<12 {
        let r = try await client.post("/api/trials", spec)
        if r.status == .accepted { accepted += 1 }
        if r.status == .serviceUnavailable {
          refused += 1
          #expect(r.headers[.retryAfter] == "30")
          #expect(r.json["error"] as? String == "queue_full")
        }
      }
      #expect(accepted + refused == 12)
      #expect(accepted >= 2 && accepted <= 3, "\(accepted) accepted: 1 running and 2 waiting at most")
      #expect(try server.store.runs().count == accepted, "a refused request leaves no run behind")
    }
    await server.shutdown()
  }

  /// With no waiting room (`--queue 0`) a trial is still admitted while a job slot is free.
  @Test func queueZeroAdmitsIntoAFreeSlot() async throws {
    var config = testConfig(tempDataDir())
    config.maxQueuedJobs = 0
    let server = try await CARTSimServer(config: config)
    try await server.makeApplication().test(.router) { client in
      let spec = try tinyTrial(patients: 10_000, days: 300)
      #expect(try await client.post("/api/trials", spec).status == .accepted)
      #expect(try await client.post("/api/trials", spec).status == .serviceUnavailable)
    }
    await server.shutdown()
  }

  /// Bodies that are not JSON get 415, and pages of other sites get 403, so that no web page
  /// can start trials on a server without a token.
  @Test func crossSiteRequestsAreRefused() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let spec = try tinyTrial()
      let plain = try await client.post("/api/trials", spec, headers: [.contentType: "text/plain"])
      #expect(plain.status == .unsupportedMediaType && plain.json["error"] as? String == "unsupported_media_type")
      let form = try await client.post("/api/simulate", scenario(), headers: [.contentType: "application/x-www-form-urlencoded"])
      #expect(form.status == .unsupportedMediaType)
      let none = try await client.post("/api/trials", spec, headers: [:])
      #expect(none.status == .unsupportedMediaType)
      let foreign = try await client.post("/api/trials", spec, headers: [.contentType: "application/json", .origin: "http://evil.example"])
      #expect(foreign.status == .forbidden && foreign.json["error"] as? String == "forbidden_origin")
      let nullOrigin = try await client.post("/api/simulate", scenario(), headers: [.contentType: "application/json", .origin: "null"])
      #expect(nullOrigin.status == .forbidden)
      #expect(try server.store.runs().isEmpty)
      #expect(try await client.post("/api/simulate", scenario(), headers: [.contentType: "application/json; charset=utf-8"]).status == .ok)
    }
    #expect(RequestGuardMiddleware<BasicRequestContext>.sameOrigin("http://127.0.0.1:8080", authority: "127.0.0.1:8080"))
    #expect(RequestGuardMiddleware<BasicRequestContext>.sameOrigin("http://LOCALHOST:8080", authority: "localhost:8080"))
    #expect(!RequestGuardMiddleware<BasicRequestContext>.sameOrigin("http://127.0.0.1:8081", authority: "127.0.0.1:8080"))
    #expect(!RequestGuardMiddleware<BasicRequestContext>.sameOrigin("http://127.0.0.1:8080.evil.example", authority: "127.0.0.1:8080"))
    #expect(!RequestGuardMiddleware<BasicRequestContext>.sameOrigin("http://127.0.0.1:8080", authority: nil))
    await server.shutdown()
  }
}
