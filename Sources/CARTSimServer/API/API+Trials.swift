import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

extension API {
  /// Trial runs in the background: start, list, status, resume, rerun, and their files.
  static func registerTrials(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    let limit = server.config.maxBodyBytes
    router.post("/api/trials") { request, _ in
      let data = try await body(request, limit: limit)
      let spec = try SpecParsing.trialSpec(data, file: "request body")
      let source = request.uri.queryParameters.get("source").map { String($0) } ?? "upload"
      let shards = server.jobs.shardCount(patients: spec.totalPatients)
      let run = try await server.jobs.admit {
        try server.store.createRun(
          specName: spec.name, specJSON: String(decoding: data, as: UTF8.self), source: source,
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
        throw APIError(
          .conflict, "not_resumable", "run '\(run.id)' is \(run.status.rawValue); only interrupted or failed runs can be resumed")
      }
      let r = try await server.jobs.resume(run.id) ?? run
      return Reply.json(runJSON(r, result: nil), status: .accepted)
    }
    router.post("/api/trials/:id/rerun") { _, context in
      let old = try lookup(server, context)
      let new = try await server.jobs.admit {
        try server.store.createRun(
          specName: old.name, specJSON: "", source: "rerun", patients: old.patientsTotal,
          shards: old.shardsTotal, rerunOf: old.id, specId: old.specId)
      }
      var r = Reply.json(runJSON(new, result: nil), status: .accepted)
      r.headers[.location] = "/api/trials/\(new.id)"
      return r
    }
    for (file, type, download) in [
      ("patients.csv", "text/csv; charset=utf-8", true), ("km.csv", "text/csv; charset=utf-8", true),
      ("summary.json", "application/json; charset=utf-8", false),
      ("report.html", "text/html; charset=utf-8", false),
    ] {
      router.get("/api/trials/:id/\(file)") { _, context in
        let (run, result) = try finished(server, context)
        return try await Reply.file(
          (result.directory as NSString).appendingPathComponent(file), contentType: type,
          download: download ? "\(fileStem(run.name))-\(file)" : nil, context: context)
      }
    }
    router.get("/api/trials/:id/plots/:name") { _, context in
      let (_, result) = try finished(server, context)
      let name = try context.parameters.require("name")
      guard name.hasSuffix(".svg"), !name.contains("/"), !name.hasPrefix(".") else { throw APIError.notFound("no plot '\(name)'") }
      return try await Reply.file(
        ((result.directory as NSString).appendingPathComponent("plots") as NSString).appendingPathComponent(name),
        contentType: "image/svg+xml", download: nil, context: context)
    }
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

  static func runJSON(_ r: RunRecord, result: ResultRecord?) -> JSONOut {
    var o: [(String, JSONOut)] = [
      ("id", .string(r.id)), ("name", .string(r.name)), ("status", .string(r.status.rawValue)),
      (
        "progress",
        .object([
          ("patients_done", .int(r.patientsDone)), ("patients_total", .int(r.patientsTotal)),
          ("fraction", .num(r.patientsTotal > 0 ? Double(r.patientsDone) / Double(r.patientsTotal) : 0)),
          ("shards_done", .int(r.shardsDone)), ("shards_total", .int(r.shardsTotal)),
        ])
      ),
      ("message", .str(r.message)), ("interruptions", .int(r.interruptions)), ("rerun_of", .str(r.rerunOf)),
      ("created_at", .string(iso(r.createdAt))), ("started_at", .str(r.startedAt.map(iso))),
      ("updated_at", .string(iso(r.updatedAt))), ("finished_at", .str(r.finishedAt.map(iso))),
      ("url", .string("/api/trials/\(r.id)")), ("page", .string("/trials/\(r.id)")),
    ]
    if let result, let json = try? JSONValue.decode(Data(result.summaryJson.utf8), file: "summary.json") {
      o.append(("summary", .from(json)))
      o.append(
        (
          "files",
          .object([
            ("patients_csv", .string("/api/trials/\(r.id)/patients.csv")), ("km_csv", .string("/api/trials/\(r.id)/km.csv")),
            ("summary_json", .string("/api/trials/\(r.id)/summary.json")), ("report_html", .string("/api/trials/\(r.id)/report.html")),
          ])
        ))
    }
    return .object(o)
  }
}
