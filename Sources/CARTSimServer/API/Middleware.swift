import CARTSimCore
import DoseFinding
import Foundation
import Hummingbird

/// One line per request on standard error: time, method, path, status, duration.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    let start = ContinuousClock.now
    let status: Int
    do {
      let r = try await next(request, context)
      status = Int(r.status.code)
      log(request, status, start)
      return r
    } catch {
      status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
      log(request, status, start)
      throw error
    }
  }

  func log(_ request: Request, _ status: Int, _ start: ContinuousClock.Instant) {
    let d = ContinuousClock.now - start
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    let line =
      "\(ISO8601DateFormatter().string(from: Date())) \(request.method.rawValue) \(request.uri.path) \(status) \(String(format: "%.1f", ms)) ms\n"
    FileHandle.standardError.write(Data(line.utf8))
  }
}

/// Turns every error into a response: JSON for the API, a short page otherwise.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let e as APIError {
      return respond(e, request)
    } catch let e as InputError {
      return respond(.invalid(e), request)
    } catch let e as DoseFindingInputError {
      return respond(.invalid(e), request)
    } catch let e as JobQueue.QueueFull {
      return respond(
        APIError(
          .serviceUnavailable, "queue_full",
          "\(e.queued) trials are already waiting; try again later", retryAfter: 30), request)
    } catch let e as any HTTPResponseError {
      let code: String
      switch e.status {
      case .notFound: code = "not_found"
      case .contentTooLarge: code = "body_too_large"
      case .methodNotAllowed: code = "method_not_allowed"
      default: code = "http_error"
      }
      return respond(
        APIError(e.status, code, e.status == .notFound ? "no such resource: \(request.uri.path)" : e.status.reasonPhrase), request)
    } catch {
      return respond(APIError(.internalServerError, "internal_error", "\(error)"), request)
    }
  }

  func respond(_ e: APIError, _ request: Request) -> Response {
    if request.uri.path.hasPrefix("/api/") || request.uri.path == "/health" { return e.response() }
    var r = Reply.html(Pages.errorPage(e), status: e.status)
    if e.status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer realm=\"cartsim\"" }
    if let s = e.retryAfter { r.headers[.retryAfter] = String(s) }
    return r
  }
}

/// Refuses what another web site could make a browser send here. A request whose `Origin` is
/// not this server's gets 403; a request with a body that is not JSON gets 415. A cross-site
/// page can only send `application/json` after a CORS preflight, which this server never
/// grants, so together these keep a server without a token from being driven by any page
/// its user happens to visit.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    if let origin = request.headers[.origin] {
      guard Self.sameOrigin(origin, authority: request.head.authority) else {
        throw APIError(
          .forbidden, "forbidden_origin", "requests from the page at '\(origin)' are not accepted; only this server's own pages may call it"
        )
      }
    }
    if [.post, .put, .patch].contains(request.method) {
      let length = request.headers[.contentLength].flatMap { Int($0) }
      let hasBody = (length ?? 0) > 0 || request.headers[.transferEncoding] != nil
      let type = request.headers[.contentType]
      if let type, !Self.isJSON(type) {
        throw APIError(
          .unsupportedMediaType, "unsupported_media_type", "the request body must be JSON (Content-Type: application/json), not '\(type)'")
      }
      if type == nil && hasBody {
        throw APIError(
          .unsupportedMediaType, "unsupported_media_type", "the request body must be JSON: send 'Content-Type: application/json'")
      }
    }
    return try await next(request, context)
  }

  /// `application/json` or a `+json` type, with any parameters.
  static func isJSON(_ contentType: String) -> Bool {
    let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
  }

  /// Whether `origin` (`scheme://host[:port]`) names the host the request was sent to.
  static func sameOrigin(_ origin: String, authority: String?) -> Bool {
    guard let authority, let r = origin.range(of: "://") else { return false }
    let host = origin[r.upperBound...]
    guard origin.hasPrefix("http://") || origin.hasPrefix("https://"), !host.contains("/") else { return false }
    return host.lowercased() == authority.lowercased()
  }
}

/// Optional bearer token for every route except `/health`. Browsers cannot add headers to
/// page loads, so a page opened as `?token=…` sets an HTTP-only cookie that later requests
/// (pages and the scripts' API calls) carry.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: String?

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
    guard let token, request.uri.path != "/health" else { return try await next(request, context) }
    var given: String? = nil
    if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
      given = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    } else if let cookies = request.headers[.cookie] {
      for part in cookies.split(separator: ";") {
        let kv = part.trimmingCharacters(in: .whitespaces)
        if kv.hasPrefix("cartsim_token=") { given = String(kv.dropFirst("cartsim_token=".count)) }
      }
    }
    var fromQuery = false
    if given == nil, let q = request.uri.queryParameters.get("token") {
      given = q
      fromQuery = true
    }
    guard let given, Self.equal(given, token) else {
      throw APIError(
        .unauthorized, "unauthorized",
        "this server needs a bearer token: send 'Authorization: Bearer <token>' (pages: open them once with ?token=<token>)")
    }
    var r = try await next(request, context)
    if fromQuery {
      r.headers[.setCookie] = "cartsim_token=\(token); Path=/; HttpOnly; SameSite=Strict"
    }
    return r
  }

  /// Compares in time independent of where the strings differ.
  static func equal(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
    return diff == 0
  }
}
