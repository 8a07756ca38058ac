import CARTSimCore
import Foundation
import Hummingbird

/// An error answered as JSON: `{"error": code, "message": …, "field": dotted path, "file": …}`.
public struct APIError: Error, CustomStringConvertible {
  public var status: HTTPResponse.Status
  public var code: String
  public var message: String
  public var field: String?
  public var file: String?
  /// Seconds after which the client may try again (`Retry-After`), for 429 and 503.
  public var retryAfter: Int?

  public init(
    _ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil, file: String? = nil,
    retryAfter: Int? = nil
  ) {
    self.status = status
    self.code = code
    self.message = message
    self.field = field
    self.file = file
    self.retryAfter = retryAfter
  }

  public var description: String { "\(status.code) \(code): \(message)" }

  static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", what) }

  /// Bad input found by the validation code shared with the command line.
  static func invalid(_ e: InputError) -> APIError {
    APIError(
      .badRequest, "invalid_input", e.path.isEmpty ? e.message : "\(e.path): \(e.message)",
      field: e.path.isEmpty ? nil : e.path, file: e.file)
  }

  var body: ErrorResponse { ErrorResponse(error: code, message: message, field: field, file: file, status: Int(status.code)) }

  func response() -> Response {
    var r = Reply.json(body, status: status)
    if status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer realm=\"cartsim\"" }
    if let retryAfter { r.headers[.retryAfter] = String(retryAfter) }
    return r
  }
}

enum Reply {
  static func text(_ s: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
    var buffer = ByteBuffer()
    buffer.writeString(s)
    var headers = HTTPFields()
    headers[.contentType] = contentType
    headers[.contentLength] = String(buffer.readableBytes)
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
  }

  /// An `Encodable` answer (``JSONText``); one that cannot be encoded is a server error.
  static func json(_ v: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    guard let body = try? JSONText.render(v) else {
      return text(
        #"{"error": "internal", "message": "the answer could not be encoded", "status": 500}"# + "\n",
        contentType: "application/json; charset=utf-8", status: .internalServerError)
    }
    return text(body, contentType: "application/json; charset=utf-8", status: status)
  }

  /// JSON text already rendered (stored summaries, saved scenarios).
  static func rawJSON(_ s: String, status: HTTPResponse.Status = .ok, download: String? = nil) -> Response {
    var r = text(s, contentType: "application/json; charset=utf-8", status: status)
    if let download { r.headers[.contentDisposition] = "attachment; filename=\"\(download)\"" }
    return r
  }

  static func html(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
    text(s, contentType: "text/html; charset=utf-8", status: status)
  }

  /// A finished output file, streamed from disk.
  static func file(_ path: String, contentType: String, download: String?, context: some RequestContext) async throws -> Response {
    guard FileManager.default.fileExists(atPath: path) else { throw APIError.notFound("the file is missing from the data folder") }
    let body = try await FileIO().loadFile(path: path, context: context)
    var headers = HTTPFields()
    headers[.contentType] = contentType
    if let download { headers[.contentDisposition] = "attachment; filename=\"\(download)\"" }
    return Response(status: .ok, headers: headers, body: body)
  }
}

extension JSONOut {
  /// A JSON value from parsed input (to embed a stored document in a response).
  static func from(_ v: JSONValue) -> JSONOut {
    switch v {
    case .null: return .null
    case .bool(let b): return .bool(b)
    case .number(let x): return .num(x)
    case .string(let s): return .string(s)
    case .array(let a): return .array(a.map(from))
    case .object(let o): return .object(o.keys.sorted().map { ($0, from(o[$0]!)) })
    }
  }
}
