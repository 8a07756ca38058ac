import CARTModels
import CSVKit
import Foundation
import ODEKit

/// Writes a simulation's files: `timecourse.csv`, `summary.json` and `plots/*.svg`.
///
/// Each file is written under a temporary name and renamed when complete, and
/// `summary.json` is written last, so a directory with a summary holds a whole result.
public enum ResultWriter {
  public static func write(_ r: SimulationResult, to dir: String) throws {
    let fm = FileManager.default
    let plots = (dir as NSString).appendingPathComponent("plots")
    try createDirectory(plots)
    // A stale summary from an earlier run must not describe this one.
    try? fm.removeItem(atPath: (dir as NSString).appendingPathComponent("summary.json"))
    for (name, svg) in Plots.make(r) { try atomicWrite(svg, to: (plots as NSString).appendingPathComponent(name)) }
    try atomicWrite(csv(r), to: (dir as NSString).appendingPathComponent("timecourse.csv"))
    try atomicWrite(summaryJSON(r).render() + "\n", to: (dir as NSString).appendingPathComponent("summary.json"))
  }

  /// Creates the folder `dir` (and its parents) if missing; a folder that cannot be created is
  /// bad input naming it.
  public static func createDirectory(_ dir: String) throws {
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw InputError(file: dir, path: "", message: "cannot create the output directory (\(error.localizedDescription))")
    }
  }

  /// Writes `text` to `path` under a temporary name, renamed when complete.
  public static func writeText(_ text: String, to path: String) throws { try atomicWrite(text, to: path) }

  static func atomicWrite(_ text: String, to path: String) throws {
    let tmp = path + ".partial"
    do {
      try text.write(toFile: tmp, atomically: false, encoding: .utf8)
      if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
      try FileManager.default.moveItem(atPath: tmp, toPath: path)
    } catch {
      throw InputError(file: path, path: "", message: "cannot write (\(error.localizedDescription))")
    }
  }

  /// Time in days, every state, then every observable; units in brackets in the header.
  public static func csv(_ r: SimulationResult) -> String {
    var header = ["time [d]"]
    header += zip(r.stateNames, r.stateUnits).map { "\($0) [\($1)]" }
    header += r.observables.map { "\($0.name) [\($0.unit)]" }
    var out = CSV.row(header) + "\n"
    let n = r.stateNames.count, m = r.observables.count
    out.reserveCapacity(r.times.count * (n + m + 1) * 14)
    for i in r.times.indices {
      var row = [formatNumber(r.times[i])]
      for j in 0..<n { row.append(String(format: "%.9g", r.states[i * n + j])) }
      for j in 0..<m { row.append(String(format: "%.9g", r.observed[i * m + j])) }
      out += CSV.row(row) + "\n"
    }
    return out
  }

  public static func summaryJSON(_ r: SimulationResult) -> JSONOut {
    let s = r.summary
    let status =
      r.returnCode.isSuccessful ? "complete" : "failed: partial result to day \(formatNumber(r.times.last ?? r.scenario.startDay))"
    return .object([
      ("scenario", .string(r.scenario.name)),
      ("model", .string(r.scenario.model)),
      ("status", .string(status)),
      ("car_t_cmax_cells_per_uL", .num(s.carTCmax)),
      ("car_t_tmax_days", .num(s.carTTmax)),
      ("car_t_auc_0_28", .num(s.carTAUC028)),
      ("car_t_auc_0_28_unit", .string("cells/uL*day")),
      ("car_t_cmax_copies_per_ug_dna", .num(s.carTCmaxCopies)),
      ("car_t_persistence_days", .num(s.persistenceDays)),
      ("sld_baseline_mm", .num(s.sldBaseline)),
      ("sld_best_percent_change", .num(s.sldBestPercentChange)),
      ("best_response", .str(s.bestResponse?.rawValue)),
      ("il6_peak_pg_per_mL", .num(s.il6Peak)),
      ("crs_grade", s.crsGrade.map { .int($0) } ?? .null),
      ("alc_nadir_cells_per_uL", .num(s.alcNadir)),
      (
        "infusions",
        .array(
          s.infusionPeaks.map {
            .object([
              ("day", .number($0.day)), ("peak_cells_per_uL", .number($0.peak)), ("peak_day", .number($0.peakDay)),
              ("fold_expansion", .number($0.fold)),
            ])
          })
      ),
      ("events", .array(r.eventLog.map { .object([("day", .number($0.time)), ("event", .string($0.label))]) })),
      ("patient", .object(patientJSON(r.scenario.patient))),
      (
        "solver",
        .object([
          ("method", .string(r.methodDescription)),
          ("return_code", .string(r.returnCode.rawValue)),
          ("steps", .int(r.stats.steps)),
          ("accepted_steps", .int(r.stats.acceptedSteps)),
          ("rejected_steps", .int(r.stats.rejectedSteps)),
          ("stiff_steps", .int(r.stats.stiffSteps)),
          ("method_switches", .int(r.stats.methodSwitches)),
          ("rhs_evaluations", .int(r.stats.rhsEvaluations)),
          ("jacobian_evaluations", .int(r.stats.jacobianEvaluations)),
          ("lu_decompositions", .int(r.stats.luDecompositions)),
          ("events", .int(r.stats.events)),
          ("rtol", .number(r.scenario.rtol)),
        ])
      ),
    ])
  }

  /// The patient's covariates by their keys, body surface area after the height.
  static func patientJSON(_ p: Patient) -> [(String, JSONOut)] {
    var fields = PatientField.allCases.map { ($0.rawValue, JSONOut.number(p[keyPath: $0.keyPath])) }
    fields.insert(("bsa_m2", .number(p.bsa)), at: 3)
    return fields
  }

  /// What `cartsim simulate` prints about a run: the solver's work, then the CAR T kinetics and
  /// the response and CRS endpoints when the model has them.
  public static func consoleSummary(_ result: SimulationResult) -> String {
    let s = result.summary
    var out = [
      "\(result.scenario.name): \(result.returnCode.rawValue) with \(result.methodDescription), \(result.stats.steps) steps, \(result.stats.rhsEvaluations) RHS evaluations"
    ]
    if let c = s.carTCmax, let t = s.carTTmax {
      out.append(
        String(
          format: "  CAR T Cmax %.3g cells/µL at day %.2f; AUC0-28 %.3g cells/µL·d; persistence %.0f days",
          c, t, s.carTAUC028 ?? .nan, s.persistenceDays ?? .nan))
    }
    if let r = s.bestResponse, let b = s.sldBestPercentChange {
      out.append(
        String(
          format: "  best response %@ (best SLD change %.1f%%); IL-6 peak %.3g pg/mL; CRS grade %d",
          r.rawValue, b, s.il6Peak ?? .nan, s.crsGrade ?? 0))
    }
    return out.joined(separator: "\n") + "\n"
  }
}
