import ArgumentParser
import CARTSimCore
import CARTSimServer
import Foundation

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve the web app: scenario explorer, trial workbench, models, and the JSON API.",
    discussion: """
      Pages at / (explorer), /trials and /models; the API is described at /api/openapi.json. \
      Runs and saved scenarios are kept in DIR/cartsim.sqlite and trial outputs in DIR/runs/. \
      SIGINT or SIGTERM stops the server gracefully: requests in flight finish and running \
      trials are checkpointed (resume them from the Trials page or POST /api/trials/ID/resume). \
      With a token (--token or the CARTSIM_TOKEN environment variable) every route except \
      /health needs 'Authorization: Bearer TOKEN'; open pages once as /?token=TOKEN.
      """)

  @Option(help: "Address to listen on.")
  var host: String = "127.0.0.1"

  @Option(help: "Port to listen on.")
  var port: Int = 8080

  @Option(help: "Data folder (run store and trial outputs); created if missing.")
  var data: String = "cartsim-data"

  @Option(help: "Bearer token required on every route except /health (default: $CARTSIM_TOKEN, else none).")
  var token: String?

  @Option(help: "Trials running at once; more wait in a queue.")
  var jobs: Int = 1

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Largest request body in bytes (larger ones get 413).")
  var maxBody: Int = 1 << 20

  @Option(help: "Trials waiting beyond the running ones; more get 503 with Retry-After.")
  var queue: Int = 16

  @Option(help: "Seconds a client has to send a whole request before its connection is closed.")
  var requestTimeout: Int = 30

  @Flag(help: "Do not log one line per request.")
  var quiet = false

  func validate() throws {
    guard (1...65535).contains(port) else { throw ValidationError("--port must be 1…65535") }
    try checkOption(jobs, 1...64, "--jobs")
    try checkOption(maxBody, 1024...(1 << 30), "--max-body")
    try checkOption(queue, 0...10_000, "--queue")
    try checkOption(requestTimeout, 1...3600, "--request-timeout")
    if let token, token.isEmpty { throw ValidationError("--token must not be empty") }
  }

  func run() async throws {
    var config = ServerConfig()
    config.host = host
    config.port = port
    config.dataDir = data
    let env = ProcessInfo.processInfo.environment["CARTSIM_TOKEN"]
    config.token = token ?? (env?.isEmpty == false ? env : nil)
    config.maxConcurrentJobs = jobs
    config.threadsPerJob = threadsOption.count
    config.maxBodyBytes = maxBody
    config.maxQueuedJobs = queue
    config.requestTimeoutSeconds = requestTimeout
    config.logRequests = !quiet
    do { try await runServer(config: config) } catch { throw fail(error) }
  }
}
