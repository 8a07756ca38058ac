import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

extension API {
  /// `POST /api/simulate`: one scenario, its summary and time courses.
  static func registerSimulation(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    let limit = server.config.maxBodyBytes
    router.post("/api/simulate") { request, _ in
      let data = try await body(request, limit: limit)
      let scenario = try SpecParsing.scenario(data, file: "request body")
      let wanted = try seriesNames(request.uri.queryParameters.get("series").map { String($0) })
      let start = ContinuousClock.now
      let result = try Simulator.run(scenario, file: "request body")
      let elapsed = ContinuousClock.now - start
      if let wanted {
        for (i, name) in wanted.enumerated() where !result.observables.contains(where: { $0.name == name }) {
          throw APIError(
            .badRequest, "invalid_query",
            "series: '\(name)' is not an observable of model '\(scenario.model)' (known: \(result.observables.map(\.name).joined(separator: ", ")))",
            field: "series[\(i)]")
        }
      }
      return Reply.json(SimulationResponse(result, series: wanted, seconds: elapsed))
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
}
