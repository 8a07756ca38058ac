import Foundation
import GRDB

/// Status of a trial run. `interrupted` runs stopped before finishing (server shutdown or
/// crash) and keep their completed shards: they can be resumed or rerun.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
  case queued, running, interrupted, complete, failed
}

/// A scenario saved from the explorer: the JSON text exactly as the user gave it.
public struct ScenarioRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "scenario"
  public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
  public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
  public var id: String
  public var name: String
  public var json: String
  public var createdAt: Double
}

/// A trial spec as the user gave it (the request body), and where it came from.
public struct TrialSpecRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "trial_spec"
  public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
  public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
  public var id: String
  public var name: String
  public var json: String
  public var source: String
  public var createdAt: Double
}

/// One run of a trial spec. Progress is persisted about once a second while it runs; a run
/// is split into `shardsTotal` shards run one after another, each a checkpoint.
public struct RunRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "run"
  public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
  public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
  public var id: String
  public var specId: String
  public var name: String
  public var status: RunStatus
  public var patientsTotal: Int
  public var patientsDone: Int
  public var shardsTotal: Int
  public var shardsDone: Int
  public var message: String?
  public var interruptions: Int
  public var rerunOf: String?
  public var createdAt: Double
  public var startedAt: Double?
  public var updatedAt: Double
  public var finishedAt: Double?
}

/// The result of a finished run: its summary (as summary.json) and where the files are.
public struct ResultRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "result"
  public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
  public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
  public var runId: String
  public var summaryJson: String
  public var directory: String
  public var patientsCsvBytes: Int
  public var completedAt: Double
}

/// The run store: one SQLite database (WAL) in the data folder, `cartsim.sqlite`.
public final class RunStore: Sendable {
  public let dbPool: DatabasePool
  public let path: String

  public init(path: String) throws {
    self.path = path
    var config = Configuration()
    config.foreignKeysEnabled = true
    config.busyMode = .timeout(10)
    dbPool = try DatabasePool(path: path, configuration: config)
    try Self.migrator.migrate(dbPool)
  }

  /// Schema migrations, from the first version on. Never edit a registered migration:
  /// add a new one.
  static var migrator: DatabaseMigrator {
    var m = DatabaseMigrator()
    m.registerMigration("v1") { db in
      try db.create(table: "scenario") { t in
        t.primaryKey("id", .text)
        t.column("name", .text).notNull()
        t.column("json", .text).notNull()
        t.column("created_at", .double).notNull()
      }
      try db.create(table: "trial_spec") { t in
        t.primaryKey("id", .text)
        t.column("name", .text).notNull()
        t.column("json", .text).notNull()
        t.column("source", .text).notNull()
        t.column("created_at", .double).notNull()
      }
      try db.create(table: "run") { t in
        t.primaryKey("id", .text)
        t.column("spec_id", .text).notNull().references("trial_spec")
        t.column("name", .text).notNull()
        t.column("status", .text).notNull()
        t.column("patients_total", .integer).notNull()
        t.column("patients_done", .integer).notNull().defaults(to: 0)
        t.column("shards_total", .integer).notNull()
        t.column("shards_done", .integer).notNull().defaults(to: 0)
        t.column("message", .text)
        t.column("interruptions", .integer).notNull().defaults(to: 0)
        t.column("rerun_of", .text)
        t.column("created_at", .double).notNull()
        t.column("started_at", .double)
        t.column("updated_at", .double).notNull()
        t.column("finished_at", .double)
      }
      try db.create(index: "run_created", on: "run", columns: ["created_at"])
      try db.create(table: "result") { t in
        t.primaryKey("run_id", .text).references("run", onDelete: .cascade)
        t.column("summary_json", .text).notNull()
        t.column("directory", .text).notNull()
        t.column("patients_csv_bytes", .integer).notNull()
        t.column("completed_at", .double).notNull()
      }
    }
    return m
  }

  /// Applied migration identifiers (for /health and tests).
  public func appliedMigrations() throws -> [String] {
    try dbPool.read { db in try Array(Self.migrator.appliedIdentifiers(db)).sorted() }
  }

  static func now() -> Double { Date().timeIntervalSince1970 }

  /// A new random identifier (16 hex digits).
  public static func newID() -> String {
    String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))
  }

  /// Identifiers are 16 lowercase hex digits; anything else is unknown (and never a path).
  public static func isValidID(_ s: String) -> Bool {
    s.count == 16 && s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
  }

  // MARK: Scenarios

  public func saveScenario(name: String, json: String) throws -> ScenarioRecord {
    let r = ScenarioRecord(id: Self.newID(), name: name, json: json, createdAt: Self.now())
    try dbPool.write { db in try r.insert(db) }
    return r
  }

  public func scenarios() throws -> [ScenarioRecord] {
    try dbPool.read { db in try ScenarioRecord.order(Column("created_at").desc).fetchAll(db) }
  }

  public func scenario(_ id: String) throws -> ScenarioRecord? {
    try dbPool.read { db in try ScenarioRecord.fetchOne(db, key: id) }
  }

  // MARK: Runs

  /// Records a spec and a queued run of it in one transaction.
  public func createRun(
    specName: String, specJSON: String, source: String, patients: Int, shards: Int,
    rerunOf: String? = nil, specId: String? = nil
  ) throws -> RunRecord {
    let t = Self.now()
    return try dbPool.write { db in
      let sid: String
      if let specId {
        sid = specId
      } else {
        let spec = TrialSpecRecord(id: Self.newID(), name: specName, json: specJSON, source: source, createdAt: t)
        try spec.insert(db)
        sid = spec.id
      }
      let run = RunRecord(
        id: Self.newID(), specId: sid, name: specName, status: .queued, patientsTotal: patients,
        patientsDone: 0, shardsTotal: shards, shardsDone: 0, message: nil, interruptions: 0,
        rerunOf: rerunOf, createdAt: t, startedAt: nil, updatedAt: t, finishedAt: nil)
      try run.insert(db)
      return run
    }
  }

  public func run(_ id: String) throws -> RunRecord? {
    try dbPool.read { db in try RunRecord.fetchOne(db, key: id) }
  }

  public func runs(limit: Int = 1000) throws -> [RunRecord] {
    try dbPool.read { db in try RunRecord.order(Column("created_at").desc).limit(limit).fetchAll(db) }
  }

  public func runs(status: RunStatus) throws -> [RunRecord] {
    try dbPool.read { db in
      try RunRecord.filter(Column("status") == status.rawValue).order(Column("created_at")).fetchAll(db)
    }
  }

  public func spec(_ id: String) throws -> TrialSpecRecord? {
    try dbPool.read { db in try TrialSpecRecord.fetchOne(db, key: id) }
  }

  public func result(_ runID: String) throws -> ResultRecord? {
    try dbPool.read { db in try ResultRecord.fetchOne(db, key: runID) }
  }

  /// Updates a run's fields in one transaction (`updated_at` is set).
  @discardableResult
  public func update(_ id: String, _ change: @escaping @Sendable (inout RunRecord) -> Void) throws -> RunRecord? {
    try dbPool.write { db in
      guard var r = try RunRecord.fetchOne(db, key: id) else { return nil }
      change(&r)
      r.updatedAt = Self.now()
      try r.update(db)
      return r
    }
  }

  /// Progress only, without reading the row first (called about once a second).
  public func setProgress(_ id: String, patientsDone: Int, shardsDone: Int) throws {
    try dbPool.write { db in
      try db.execute(
        sql: "UPDATE run SET patients_done = ?, shards_done = ?, updated_at = ? WHERE id = ? AND status = 'running'",
        arguments: [patientsDone, shardsDone, Self.now(), id])
    }
  }

  /// Marks a run complete and records its result in one transaction: the run is complete
  /// exactly when its result row exists.
  public func complete(_ id: String, summaryJSON: String, directory: String, patientsCsvBytes: Int) throws {
    let t = Self.now()
    try dbPool.write { db in
      try ResultRecord(
        runId: id, summaryJson: summaryJSON, directory: directory, patientsCsvBytes: patientsCsvBytes,
        completedAt: t
      ).save(db)
      try db.execute(
        sql: """
          UPDATE run SET status = 'complete', patients_done = patients_total, shards_done = shards_total,
            message = NULL, updated_at = ?, finished_at = ? WHERE id = ?
          """, arguments: [t, t, id])
    }
  }
}
