import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

/// The JSON API (described in ``OpenAPI/document``, served at `/api/openapi.json`): one file
/// per route group (`API+Simulation.swift`, `API+Scenarios.swift`, `API+Trials.swift`,
/// `API+Models.swift`, `API+Design.swift`); each route reads and checks its input, calls the
/// library, and renders the result.
enum API {
  static func register(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    registerService(on: router, server: server)
    registerSimulation(on: router, server: server)
    registerScenarios(on: router, server: server)
    registerTrials(on: router, server: server)
    registerModels(on: router, server: server)
    registerDesign(on: router, server: server)
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

  static func fileStem(_ name: String) -> String {
    let s = String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    let t = s.split(separator: "-").joined(separator: "-")
    return t.isEmpty ? "cartsim" : String(t.prefix(60))
  }
  static func fileName(_ name: String) -> String { fileStem(name) + ".json" }

  static func iso(_ t: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t)) }
}
