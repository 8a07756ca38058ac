import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

extension API {
  /// Saved scenarios and the examples compiled into the server.
  static func registerScenarios(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    let limit = server.config.maxBodyBytes
    router.post("/api/scenarios") { request, _ in
      let data = try await body(request, limit: limit)
      let scenario = try SpecParsing.scenario(data, file: "request body")
      let text = String(decoding: data, as: UTF8.self)
      let r = try server.store.saveScenario(name: scenario.name, json: text)
      return Reply.json(ScenarioResponse(r), status: .created)
    }
    router.get("/api/scenarios") { _, _ in
      Reply.json(["scenarios": try server.store.scenarios().map(ScenarioResponse.init)])
    }
    router.get("/api/scenarios/:id") { _, context in
      let id = try context.parameters.require("id")
      guard RunStore.isValidID(id), let r = try server.store.scenario(id) else { throw APIError.notFound("no saved scenario '\(id)'") }
      return Reply.rawJSON(r.json, download: fileName(r.name))
    }

    router.get("/api/examples") { _, _ in
      let examples = SpecParsing.exampleNames.map { name in
        let json = try? JSONValue.decode(Data(EmbeddedScenarios.files[name, default: ""].utf8), file: name)
        var title = name
        if case .object(let o)? = json, case .string(let n)? = o["name"] { title = n }
        return ExampleResponse(
          name: name, title: title, kind: SpecParsing.isTrialSpec(name) ? "trial" : "scenario", url: "/api/examples/\(name)")
      }
      return Reply.json(["examples": examples])
    }
    router.get("/api/examples/:name") { _, context in
      let name = try context.parameters.require("name")
      guard let text = EmbeddedScenarios.files[name] else {
        throw APIError.notFound("no example '\(name)' (known: \(SpecParsing.exampleNames.joined(separator: ", ")))")
      }
      return Reply.rawJSON(text)
    }
  }
}
