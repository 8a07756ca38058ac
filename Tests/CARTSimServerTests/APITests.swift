import CARTModels
import CARTSimCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CARTSimServer

@Suite("API") struct APITests {
  @Test func healthAndOpenAPI() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let h = try await client.get("/health")
      #expect(h.status == .ok)
      #expect((h.json["status"] as? String) == "ok")
      #expect(((h.json["store"] as? [String: Any])?["migrations"] as? [String]) == ["v1"])

      let o = try await client.get("/api/openapi.json")
      #expect(o.status == .ok)
      let paths = (o.json["paths"] as? [String: Any]) ?? [:]
      for p in [
        "/health", "/api/simulate", "/api/trials", "/api/trials/{id}", "/api/trials/{id}/patients.csv",
        "/api/models", "/api/models/{name}", "/api/scenarios", "/api/examples",
      ] {
        #expect(paths[p] != nil, "OpenAPI lacks \(p)")
      }
      // Every documented path and method is routed (a 404 may only come from a handler that
      // looked the id up, never from the router).
      for (path, item) in paths {
        for method in ((item as? [String: Any]) ?? [:]).keys {
          let uri = path.replacingOccurrences(of: "{id}", with: "0123456789abcdef").replacingOccurrences(of: "{name}", with: "heros")
          let r = try await client.execute(
            uri: uri, method: method == "post" ? .post : .get, body: ByteBuffer(string: method == "post" ? "{}" : ""))
          let routerMiss = r.status == .notFound && (r.json["message"] as? String ?? "").hasPrefix("no such resource")
          #expect(!routerMiss && r.status != .methodNotAllowed && r.status != .internalServerError, "\(method) \(path) → \(r.status)")
        }
      }
    }
    await server.shutdown()
  }

  @Test func simulate() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let body = scenario()
      let r = try await client.post("/api/simulate?series=car_t_blood,sld,il6", body)
      #expect(r.status == .ok)
      let summary = r.json["summary"] as? [String: Any] ?? [:]
      let tc = r.json["time_course"] as? [String: Any] ?? [:]
      let series = tc["series"] as? [String: Any] ?? [:]
      #expect(Set(series.keys) == ["car_t_blood", "sld", "il6"])
      let times = tc["times"] as? [Double] ?? []
      // The same code as the command line: identical summary numbers and time grid.
      let direct = try Simulator.run(Scenario.parse(Data(body.utf8), file: "scenario.json"), file: "scenario.json")
      #expect(times == direct.times)
      // (Read with JSONDecoder: JSONSerialization's reading of a number can be an ulp off.)
      let cmax = try JSONDecoder().decode(SummaryProbe.self, from: Data(r.text.utf8)).summary.car_t_cmax_cells_per_uL
      #expect(cmax == direct.summary.carTCmax)
      #expect(summary["crs_grade"] as? Int == direct.summary.crsGrade)
      // Numbers are written in the shortest form that reads back exactly.
      let values = try JSONDecoder().decode(SeriesProbe.self, from: Data(r.text.utf8)).time_course.series["car_t_blood"]!.values
      #expect(values == direct.series("car_t_blood")!)
      #expect((r.json["references"] as? [String: Any])?["il6"] != nil)

      // All observables without ?series.
      let all = try await client.post("/api/simulate", body)
      #expect(((all.json["time_course"] as? [String: Any])?["series"] as? [String: Any])?.count == direct.observables.count)

      // CARTmath works too.
      let cm = try await client.post(
        "/api/simulate", String(decoding: try Data(contentsOf: examplesURL("cartmath-hdlm2.json")), as: UTF8.self))
      #expect(cm.status == .ok)
    }
  }

  @Test func simulateErrorsNameTheField() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir(), maxBody: 8192))
    try await server.makeApplication().test(.router) { client in
      func expect400(_ body: String, field: String?, uri: String = "/api/simulate", sourceLocation: SourceLocation = #_sourceLocation)
        async throws
      {
        let r = try await client.post(uri, body)
        #expect(r.status == .badRequest, sourceLocation: sourceLocation)
        #expect(r.json["field"] as? String == field, "\(r.text)", sourceLocation: sourceLocation)
        #expect(r.json["error"] as? String != nil, sourceLocation: sourceLocation)
      }
      try await expect400(
        scenario { s in
          var c = s["car_t"] as! [String: Any]
          c["dose"] = -1
          s["car_t"] = c
        }, field: "car_t.dose")
      try await expect400(
        scenario { s in
          var p = s["patient"] as! [String: Any]
          p["her2_level"] = "high"
          s["patient"] = p
        }, field: "patient.her2_level")
      try await expect400(scenario { s in s["colour"] = "blue" }, field: "colour")
      try await expect400(scenario { s in s["model"] = "nope" }, field: "model")
      try await expect400(scenario { s in s["parameters"] = ["not_a_parameter": 1] }, field: "parameters.not_a_parameter")
      try await expect400("{not json", field: nil)
      try await expect400("", field: nil)
      let badSeries = try await client.post("/api/simulate?series=car_t_blood,nope", scenario())
      #expect(badSeries.status == .badRequest)
      #expect(badSeries.json["field"] as? String == "series[1]")
      // The same message the command line prints for the same file.
      let bad = scenario { s in
        var c = s["car_t"] as! [String: Any]
        c["number"] = 0
        s["car_t"] = c
      }
      let r = try await client.post("/api/simulate", bad)
      var cliMessage = ""
      do { _ = try Scenario.parse(Data(bad.utf8), file: "request body") } catch let e as InputError { cliMessage = e.message }
      #expect((r.json["message"] as? String)?.hasSuffix(cliMessage) == true && !cliMessage.isEmpty)

      // 413 for a body over the limit (8 KiB here), with or without Content-Length.
      let big = scenario { s in s["description"] = String(repeating: "x", count: 9000) }
      let tooLarge = try await client.post("/api/simulate", big)
      #expect(tooLarge.status == .contentTooLarge)
      #expect(tooLarge.json["error"] as? String == "body_too_large")
      let trialTooLarge = try await client.post("/api/trials", big)
      #expect(trialTooLarge.status == .contentTooLarge)
    }
  }

  @Test func notFound() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      for uri in [
        "/api/trials/0123456789abcdef", "/api/trials/0123456789abcdef/patients.csv", "/api/trials/..%2F..%2Fetc",
        "/api/models/nope", "/api/scenarios/0123456789abcdef", "/api/examples/nope.json", "/api/nothing-here",
        "/trials/0123456789abcdef", "/models/nope",
      ] {
        let r = try await client.get(uri)
        #expect(r.status == .notFound, "\(uri)")
        if uri.hasPrefix("/api/") { #expect(r.json["error"] as? String == "not_found", "\(uri): \(r.text)") }
      }
      let resume = try await client.post("/api/trials/0123456789abcdef/resume", "")
      #expect(resume.status == .notFound)
    }
  }

  @Test func bearerToken() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir(), token: "s3cret"))
    try await server.makeApplication().test(.router) { client in
      #expect(try await client.get("/health").status == .ok)
      for uri in ["/api/models", "/api/trials", "/", "/api/openapi.json"] {
        let r = try await client.get(uri)
        #expect(r.status == .unauthorized, "\(uri)")
        #expect(r.headers[.wwwAuthenticate] != nil)
      }
      #expect(try await client.post("/api/simulate", scenario()).status == .unauthorized)
      #expect(try await client.get("/api/models", headers: [.authorization: "Bearer wrong"]).status == .unauthorized)
      #expect(try await client.get("/api/models", headers: [.authorization: "Bearer s3cret"]).status == .ok)
      #expect(try await client.get("/api/models", headers: [.cookie: "a=b; cartsim_token=s3cret"]).status == .ok)
      let page = try await client.get("/?token=s3cret")
      #expect(page.status == .ok)
      #expect(page.headers[.setCookie]?.contains("HttpOnly") == true)
    }
  }

  @Test func modelsAndExamples() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let list = try await client.get("/api/models")
      #expect((list.json["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ModelCatalog.ids)
      let heros = try await client.get("/api/models/heros")
      let params = heros.json["parameters"] as? [[String: Any]] ?? []
      #expect(params.count == ModelCatalog.describe("heros")!.parameters.table.count)
      for p in params {
        #expect(p["unit"] is String && p["source"] is String && p["value"] is Double)
        #expect(["verified", "assumed", "calibrated"].contains(p["evidence"] as? String))
      }
      let ex = try await client.get("/api/examples")
      #expect((ex.json["examples"] as? [[String: Any]])?.count == EmbeddedScenarios.files.count)
      let one = try await client.get("/api/examples/heros3.json")
      #expect(one.text == EmbeddedScenarios.files["heros3.json"])
    }
  }

  @Test func savedScenarios() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let text = scenario { $0["name"] = "My regimen" } + "\n"
      let saved = try await client.post("/api/scenarios", text)
      #expect(saved.status == .created)
      let id = saved.json["id"] as? String ?? ""
      let back = try await client.get("/api/scenarios/\(id)")
      #expect(back.status == .ok)
      #expect(back.text == text, "saved exactly as given")
      #expect(back.headers[.contentDisposition]?.contains("my-regimen.json") == true)
      // What the explorer saves is what the command line reads.
      #expect(try Scenario.parse(Data(back.text.utf8), file: "saved").name == "My regimen")
      let list = try await client.get("/api/scenarios")
      #expect((list.json["scenarios"] as? [[String: Any]])?.first?["id"] as? String == id)
      let invalid = try await client.post("/api/scenarios", scenario { $0["car_t"] = 5 })
      #expect(invalid.status == .badRequest)
      #expect(invalid.json["field"] as? String == "car_t")
    }
  }

  @Test func pages() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      for (uri, needle) in [
        ("/", "id=\"plot0\""), ("/trials", "id=\"runs\""), ("/models", "cartmath-raji"),
        ("/models/heros", "<table class=\"params\">"), ("/models/heros", "/models/heros/credibility"),
        ("/models", "/models/heros/credibility"), ("/models/heros/credibility", "Context of use"),
        ("/models/cartmath-hdlm2", "<pre><code>"),
        ("/assets/explorer.js", "/api/simulate"), ("/assets/plot.js", "Plot"), ("/assets/trials.js", "/api/trials"),
        ("/assets/style.css", "body"),
      ] {
        let r = try await client.get(uri)
        #expect(r.status == .ok, "\(uri)")
        #expect(r.text.contains(needle), "\(uri) lacks \(needle)")
      }
    }
  }
}

/// `Examples/` in the package.
func examplesURL(_ name: String) -> URL {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Examples").appendingPathComponent(name)
}

struct SeriesProbe: Decodable {
  struct TC: Decodable { var series: [String: S] }
  struct S: Decodable { var values: [Double] }
  var time_course: TC
}

@Test func embeddedGuidesMatchFiles() throws {
  let guides = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Guides")
  for (name, text) in EmbeddedGuides.files {
    let file = try String(contentsOf: guides.appendingPathComponent(name), encoding: .utf8)
    #expect(text == file, "Guides/\(name) changed: run python3 Scripts/embed.py")
  }
}

@Test func markdown() {
  let h = Markdown.html(
    "# T\n\nSome `a|b` and **bold** [x](https://e.org) [y](../f.md).\n\n| a | b |\n|---|---|\n| 1 | `x|y` |\n\n- one\n- two\n\n```\nx < y\n```\n"
  )
  #expect(h.contains("<h2>T</h2>"))
  #expect(
    h.contains("<code>a|b</code>") && h.contains("<strong>bold</strong>") && h.contains("<a href=\"https://e.org\">x</a>")
      && h.contains(" y."))
  #expect(h.contains("<td><code>x|y</code></td>"))
  #expect(h.contains("<ul><li>one</li><li>two</li></ul>"))
  #expect(h.contains("<pre><code>x &lt; y</code></pre>"))
}

struct SummaryProbe: Decodable {
  struct S: Decodable { var car_t_cmax_cells_per_uL: Double }
  var summary: S
}
