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
      var r = Reply.json(TrialRunResponse(run, result: nil), status: .accepted)
      r.headers[.location] = "/api/trials/\(run.id)"
      return r
    }
    router.get("/api/trials") { _, _ in
      Reply.json(["trials": try server.store.runs().map { TrialRunResponse($0, result: nil) }])
    }
    router.get("/api/trials/:id") { _, context in
      let run = try lookup(server, context)
      return Reply.json(TrialRunResponse(run, result: run.status == .complete ? try server.store.result(run.id) : nil))
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
      return Reply.json(TrialRunResponse(r, result: nil), status: .accepted)
    }
    router.post("/api/trials/:id/rerun") { _, context in
      let old = try lookup(server, context)
      let new = try await server.jobs.admit {
        try server.store.createRun(
          specName: old.name, specJSON: "", source: "rerun", patients: old.patientsTotal,
          shards: old.shardsTotal, rerunOf: old.id, specId: old.specId)
      }
      var r = Reply.json(TrialRunResponse(new, result: nil), status: .accepted)
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
}
