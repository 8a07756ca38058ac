import CARTSimCore
import DoseFinding
import Foundation
import Hummingbird

/// `/api/design/*`: phase I dose finding, the settings of `cartsim design` as JSON; each answers
/// exactly what the command's `--json` prints (``DesignStudy``, ``DesignRequest``).
extension API {
  static func registerDesign(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    let limit = server.config.maxBodyBytes
    var caps = DesignRequest.Caps()
    caps.threads = max(1, min(server.config.threadsPerJob, Limits.threads))
    let capsForRoutes = caps

    router.post("/api/design/oc") { request, _ in
      let q = try DesignRequest.oc(
        try await body(request, limit: limit), file: "request body", caps: capsForRoutes, fromModel: trialExample)
      let report = try DesignStudy.operatingCharacteristics(design: q.design, settings: q.settings, run: q.run)
      return Reply.rawJSON(DesignJSON.render(report))
    }
    router.post("/api/design/compare") { request, _ in
      let q = try DesignRequest.compare(
        try await body(request, limit: limit), file: "request body", caps: capsForRoutes, fromModel: trialExample)
      let report = try DesignStudy.compare(designs: q.designs, settings: q.settings, run: q.run)
      switch request.uri.queryParameters.get("chart").map({ String($0) }) {
      case nil: return Reply.rawJSON(DesignJSON.render(report))
      case "svg": return Reply.text(report.chart, contentType: "image/svg+xml")
      case let other?: throw APIError(.badRequest, "invalid_query", "chart: '\(other)' is not a chart format (svg)", field: "chart")
      }
    }
    router.post("/api/design/boundaries") { request, _ in
      let settings = try DesignRequest.boundaries(try await body(request, limit: limit), file: "request body")
      return Reply.rawJSON(DesignJSON.render(try DesignStudy.boundaries(settings)))
    }
    router.post("/api/design/next") { request, _ in
      let q = try DesignRequest.next(try await body(request, limit: limit), file: "request body")
      let report = try DesignStudy.nextDose(
        design: q.design, settings: q.settings, csv: q.csv, source: "data",
        doses: q.doses, current: q.current)
      return Reply.rawJSON(DesignJSON.render(report))
    }
  }

  /// A trial spec compiled into the binary (`heros-trial.json`), for `from_model`; the server
  /// reads no file a request names.
  static func trialExample(_ name: String) throws -> TrialSpec? {
    guard SpecParsing.isTrialSpec(name), let text = EmbeddedScenarios.files[name] else { return nil }
    return try SpecParsing.trialSpec(Data(text.utf8), file: name)
  }
}

extension APIError {
  /// Bad dose-finding settings: the field is the setting's snake_case name (or a row of `data`).
  static func invalid(_ e: DoseFindingInputError) -> APIError {
    APIError(
      .badRequest, "invalid_input", "\(e.field): \(e.message)", field: e.field, file: e.source == "settings" ? "request body" : e.source)
  }
}
