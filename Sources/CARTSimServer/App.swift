import CARTSimCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Everything `cartsim serve` is configured with.
public struct ServerConfig: Sendable {
  public var host = "127.0.0.1"
  public var port = 8080
  /// Data folder: `cartsim.sqlite` (the run store) and `runs/<id>/` (trial outputs).
  public var dataDir = "cartsim-data"
  /// When set, every route except `/health` needs `Authorization: Bearer <token>`.
  public var token: String? = nil
  /// Trials running at once; more wait in a queue.
  public var maxConcurrentJobs = 1
  /// Threads per running trial.
  public var threadsPerJob = ProcessInfo.processInfo.activeProcessorCount
  /// Patients per checkpoint shard.
  public var shardPatients = 250
  /// Largest request body accepted (bytes); larger ones get 413.
  public var maxBodyBytes = 1 << 20
  /// Log one line per request to standard error.
  public var logRequests = true
  /// Trials waiting beyond the running ones; more get 503 with `Retry-After`.
  public var maxQueuedJobs = 16
  /// Seconds a client has to send a whole request (after connecting, or after the previous
  /// response on a kept-alive connection) before the connection is closed.
  public var requestTimeoutSeconds = 30
  public init() {}
}

/// The application state shared by the routes: configuration, run store and job queue.
public final class CARTSimServer: Sendable {
  public let config: ServerConfig
  public let store: RunStore
  public let jobs: JobQueue
  public let started = Date()
  /// Held while this server runs; see ``DataFolderLock``.
  let lock: DataFolderLock

  /// Opens (or creates) the data folder and the store, migrates it, and recovers runs an
  /// earlier process left running or queued.
  public init(config: ServerConfig) async throws {
    self.config = config
    let fm = FileManager.default
    let runsDir = (config.dataDir as NSString).appendingPathComponent("runs")
    do { try fm.createDirectory(atPath: runsDir, withIntermediateDirectories: true) } catch {
      throw InputError(file: config.dataDir, path: "", message: "cannot create the data folder (\(error.localizedDescription))")
    }
    lock = try DataFolderLock(folder: config.dataDir)
    store = try RunStore(path: (config.dataDir as NSString).appendingPathComponent("cartsim.sqlite"))
    var o = JobQueue.Options()
    o.maxConcurrent = max(1, config.maxConcurrentJobs)
    o.threadsPerJob = max(1, config.threadsPerJob)
    o.shardPatients = max(1, config.shardPatients)
    o.maxQueued = max(0, config.maxQueuedJobs)
    jobs = JobQueue(store: store, runsDir: runsDir, options: o)
    try await jobs.recover()
  }

  /// Graceful shutdown of the background jobs: running trials are checkpointed.
  public func shutdown() async {
    await jobs.shutdown()
    lock.release()
  }

  /// For tests: stops the jobs as a crash would (the store is not updated), and lets the
  /// folder go as the end of the process would.
  public func simulateCrash() async {
    await jobs.simulateCrash()
    lock.release()
  }

  /// The Hummingbird application serving the API and the pages.
  public func makeApplication(logger: Logger? = nil) -> Application<RouterResponder<BasicRequestContext>> {
    let router = Router()
    if config.logRequests { router.add(middleware: RequestLogMiddleware()) }
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: RequestGuardMiddleware())
    router.add(middleware: TokenMiddleware(token: config.token))
    API.register(on: router, server: self)
    Pages.register(on: router, server: self)
    var log = logger ?? Logger(label: "cartsim")
    if logger == nil { log.logLevel = .warning }
    let timeout = TimeAmount.seconds(Int64(max(1, config.requestTimeoutSeconds)))
    return Application(
      router: router,
      server: .http1(configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(timeout: timeout)])),
      configuration: .init(address: .hostname(config.host, port: config.port), serverName: "cartsim"),
      logger: log)
  }
}

/// Runs `cartsim serve`: serves until SIGINT or SIGTERM, then lets requests in flight finish
/// and checkpoints the running trials before returning.
public func runServer(config: ServerConfig) async throws {
  let server = try await CARTSimServer(config: config)
  let app = server.makeApplication()
  FileHandle.standardError.write(
    Data(
      "cartsim serve: http://\(config.host):\(config.port)/ (data \(config.dataDir)\(config.token == nil ? "" : ", bearer token required"))\n"
        .utf8))
  try await app.runService()
  FileHandle.standardError.write(Data("cartsim serve: shutting down; checkpointing running trials\n".utf8))
  await server.shutdown()
  FileHandle.standardError.write(Data("cartsim serve: stopped\n".utf8))
}
