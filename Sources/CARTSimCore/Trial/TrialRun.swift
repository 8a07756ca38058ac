import CARTModels
import CSVKit
import Foundation
import ODEKit
import Parallel

/// "1 thread", "2 threads".
func threadCount(_ n: Int) -> String { n == 1 ? "1 thread" : "\(n) threads" }

/// Runs a trial (or one shard of it) on several threads and writes `patients.csv` (rows in
/// arm and id order, streamed as patients finish) and `aggregate.json`. Memory stays flat in
/// the number of patients: rows are written as soon as all earlier ones are.
public enum TrialRunner {
  public struct Options: Sendable {
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Shard `index` of `count` (0-based index).
    public var shard = (index: 0, count: 1)
    public var progress = false
    /// Called (from worker threads) after each patient with (done, total) of this shard.
    public var onProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    /// Polled between patients; when it returns true the run stops and throws
    /// ``TrialRunner/Cancelled`` without writing patients.csv or aggregate.json.
    public var isCancelled: (@Sendable () -> Bool)? = nil
    public init() {}
  }

  /// The run was stopped by `Options.isCancelled`; nothing complete-looking was written.
  public struct Cancelled: Error, CustomStringConvertible {
    public var description: String { "the trial run was cancelled" }
  }

  public struct Report: Sendable {
    public var patients: Int
    public var failed: Int
    public var seconds: Double

    /// "N patients in S s (R patients/s on T threads), F solver failures".
    public func line(threads: Int) -> String {
      String(
        format: "%d patients in %.1f s (%.1f patients/s on %@), %d solver failures", patients, seconds,
        Double(patients) / max(seconds, 1e-9), threadCount(threads), failed)
    }
  }

  /// The global patient range of a shard: contiguous blocks, so that shards concatenate.
  public static func range(total: Int, shard: (index: Int, count: Int)) -> Range<Int> {
    (total * shard.index / shard.count)..<(total * (shard.index + 1) / shard.count)
  }

  /// Removes the outputs an earlier run left in `dir`, which must not be taken for this one's.
  /// A checkpoint (`patients.csv.partial`) stays: the run resumes from it.
  static func removeEarlierResults(in dir: String) {
    for stale in ["patients.csv", "summary.json", "aggregate.json", "km.csv", "report.html", "targets.json", "plots"] {
      try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(stale))
    }
  }

  /// Simulates the shard's patients into `dir` (patients.csv and aggregate.json).
  @discardableResult
  public static func run(_ spec: TrialSpec, options: Options, to dir: String) throws -> Report {
    try ResultWriter.createDirectory(dir)
    removeEarlierResults(in: dir)
    // Each arm's parameters (model defaults and the arm's overrides), checked once.
    let armParameters = try spec.arms.map { try Simulator.parameters($0.scenario, file: spec.file) }
    let offsets = spec.arms.reduce(into: [0]) { $0.append($0.last! + $1.patients) }
    let range = Self.range(total: spec.totalPatients, shard: options.shard)
    let csvPath = (dir as NSString).appendingPathComponent("patients.csv")
    let writer = try OrderedRowWriter(
      path: csvPath, header: PatientTable.header(spec), first: range.lowerBound,
      state: (aggregate: TrialAggregate(spec: spec, range: range), failed: 0)
    ) { (state: inout (aggregate: TrialAggregate, failed: Int), record: PatientRecord) in
      state.aggregate.add(record)
      if !record.succeeded { state.failed += 1 }
    }
    let progress = ProgressBar(total: range.count, unit: "patients", enabled: options.progress)
    let start = Date()
    let chunk = 8
    let total = range.count
    DispatchQueue.concurrentPerform(iterations: max(1, options.threads)) { _ in
      while !(options.isCancelled?() ?? false), let block = writer.nextBlock(end: range.upperBound, size: chunk) {
        for g in block {
          let arm = offsets.lastIndex(where: { $0 <= g })!
          let record = spec.simulatePatient(arm: arm, id: g - offsets[arm], armParameters: armParameters[arm])
          let done = writer.deliver(g, PatientTable.row(record, spec: spec), record)
          progress.tick()
          options.onProgress?(done, total)
        }
      }
    }
    progress.finish()
    if options.isCancelled?() ?? false {
      writer.abandon()
      throw Cancelled()
    }
    let (aggregate, failed) = try writer.commit()
    try ResultWriter.atomicWrite(aggregate.json.render() + "\n", to: (dir as NSString).appendingPathComponent("aggregate.json"))
    return Report(patients: range.count, failed: failed, seconds: Date().timeIntervalSince(start))
  }
}

/// The layout of patients.csv.
public enum PatientTable {
  public static let endpointColumns = [
    "particle", "dose_per_m2", "infusions", "expanded_infusions", "lymphodepleted_infusions", "expanded_after_lymphodepletion",
    "cmax_cells_per_uL", "tmax_days", "auc0_28_cells_day_per_uL", "car_t_persistence_days", "il6_peak_pg_per_mL",
    "crs_grade", "dlt", "best_response", "best_pct_change", "response_day", "progression_day",
    "pfs_days", "pfs_event", "os_days", "os_event",
  ]

  /// Arm names, covariate names and categories may hold commas, quotes or line breaks: every
  /// field goes through ``CSV/field(_:delimiter:)``, which leaves all others as they are.
  public static func header(_ spec: TrialSpec) -> String {
    CSV.row(
      ["arm", "id", "status"] + spec.population.covariateColumns + spec.population.parameterColumns.map { "param_" + $0 }
        + endpointColumns)
  }

  static func num(_ x: Double?) -> String { x.map(formatNumber) ?? "" }
  static func flag(_ b: Bool?) -> String { b.map { $0 ? "1" : "0" } ?? "" }

  static func row(_ r: PatientRecord, spec: TrialSpec) -> String {
    var f = [spec.arms[r.arm].name, String(r.id), r.status]
    for c in spec.population.covariateColumns { f.append(r.covariates[c]?.description ?? "") }
    for p in spec.population.parameterColumns { f.append(num(r.parameters.first { $0.name == p }?.value)) }
    f += [
      r.particle.map(String.init) ?? "", num(r.dosePerM2), r.infusions.map(String.init) ?? "", r.expandedInfusions.map(String.init) ?? "",
      r.lymphodepletedInfusions.map(String.init) ?? "", r.expandedLymphodepletedInfusions.map(String.init) ?? "",
      num(r.cmax), num(r.tmax), num(r.auc028), num(r.persistenceDays), num(r.il6Peak),
      r.crsGrade.map(String.init) ?? "", flag(r.dlt), r.best?.rawValue ?? "", num(r.bestPercentChange),
      num(r.responseDay), num(r.progressionDay), num(r.pfsDays), flag(r.pfsEvent), num(r.osDays), flag(r.osEvent),
    ]
    return CSV.row(f)
  }
}
