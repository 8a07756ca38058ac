import CARTModels
import CARTSimCore
import Foundation

/// The API's JSON answers, one `Encodable` type each, with the keys the OpenAPI document
/// names. Results the command line also writes (a simulation's summary, a model's
/// description, a trial's summary.json) are embedded as the library renders them.

/// A saved scenario in `/api/scenarios`.
struct ScenarioResponse: Encodable {
  var id: String
  var name: String
  var created_at: String
  var url: String

  init(_ r: ScenarioRecord) {
    (id, name, created_at, url) = (r.id, r.name, API.iso(r.createdAt), "/api/scenarios/\(r.id)")
  }
}

/// An example compiled into the server, in `/api/examples`.
struct ExampleResponse: Encodable {
  var name: String
  var title: String
  /// `scenario` or `trial`.
  var kind: String
  var url: String
}

/// `/health`.
struct HealthResponse: Encodable {
  struct Store: Encodable { var migrations: [String] }
  struct Jobs: Encodable {
    var running: Int
    var queued: Int
  }
  var status = "ok"
  var version: String
  var uptime_seconds: Double
  var store: Store
  var jobs: Jobs
}

/// A trial run: its state and progress, and once complete its summary and files.
struct TrialRunResponse: Encodable {
  struct Progress: Encodable {
    var patients_done: Int
    var patients_total: Int
    var fraction: Double
    var shards_done: Int
    var shards_total: Int
  }
  struct Files: Encodable {
    var patients_csv: String
    var km_csv: String
    var summary_json: String
    var report_html: String
  }
  var id: String
  var name: String
  var status: String
  var progress: Progress
  @Nullable var message: String?
  var interruptions: Int
  @Nullable var rerun_of: String?
  var created_at: String
  @Nullable var started_at: String?
  var updated_at: String
  @Nullable var finished_at: String?
  var url: String
  var page: String
  /// The run's summary.json, once complete.
  var summary: JSONOut?
  var files: Files?

  init(_ r: RunRecord, result: ResultRecord?) {
    (id, name, status) = (r.id, r.name, r.status.rawValue)
    progress = Progress(
      patients_done: r.patientsDone, patients_total: r.patientsTotal,
      fraction: r.patientsTotal > 0 ? Double(r.patientsDone) / Double(r.patientsTotal) : 0,
      shards_done: r.shardsDone, shards_total: r.shardsTotal)
    (message, interruptions, rerun_of) = (r.message, r.interruptions, r.rerunOf)
    (created_at, started_at, updated_at, finished_at) = (
      API.iso(r.createdAt), r.startedAt.map(API.iso), API.iso(r.updatedAt), r.finishedAt.map(API.iso)
    )
    (url, page) = ("/api/trials/\(r.id)", "/trials/\(r.id)")
    if let result, let json = try? JSONValue.decode(Data(result.summaryJson.utf8), file: "summary.json") {
      summary = .from(json)
      let base = "/api/trials/\(r.id)"
      files = Files(
        patients_csv: "\(base)/patients.csv", km_csv: "\(base)/km.csv", summary_json: "\(base)/summary.json",
        report_html: "\(base)/report.html")
    }
  }
}

/// `POST /api/simulate`: the summary (as `summary.json`), the time courses asked for, the
/// infusion days and the plots' reference lines.
struct SimulationResponse: Encodable {
  struct Series: Encodable {
    var unit: String
    var description: String
    /// Non-finite values (a solver that stopped early) are `null`.
    var values: [Double?]
  }
  struct TimeCourse: Encodable {
    var time_unit = "day"
    var times: [Double]
    var series: [String: Series]
  }
  struct Reference: Encodable {
    var y: Double
    var label: String
  }
  var summary: JSONOut
  var time_course: TimeCourse
  var infusion_days: [Double]
  var references: [String: [Reference]]
  var compute_ms: Double

  /// `series` names observables of the result's model (checked by the route).
  init(_ r: SimulationResult, series: [String]?, seconds: Duration) {
    summary = ResultWriter.summaryJSON(r)
    var chosen: [String: Series] = [:]
    for o in r.observables where series?.contains(o.name) ?? true {
      chosen[o.name] = Series(unit: o.unit, description: o.description, values: (r.series(o.name) ?? []).map { $0.isFinite ? $0 : nil })
    }
    time_course = TimeCourse(times: r.times, series: chosen)
    infusion_days = r.scenario.regimen.infusions.map(\.day)
    references = Dictionary(
      r.plotReferences.map { ($0.series, $0.lines.map { Reference(y: $0.y, label: $0.label) }) }, uniquingKeysWith: { a, _ in a })
    compute_ms = Double(seconds.components.seconds) * 1000 + Double(seconds.components.attoseconds) / 1e15
  }
}

/// An error's body: `{"error": code, "message": …, "field": dotted path, "file": …, "status": …}`.
struct ErrorResponse: Encodable {
  var error: String
  var message: String
  var field: String?
  var file: String?
  var status: Int
}
