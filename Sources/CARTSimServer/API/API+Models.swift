import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

extension API {
  /// `/health`, the OpenAPI document and the built-in models.
  static func registerService(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    router.get("/health") { _, _ in
      let migrations = try server.store.appliedMigrations()
      let running = await server.jobs.runningCount, queued = await server.jobs.pendingCount
      return Reply.json(
        HealthResponse(
          version: OpenAPI.version, uptime_seconds: Date().timeIntervalSince(server.started),
          store: .init(migrations: migrations), jobs: .init(running: running, queued: queued)))
    }

    router.get("/api/openapi.json") { _, _ in Reply.rawJSON(OpenAPI.document) }
  }

  static func registerModels(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    router.get("/api/models") { _, _ in
      Reply.json(["models": ModelReport.all.map(\.summaryJSON)])
    }
    router.get("/api/models/:name") { _, context in
      let name = try context.parameters.require("name")
      guard let m = ModelReport(name) else {
        throw APIError.notFound("no model '\(name)' (known: \(ModelCatalog.ids.joined(separator: ", ")))")
      }
      return Reply.json(m.detailJSON)
    }
  }
}
