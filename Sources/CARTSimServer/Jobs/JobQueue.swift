import CARTSimCore
import Foundation
import Parallel
import Synchronization

/// A flag set from one thread and polled from others.
final class Flag: Sendable {
  private let value = Atomic(false)
  func set() { value.store(true, ordering: .releasing) }
  var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Throttles progress writes to the store to about one a second.
final class ProgressSink: Sendable {
  private let last = Shared(Date.distantPast)
  private let store: RunStore
  private let runID: String
  private let base: Int
  private let shardsDone: Int

  init(store: RunStore, runID: String, base: Int, shardsDone: Int) {
    self.store = store
    self.runID = runID
    self.base = base
    self.shardsDone = shardsDone
  }

  func report(done: Int) {
    let due = last.withLock { last in
      let now = Date()
      guard now.timeIntervalSince(last) >= 1 else { return false }
      last = now
      return true
    }
    guard due else { return }
    try? store.setProgress(runID, patientsDone: base + done, shardsDone: shardsDone)
  }
}

/// The background trial jobs: a FIFO of queued runs, at most `maxConcurrent` running at once,
/// each on its own thread. A run is split into shards run one after another; a shard directory
/// with `aggregate.json` is complete, so an interrupted run resumes from the first shard that
/// is not, and the merged result equals an uninterrupted run's.
public actor JobQueue {
  public struct Options: Sendable {
    public var maxConcurrent = 1
    public var threadsPerJob = ProcessInfo.processInfo.activeProcessorCount
    /// Patients per shard (a checkpoint after each shard).
    public var shardPatients = 250
    /// Runs waiting beyond the running ones; more are refused (``QueueFull``).
    public var maxQueued = 16
    public init() {}
  }

  let store: RunStore
  let runsDir: String
  let options: Options
  private var pending: [String] = []
  private var running: [String: Flag] = [:]
  private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
  private var accepting = true

  public init(store: RunStore, runsDir: String, options: Options) {
    self.store = store
    self.runsDir = runsDir
    self.options = options
  }

  /// Number of shards for a trial of `patients` patients.
  public nonisolated func shardCount(patients: Int) -> Int {
    max(1, min(1000, (patients + options.shardPatients - 1) / options.shardPatients))
  }

  public nonisolated func directory(_ runID: String) -> String { (runsDir as NSString).appendingPathComponent(runID) }
  public nonisolated func resultDirectory(_ runID: String) -> String { (directory(runID) as NSString).appendingPathComponent("result") }

  /// Startup recovery: a run left `running` by a crash is marked interrupted (or complete if
  /// its result was fully written before the crash); queued runs are queued again.
  public func recover() throws {
    for r in try store.runs(status: .running) {
      if try store.result(r.id) != nil {
        try store.update(r.id) { $0.status = .complete }
        continue
      }
      // Progress as checkpointed on disk: the completed shards.
      let complete = (0..<r.shardsTotal).filter { i in
        FileManager.default.fileExists(
          atPath: ((directory(r.id) as NSString).appendingPathComponent("shards") as NSString)
            .appendingPathComponent(String(format: "%04d/aggregate.json", i)))
      }
      let patients = complete.reduce(0) { $0 + TrialRunner.range(total: r.patientsTotal, shard: ($1, r.shardsTotal)).count }
      try store.update(r.id) {
        $0.status = .interrupted
        $0.interruptions += 1
        $0.shardsDone = complete.count
        $0.patientsDone = patients
        $0.message =
          "interrupted: the server stopped without checkpointing (crash or kill) after \(complete.count) of \($0.shardsTotal) shards; resume to continue from there, or rerun"
      }
    }
    for r in try store.runs(status: .queued) { enqueue(r.id) }
  }

  /// Refused: every job slot is taken and ``Options/maxQueued`` runs already wait.
  public struct QueueFull: Error, Sendable {
    public let queued: Int
  }

  /// Creates a run with `create` and queues it, both only when the queue has room: the check
  /// and the insertion happen without another request in between.
  public func admit(_ create: @Sendable () throws -> RunRecord) throws -> RunRecord {
    guard hasRoom else { throw QueueFull(queued: pending.count) }
    let run = try create()
    enqueue(run.id)
    return run
  }

  /// Whether one more run may start now or wait.
  public var hasRoom: Bool { running.count + pending.count < options.maxConcurrent + options.maxQueued }

  /// Queues a run (queued in the store) and starts it when a slot is free.
  public func enqueue(_ runID: String) {
    guard accepting, !pending.contains(runID), running[runID] == nil else { return }
    pending.append(runID)
    pump()
  }

  /// Resumes an interrupted or failed run from its last checkpoint.
  public func resume(_ runID: String) throws -> RunRecord? {
    guard hasRoom else { throw QueueFull(queued: pending.count) }
    let r = try store.update(runID) { r in
      guard r.status == .interrupted || r.status == .failed else { return }
      r.status = .queued
      r.message = "queued to resume from shard \(r.shardsDone + 1) of \(r.shardsTotal)"
      r.finishedAt = nil
    }
    if r?.status == .queued { enqueue(runID) }
    return r
  }

  public var runningCount: Int { running.count }
  public var pendingCount: Int { pending.count }

  /// Waits until the run is no longer queued or running in this process.
  public func wait(_ runID: String) async {
    guard pending.contains(runID) || running[runID] != nil else { return }
    await withCheckedContinuation { waiters[runID, default: []].append($0) }
  }

  /// Graceful shutdown: no new jobs; running jobs stop after the patients in flight and keep
  /// their completed shards (status interrupted); queued runs stay queued for the next start.
  public func shutdown() async {
    accepting = false
    pending.removeAll()
    let ids = Array(running.keys)
    for (_, flag) in running { flag.set() }
    for id in ids { await wait(id) }
  }

  /// For tests: stops the jobs as a crash would, without updating the store.
  public func simulateCrash() async {
    accepting = false
    pending.removeAll()
    let ids = Array(running.keys)
    for (_, flag) in running { flag.set() }
    crashed = true
    for id in ids { await wait(id) }
  }
  private var crashed = false

  private func pump() {
    while accepting, running.count < options.maxConcurrent, !pending.isEmpty {
      let id = pending.removeFirst()
      let flag = Flag()
      running[id] = flag
      let worker = TrialWorker(store: store, runID: id, dir: directory(id), threads: options.threadsPerJob, cancel: flag)
      let thread = Thread { [weak self] in
        let outcome = worker.run()
        Task { await self?.finished(id, outcome) }
      }
      thread.name = "cartsim-trial-\(id)"
      thread.stackSize = 4 << 20
      thread.start()
    }
  }

  private func finished(_ id: String, _ outcome: TrialWorker.Outcome) {
    running[id] = nil
    if !crashed {
      switch outcome {
      case .complete: break
      case .cancelled(let shardsDone, let total, let patientsDone):
        _ = try? store.update(id) {
          $0.status = .interrupted
          // Progress as checkpointed: the patients of the shard in flight are run again.
          $0.shardsDone = shardsDone
          $0.patientsDone = patientsDone
          $0.interruptions += 1
          $0.message = "interrupted by server shutdown after \(shardsDone) of \(total) shards (checkpointed); resume to continue"
        }
      case .failed(let message):
        _ = try? store.update(id) {
          $0.status = .failed
          $0.message = message
          $0.finishedAt = RunStore.now()
        }
      }
    }
    for w in waiters.removeValue(forKey: id) ?? [] { w.resume() }
    pump()
  }
}

/// Runs one trial run to completion (or cancellation) on the calling thread.
struct TrialWorker: Sendable {
  enum Outcome: Sendable {
    case complete
    case cancelled(shardsDone: Int, total: Int, patientsDone: Int)
    case failed(String)
  }

  let store: RunStore
  let runID: String
  let dir: String
  let threads: Int
  let cancel: Flag

  func run() -> Outcome {
    let fm = FileManager.default
    do {
      guard let record = try store.run(runID), let specRecord = try store.spec(record.specId) else {
        return .failed("the run or its spec is missing from the store")
      }
      let spec = try SpecParsing.trialSpec(
        Data(specRecord.json.utf8), file: SpecParsing.displayName(source: specRecord.source, runID: runID))
      let total = spec.totalPatients
      let k = record.shardsTotal
      let shardsDir = (dir as NSString).appendingPathComponent("shards")
      try fm.createDirectory(atPath: shardsDir, withIntermediateDirectories: true)
      func shardDir(_ i: Int) -> String { (shardsDir as NSString).appendingPathComponent(String(format: "%04d", i)) }
      func isComplete(_ i: Int) -> Bool { fm.fileExists(atPath: (shardDir(i) as NSString).appendingPathComponent("aggregate.json")) }

      var done = (0..<k).filter(isComplete).count
      var patientsDone = (0..<k).filter(isComplete).reduce(0) { $0 + TrialRunner.range(total: total, shard: ($1, k)).count }
      let (shardsAtStart, patientsAtStart) = (done, patientsDone)
      try store.update(runID) {
        $0.status = .running
        $0.startedAt = $0.startedAt ?? RunStore.now()
        $0.shardsDone = shardsAtStart
        $0.patientsDone = patientsAtStart
        $0.message = shardsAtStart > 0 ? "resumed from shard \(shardsAtStart + 1) of \(k)" : nil
      }
      for i in 0..<k where !isComplete(i) {
        if cancel.isSet { return .cancelled(shardsDone: done, total: k, patientsDone: patientsDone) }
        var options = TrialRunner.Options()
        options.threads = threads
        options.shard = (i, k)
        let sink = ProgressSink(store: store, runID: runID, base: patientsDone, shardsDone: done)
        options.onProgress = { d, _ in sink.report(done: d) }
        let flag = cancel
        options.isCancelled = { flag.isSet }
        do {
          try TrialRunner.run(spec, options: options, to: shardDir(i))
        } catch is TrialRunner.Cancelled {
          return .cancelled(shardsDone: done, total: k, patientsDone: patientsDone)
        }
        done += 1
        patientsDone += TrialRunner.range(total: total, shard: (i, k)).count
        try store.setProgress(runID, patientsDone: patientsDone, shardsDone: done)
      }
      // All shards are complete: merge and write the report into result.partial, then rename.
      let partial = (dir as NSString).appendingPathComponent("result.partial")
      let final = (dir as NSString).appendingPathComponent("result")
      try? fm.removeItem(atPath: partial)
      try TrialMerge.merge((0..<k).map(shardDir), to: partial)
      let results = try TrialResults.load(dir: partial)
      try results.write(to: partial)
      if fm.fileExists(atPath: final) { try fm.removeItem(atPath: final) }
      try fm.moveItem(atPath: partial, toPath: final)
      let summary = try String(contentsOfFile: (final as NSString).appendingPathComponent("summary.json"), encoding: .utf8)
      let bytes = (try? fm.attributesOfItem(atPath: (final as NSString).appendingPathComponent("patients.csv"))[.size] as? Int) ?? 0
      try store.complete(runID, summaryJSON: summary, directory: final, patientsCsvBytes: bytes)
      try? fm.removeItem(atPath: shardsDir)
      return .complete
    } catch let e as InputError {
      return .failed("\(e)")
    } catch {
      return .failed("\(error)")
    }
  }
}
