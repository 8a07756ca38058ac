import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

/// The JSON API (described in ``OpenAPI/document``, served at `/api/openapi.json`).
enum API {
  static func register(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    let limit = server.config.maxBodyBytes

    router.get("/health") { _, _ in
      let migrations = try server.store.appliedMigrations()
      let running = await server.jobs.runningCount, queued = await server.jobs.pendingCount
      return Reply.json(.object([
        ("status", .string("ok")),
        ("version", .string(OpenAPI.version)),
        ("uptime_seconds", .num(Date().timeIntervalSince(server.started))),
        ("store", .object([("migrations", .array(migrations.map { .string($0) }))])),
        ("jobs", .object([("running", .int(running)), ("queued", .int(queued))])),
      ]))
    }

    router.get("/api/openapi.json") { _, _ in Reply.rawJSON(OpenAPI.document) }

    // MARK: Simulation

    router.post("/api/simulate") { request, _ in
      let data = try await body(request, limit: limit)
      let scenario = try SpecParsing.scenario(data, file: "request body")
      let wanted = try seriesNames(request.uri.queryParameters.get("series").map { String($0) })
      let start = ContinuousClock.now
      let result = try Simulator.run(scenario, file: "request body")
      let elapsed = ContinuousClock.now - start
      if let wanted {
        for (i, name) in wanted.enumerated() where !result.observables.contains(where: { $0.name == name }) {
          throw APIError(.badRequest, "invalid_query", "series: '\(name)' is not an observable of model '\(scenario.model)' (known: \(result.observables.map(\.name).joined(separator: ", ")))",
                         field: "series[\(i)]")
        }
      }
      return Reply.json(simulationJSON(result, series: wanted, seconds: elapsed))
    }

    // MARK: Saved scenarios

    router.post("/api/scenarios") { request, _ in
      let data = try await body(request, limit: limit)
      let scenario = try SpecParsing.scenario(data, file: "request body")
      let text = String(decoding: data, as: UTF8.self)
      let r = try server.store.saveScenario(name: scenario.name, json: text)
      return Reply.json(scenarioJSON(r), status: .created)
    }
    router.get("/api/scenarios") { _, _ in
      Reply.json(.object([("scenarios", .array(try server.store.scenarios().map(scenarioJSON)))]))
    }
    router.get("/api/scenarios/:id") { _, context in
      let id = try context.parameters.require("id")
      guard RunStore.isValidID(id), let r = try server.store.scenario(id) else { throw APIError.notFound("no saved scenario '\(id)'") }
      return Reply.rawJSON(r.json, download: fileName(r.name))
    }

    // MARK: Examples

    router.get("/api/examples") { _, _ in
      Reply.json(.object([("examples", .array(SpecParsing.exampleNames.map { name in
        let json = try? JSONValue.decode(Data(EmbeddedScenarios.files[name]!.utf8), file: name)
        var title = name
        if case .object(let o)? = json, case .string(let n)? = o["name"] { title = n }
        return .object([("name", .string(name)), ("title", .string(title)),
                        ("kind", .string(SpecParsing.isTrialSpec(name) ? "trial" : "scenario")),
                        ("url", .string("/api/examples/\(name)"))])
      }))]))
    }
    router.get("/api/examples/:name") { _, context in
      let name = try context.parameters.require("name")
      guard let text = EmbeddedScenarios.files[name] else { throw APIError.notFound("no example '\(name)' (known: \(SpecParsing.exampleNames.joined(separator: ", ")))") }
      return Reply.rawJSON(text)
    }

    // MARK: Trials

    router.post("/api/trials") { request, _ in
      let data = try await body(request, limit: limit)
      let spec = try SpecParsing.trialSpec(data, file: "request body")
      let source = request.uri.queryParameters.get("source").map { String($0) } ?? "upload"
      let shards = server.jobs.shardCount(patients: spec.totalPatients)
      let run = try await server.jobs.admit {
        try server.store.createRun(specName: spec.name, specJSON: String(decoding: data, as: UTF8.self), source: source,
                                   patients: spec.totalPatients, shards: shards)
      }
      var r = Reply.json(runJSON(run, result: nil), status: .accepted)
      r.headers[.location] = "/api/trials/\(run.id)"
      return r
    }
    router.get("/api/trials") { _, _ in
      Reply.json(.object([("trials", .array(try server.store.runs().map { runJSON($0, result: nil) }))]))
    }
    router.get("/api/trials/:id") { _, context in
      let run = try lookup(server, context)
      return Reply.json(runJSON(run, result: run.status == .complete ? try server.store.result(run.id) : nil))
    }
    router.get("/api/trials/:id/spec") { _, context in
      let run = try lookup(server, context)
      guard let spec = try server.store.spec(run.specId) else { throw APIError.notFound("the spec of run '\(run.id)' is missing") }
      return Reply.rawJSON(spec.json, download: fileName(spec.name))
    }
    router.post("/api/trials/:id/resume") { _, context in
      let run = try lookup(server, context)
      guard run.status == .interrupted || run.status == .failed else {
        throw APIError(.conflict, "not_resumable", "run '\(run.id)' is \(run.status.rawValue); only interrupted or failed runs can be resumed")
      }
      let r = try await server.jobs.resume(run.id) ?? run
      return Reply.json(runJSON(r, result: nil), status: .accepted)
    }
    router.post("/api/trials/:id/rerun") { _, context in
      let old = try lookup(server, context)
      let new = try await server.jobs.admit {
        try server.store.createRun(specName: old.name, specJSON: "", source: "rerun", patients: old.patientsTotal,
                                   shards: old.shardsTotal, rerunOf: old.id, specId: old.specId)
      }
      var r = Reply.json(runJSON(new, result: nil), status: .accepted)
      r.headers[.location] = "/api/trials/\(new.id)"
      return r
    }
    for (file, type, download) in [("patients.csv", "text/csv; charset=utf-8", true), ("km.csv", "text/csv; charset=utf-8", true),
                                   ("summary.json", "application/json; charset=utf-8", false),
                                   ("report.html", "text/html; charset=utf-8", false)] {
      router.get("/api/trials/:id/\(file)") { _, context in
        let (run, result) = try finished(server, context)
        return try await Reply.file((result.directory as NSString).appendingPathComponent(file), contentType: type,
                                    download: download ? "\(fileStem(run.name))-\(file)" : nil, context: context)
      }
    }
    router.get("/api/trials/:id/plots/:name") { _, context in
      let (_, result) = try finished(server, context)
      let name = try context.parameters.require("name")
      guard name.hasSuffix(".svg"), !name.contains("/"), !name.hasPrefix(".") else { throw APIError.notFound("no plot '\(name)'") }
      return try await Reply.file(((result.directory as NSString).appendingPathComponent("plots") as NSString).appendingPathComponent(name),
                                  contentType: "image/svg+xml", download: nil, context: context)
    }

    // MARK: Models

    router.get("/api/models") { _, _ in
      Reply.json(.object([("models", .array(ModelReport.all.map(\.summaryJSON)))]))
    }
    router.get("/api/models/:name") { _, context in
      let name = try context.parameters.require("name")
      guard let m = ModelReport(name) else {
        throw APIError.notFound("no model '\(name)' (known: \(ModelCatalog.ids.joined(separator: ", ")))")
      }
      return Reply.json(m.detailJSON)
    }
  }

  /// `?series=a,b,…`: the names in their first order without repeats, at most
  /// ``Limits/seriesNames`` (a model has fewer observables).
  static func seriesNames(_ query: String?) throws -> [String]? {
    guard let query else { return nil }
    var seen = Set<String>(), names: [String] = []
    for name in query.split(separator: ",", omittingEmptySubsequences: true).map(String.init) where seen.insert(name).inserted {
      guard names.count < Limits.seriesNames else {
        throw APIError(.badRequest, "invalid_query", "series: more than \(Limits.seriesNames) different names", field: "series")
      }
      names.append(name)
    }
    return names
  }

  /// Reads a request body of at most `limit` bytes (413 beyond).
  static func body(_ request: Request, limit: Int) async throws -> Data {
    let tooLarge = APIError(.contentTooLarge, "body_too_large", "the request body is larger than \(limit) bytes")
    if let len = request.headers[.contentLength].flatMap({ Int($0) }), len > limit { throw tooLarge }
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: limit) } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
      throw tooLarge
    } catch {
      if "\(type(of: error))".contains("TooManyBytes") { throw tooLarge }
      // The client went away (or the deadline closed the connection) before the body ended.
      throw APIError(.badRequest, "incomplete_body", "the request body ended before its end (\(error))", file: "request body")
    }
    guard buffer.readableBytes > 0 else {
      throw APIError(.badRequest, "invalid_input", "the request body is empty (expected a JSON document)", file: "request body")
    }
    return Data(buffer.readableBytesView)
  }

  static func lookup(_ server: CARTSimServer, _ context: BasicRequestContext) throws -> RunRecord {
    let id = try context.parameters.require("id")
    guard RunStore.isValidID(id), let run = try server.store.run(id) else { throw APIError.notFound("no trial run '\(id)'") }
    return run
  }

  static func finished(_ server: CARTSimServer, _ context: BasicRequestContext) throws -> (RunRecord, ResultRecord) {
    let run = try lookup(server, context)
    guard run.status == .complete, let result = try server.store.result(run.id) else {
      throw APIError(.conflict, "not_finished", "run '\(run.id)' is \(run.status.rawValue); its files exist once it is complete")
    }
    return (run, result)
  }

  static func fileStem(_ name: String) -> String {
    let s = String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    let t = s.split(separator: "-").joined(separator: "-")
    return t.isEmpty ? "cartsim" : String(t.prefix(60))
  }
  static func fileName(_ name: String) -> String { fileStem(name) + ".json" }

  static func scenarioJSON(_ r: ScenarioRecord) -> JSONOut {
    .object([("id", .string(r.id)), ("name", .string(r.name)), ("created_at", .string(iso(r.createdAt))),
             ("url", .string("/api/scenarios/\(r.id)"))])
  }

  static func iso(_ t: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t)) }

  static func runJSON(_ r: RunRecord, result: ResultRecord?) -> JSONOut {
    var o: [(String, JSONOut)] = [
      ("id", .string(r.id)), ("name", .string(r.name)), ("status", .string(r.status.rawValue)),
      ("progress", .object([
        ("patients_done", .int(r.patientsDone)), ("patients_total", .int(r.patientsTotal)),
        ("fraction", .num(r.patientsTotal > 0 ? Double(r.patientsDone) / Double(r.patientsTotal) : 0)),
        ("shards_done", .int(r.shardsDone)), ("shards_total", .int(r.shardsTotal)),
      ])),
      ("message", .str(r.message)), ("interruptions", .int(r.interruptions)), ("rerun_of", .str(r.rerunOf)),
      ("created_at", .string(iso(r.createdAt))), ("started_at", .str(r.startedAt.map(iso))),
      ("updated_at", .string(iso(r.updatedAt))), ("finished_at", .str(r.finishedAt.map(iso))),
      ("url", .string("/api/trials/\(r.id)")), ("page", .string("/trials/\(r.id)")),
    ]
    if let result, let json = try? JSONValue.decode(Data(result.summaryJson.utf8), file: "summary.json") {
      o.append(("summary", .from(json)))
      o.append(("files", .object([
        ("patients_csv", .string("/api/trials/\(r.id)/patients.csv")), ("km_csv", .string("/api/trials/\(r.id)/km.csv")),
        ("summary_json", .string("/api/trials/\(r.id)/summary.json")), ("report_html", .string("/api/trials/\(r.id)/report.html")),
      ])))
    }
    return .object(o)
  }

  static func simulationJSON(_ r: SimulationResult, series: [String]?, seconds: Duration) -> JSONOut {
    let names = series ?? r.observables.map(\.name)
    let ms = Double(seconds.components.seconds) * 1000 + Double(seconds.components.attoseconds) / 1e15
    return .object([
      ("summary", ResultWriter.summaryJSON(r)),
      ("time_course", .object([
        ("time_unit", .string("day")),
        ("times", .array(r.times.map { .num($0) })),
        ("series", .object(names.map { name in
          let o = r.observables.first { $0.name == name }!
          return (name, .object([("unit", .string(o.unit)), ("description", .string(o.description)),
                                 ("values", .array(r.series(name)!.map { .num($0) }))]))
        })),
      ])),
      ("infusion_days", .array(r.scenario.regimen.infusions.map { .num($0.day) })),
      ("references", .object(r.plotReferences.map { name, refs in
        (name, .array(refs.map { .object([("y", .num($0.y)), ("label", .string($0.label))]) }))
      })),
      ("compute_ms", .num(ms)),
    ])
  }
}
