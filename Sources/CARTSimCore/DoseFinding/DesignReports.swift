import CARTModels
import DoseFinding
import Foundation
import StatKit

/// The results of the dose-finding studies, shared by `cartsim design` and `/api/design/*`: each
/// encodes to the JSON both print (``DesignJSON/render(_:)``) and renders the command line's text.

/// Operating characteristics of one design, with the settings that describe it.
public struct OCReport: Encodable, Sendable {
  public var oc: OperatingCharacteristics
  public var cohortSize: Int
  /// `nil` for 3+3 (its sample size follows from its rules).
  public var maxPatients: Int?
  /// 1-based.
  public var startDose: Int
  public var nEarlyStop: Int?
  public var seed: UInt64
  /// The curves derived from the model, when they were.
  public var modelCurves: ModelCurvesReport?

  init(_ oc: OperatingCharacteristics, design d: AnyDesign, seed: UInt64, modelCurves: ModelCurvesReport?) {
    self.oc = oc
    cohortSize = d.config.cohortSize
    maxPatients = d.name == "3+3" ? nil : d.config.maxPatients
    startDose = d.config.startDose + 1
    nEarlyStop = d.config.nEarlyStop
    self.seed = seed
    self.modelCurves = modelCurves
  }

  enum Key: String, CodingKey {
    case design, exact, trials, seed, target, p_true, true_mtd, cohort_size, max_patients, start_dose
    case selection_percent, selection_percent_se, stop_percent, stop_percent_se, mean_patients, mean_patients_se
    case mean_dlts, mean_dlts_se, mean_total_patients, mean_total_patients_se, mean_total_dlts, mean_total_dlts_se
    case overdose60, overdose60_se, overdose80, overdose80_se, pcs, pcs_se
    case p_response, expected_responders, expected_responders_se, model_curves
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(oc.design, forKey: .design)
    try c.encode(oc.exact, forKey: .exact)
    try c.encode(oc.trials, forKey: .trials)
    if oc.exact { try c.encodeNil(forKey: .seed) } else { try c.encode(seed, forKey: .seed) }
    try c.encode(oc.target, forKey: .target)
    try c.encode(oc.pTrue, forKey: .p_true)
    try c.encode(oc.trueMTD + 1, forKey: .true_mtd)
    try c.encode(cohortSize, forKey: .cohort_size)
    if let maxPatients { try c.encode(maxPatients, forKey: .max_patients) } else { try c.encodeNil(forKey: .max_patients) }
    try c.encode(startDose, forKey: .start_dose)
    try c.encode(oc.selectionPercent, forKey: .selection_percent)
    try c.encode(oc.selectionPercentSE, forKey: .selection_percent_se)
    try c.encode(oc.stopPercent, forKey: .stop_percent)
    try c.encode(oc.stopPercentSE, forKey: .stop_percent_se)
    try c.encode(oc.meanPatients, forKey: .mean_patients)
    try c.encode(oc.meanPatientsSE, forKey: .mean_patients_se)
    try c.encode(oc.meanDLTs, forKey: .mean_dlts)
    try c.encode(oc.meanDLTsSE, forKey: .mean_dlts_se)
    try c.encode(oc.meanTotalPatients, forKey: .mean_total_patients)
    try c.encode(oc.meanTotalPatientsSE, forKey: .mean_total_patients_se)
    try c.encode(oc.meanTotalDLTs, forKey: .mean_total_dlts)
    try c.encode(oc.meanTotalDLTsSE, forKey: .mean_total_dlts_se)
    try c.encode(oc.overdose60, forKey: .overdose60)
    try c.encode(oc.overdose60SE, forKey: .overdose60_se)
    try c.encode(oc.overdose80, forKey: .overdose80)
    try c.encode(oc.overdose80SE, forKey: .overdose80_se)
    try c.encode(oc.pcs, forKey: .pcs)
    try c.encode(oc.pcsSE, forKey: .pcs_se)
    if let q = oc.pResponse, let r = oc.expectedResponders {
      try c.encode(q, forKey: .p_response)
      try c.encode(r, forKey: .expected_responders)
      try c.encode(oc.expectedRespondersSE ?? 0, forKey: .expected_responders_se)
    }
    try c.encodeIfPresent(modelCurves, forKey: .model_curves)
  }

  /// One line describing the design.
  public var designLine: String {
    let size = oc.design == "3+3" ? "cohorts of 3 (3+3 rules)" : "cohorts of \(cohortSize), max \(maxPatients ?? 0) patients"
    return "\(oc.design), target \(oc.target), \(size), start dose \(startDose)" + (nEarlyStop.map { ", n.earlystop \($0)" } ?? "")
  }

  /// The command line's table (the model curves first, when derived).
  public var text: String {
    var out = [designLine, oc.exact ? "exact enumeration" : "\(oc.trials) simulated trials, seed \(seed) (± is the Monte Carlo SE)"]
    let k = oc.pTrue.count
    out.append(TextTable.row("dose", (0..<k).map { "\($0 + 1)" + ($0 == oc.trueMTD ? "*" : "") }))
    out.append(TextTable.row("p_true", oc.pTrue.map { TextTable.f($0, 3) }))
    if let q = oc.pResponse { out.append(TextTable.row("p_response", q.map { TextTable.f($0, 3) })) }
    out.append(TextTable.row("selection %", oc.selectionPercent.map { TextTable.f($0, 1) }))
    if !oc.exact { out.append(TextTable.row("  ± se", oc.selectionPercentSE.map { TextTable.f($0, 1) })) }
    out.append(TextTable.row("patients", oc.meanPatients.map { TextTable.f($0, 2) }))
    out.append(TextTable.row("DLTs", oc.meanDLTs.map { TextTable.f($0, 2) }))
    func pm(_ v: Double, _ se: Double, _ dg: Int) -> String {
      oc.exact ? TextTable.f(v, dg) : "\(TextTable.f(v, dg)) ± \(TextTable.f(se, dg))"
    }
    out.append("* true MTD (p_true closest to target)")
    out.append("PCS (correct selection) %   \(pm(oc.pcs, oc.pcsSE, 1))")
    out.append("stopped, no MTD %           \(pm(oc.stopPercent, oc.stopPercentSE, 1))")
    out.append("mean patients per trial     \(pm(oc.meanTotalPatients, oc.meanTotalPatientsSE, 2))")
    out.append("mean DLTs per trial         \(pm(oc.meanTotalDLTs, oc.meanTotalDLTsSE, 2))")
    out.append("overdose60 / overdose80 %   \(pm(oc.overdose60, oc.overdose60SE, 1)) / \(pm(oc.overdose80, oc.overdose80SE, 1))")
    if let r = oc.expectedResponders { out.append("expected responders/trial   \(pm(r, oc.expectedRespondersSE ?? 0, 2))") }
    return (modelCurves.map { $0.text + "\n" } ?? "") + out.joined(separator: "\n") + "\n"
  }
}

/// Several designs on the same simulated patients.
public struct CompareReport: Encodable, Sendable {
  /// One report per design, without the model curves (given once, below).
  public var designs: [OCReport]
  public var modelCurves: ModelCurvesReport?

  enum Key: String, CodingKey { case designs, model_curves }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(designs, forKey: .designs)
    try c.encodeIfPresent(modelCurves, forKey: .model_curves)
  }

  public var text: String {
    let ocs = designs.map(\.oc), first = ocs[0], k = first.pTrue.count, names = ocs.map(\.design), seed = designs[0].seed
    let f = TextTable.f, row = { TextTable.row($0, $1) }
    var out = [
      first.exact ? "exact enumeration" : "\(first.trials) simulated trials per design, seed \(seed), the same patients for every design",
      "target \(first.target), p_true \(first.pTrue.map { f($0, 2) }.joined(separator: ", ")); true MTD = dose \(first.trueMTD + 1)",
    ]
    out.append(row("selection %", names))
    for d in 0..<k { out.append(row("  dose \(d + 1)\(d == first.trueMTD ? "*" : "")", ocs.map { f($0.selectionPercent[d], 1) })) }
    out.append(row("  none (stopped)", ocs.map { f($0.stopPercent, 1) }))
    out.append(row("patients", names))
    for d in 0..<k { out.append(row("  dose \(d + 1)", ocs.map { f($0.meanPatients[d], 2) })) }
    out.append(row("PCS %", ocs.map { f($0.pcs, 1) }))
    out.append(row("mean patients", ocs.map { f($0.meanTotalPatients, 2) }))
    out.append(row("mean DLTs", ocs.map { f($0.meanTotalDLTs, 2) }))
    out.append(row("overdose60 %", ocs.map { f($0.overdose60, 1) }))
    out.append(row("overdose80 %", ocs.map { f($0.overdose80, 1) }))
    let responders = ocs.compactMap(\.expectedResponders)
    if responders.count == ocs.count { out.append(row("responders/trial", responders.map { f($0, 2) })) }
    if !first.exact { out.append("largest Monte Carlo SE of a selection %: \(f(ocs.flatMap(\.selectionPercentSE).max() ?? 0, 2))") }
    return (modelCurves.map { $0.text + "\n" } ?? "") + out.joined(separator: "\n") + "\n"
  }

  /// The grouped bar chart of selection percent per dose.
  public var chart: String { DesignChart.selection(designs.map(\.oc)) }
}

/// The dose–DLT and dose–response curves derived from the model, with 95% Clopper–Pearson intervals.
public struct ModelCurvesReport: Encodable, Sendable {
  public var curves: DoseCurves

  enum Key: String, CodingKey {
    case arm, dose_levels, dose_basis, patients_per_level, dlt_definition, p_dlt, p_dlt_lower_95, p_dlt_upper_95
    case p_response, p_response_lower_95, p_response_upper_95, solver_failures
  }

  public func encode(to encoder: any Encoder) throws {
    let c0 = curves
    let ci = { (x: [Int]) in zip(x, c0.failed).map { Distributions.clopperPearson(successes: $0, trials: c0.patients - $1) } }
    let dci = ci(c0.dlts), rci = ci(c0.responses)
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(c0.arm, forKey: .arm)
    try c.encode(c0.doses, forKey: .dose_levels)
    try c.encode(c0.basis.rawValue, forKey: .dose_basis)
    try c.encode(c0.patients, forKey: .patients_per_level)
    try c.encode(c0.dltDefinition, forKey: .dlt_definition)
    // A level where every patient failed has no estimate: null.
    let finite = { (x: [Double]) in x.map { $0.isFinite ? $0 : nil } }
    try c.encode(finite(c0.pDLT), forKey: .p_dlt)
    try c.encode(finite(dci.map(\.lower)), forKey: .p_dlt_lower_95)
    try c.encode(finite(dci.map(\.upper)), forKey: .p_dlt_upper_95)
    try c.encode(finite(c0.pResponse), forKey: .p_response)
    try c.encode(finite(rci.map(\.lower)), forKey: .p_response_lower_95)
    try c.encode(finite(rci.map(\.upper)), forKey: .p_response_upper_95)
    try c.encode(c0.failed, forKey: .solver_failures)
  }

  public var text: String {
    let c = curves, f = TextTable.f
    var out = [
      "Model-derived curves: arm '\(c.arm)', doses in \(c.basis.rawValue), \(c.patients) virtual patients per level (the same patients at every level)",
      "DLT: \(c.dltDefinition); response: confirmed CR or PR (RECIST 1.1)",
    ]
    out.append(TextTable.row("dose", c.doses.map { String(format: "%.3g", $0) }))
    out.append(TextTable.row("P(DLT)", c.pDLT.map { f($0, 3) }))
    out.append(TextTable.row("P(response)", c.pResponse.map { f($0, 3) }))
    if c.failed.contains(where: { $0 > 0 }) { out.append(TextTable.row("solver failures", c.failed.map(String.init))) }
    return out.joined(separator: "\n") + "\n"
  }
}

/// BOIN's decision table, as `BOIN::get.boundary` prints it.
public struct BoundariesReport: Encodable, Sendable {
  public var target: Double, lambdaE: Double, lambdaD: Double, cutoffEli: Double
  public var n: [Int], escalate: [Int], deescalate: [Int], eliminate: [Int?]

  enum Key: String, CodingKey {
    case target, lambda_e, lambda_d, cutoff_eli, n, escalate_if_dlts_le, deescalate_if_dlts_ge, eliminate_if_dlts_ge
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(target, forKey: .target)
    try c.encode(lambdaE, forKey: .lambda_e)
    try c.encode(lambdaD, forKey: .lambda_d)
    try c.encode(cutoffEli, forKey: .cutoff_eli)
    try c.encode(n, forKey: .n)
    try c.encode(escalate, forKey: .escalate_if_dlts_le)
    try c.encode(deescalate, forKey: .deescalate_if_dlts_ge)
    try c.encode(eliminate, forKey: .eliminate_if_dlts_ge)
  }

  public var text: String {
    func line(_ label: String, _ v: [String]) -> String {
      label.padding(toLength: 28, withPad: " ", startingAt: 0) + v.map { TextTable.pad($0, 4) }.joined()
    }
    return [
      "BOIN boundaries: target \(target), lambda_e = \(TextTable.f(lambdaE, 4)), lambda_d = \(TextTable.f(lambdaD, 4)), elimination if Pr(p > target) > \(cutoffEli)",
      line("Number of patients treated", n.map(String.init)),
      line("Escalate if # of DLT <=", escalate.map(String.init)),
      line("Deescalate if # of DLT >=", deescalate.map(String.init)),
      line("Eliminate if # of DLT >=", eliminate.map { $0.map(String.init) ?? "NA" }),
    ].joined(separator: "\n") + "\n"
  }
}

/// The next-dose decision for a real trial's accrued data.
public struct NextDoseReport: Encodable, Sendable {
  public var design: String, target: Double
  /// 1-based.
  public var currentDose: Int
  public var patients: [Int], dlts: [Int]
  public var recommendation: Recommendation
  /// Where the data came from (a file name, or `request body`).
  public var source: String

  enum Key: String, CodingKey {
    case design, target, current_dose, patients, dlts, decision, next_dose, selected_mtd, reason, estimates, scalars
  }

  public func encode(to encoder: any Encoder) throws {
    let r = recommendation
    var c = encoder.container(keyedBy: Key.self)
    try c.encode(design, forKey: .design)
    try c.encode(target, forKey: .target)
    try c.encode(currentDose, forKey: .current_dose)
    try c.encode(patients, forKey: .patients)
    try c.encode(dlts, forKey: .dlts)
    try c.encode(r.decision.rawValue, forKey: .decision)
    try c.encode(r.nextDose.map { $0 + 1 }, forKey: .next_dose)
    try c.encode(r.selectedMTD.map { $0 + 1 }, forKey: .selected_mtd)
    try c.encode(r.reason, forKey: .reason)
    let finite = { (x: Double) -> Double? in x.isFinite ? x : nil }
    try c.encode(Dictionary(r.estimates.map { ($0.name, $0.values.map(finite)) }, uniquingKeysWith: { a, _ in a }), forKey: .estimates)
    try c.encode(Dictionary(r.scalars.map { ($0.name, finite($0.value)) }, uniquingKeysWith: { a, _ in a }), forKey: .scalars)
  }

  public var text: String {
    let r = recommendation, k = patients.count, f = TextTable.f
    var out = ["\(design), target \(target), current dose \(currentDose) of \(k), data \(source)"]
    out.append(TextTable.row("dose", (0..<k).map { "\($0 + 1)" }))
    out.append(TextTable.row("patients", patients.map(String.init)))
    out.append(TextTable.row("DLTs", dlts.map(String.init)))
    for e in r.estimates where e.values.count == k { out.append(TextTable.row(e.name, e.values.map { $0.isNaN ? "-" : f($0, 3) })) }
    for s in r.scalars {
      out.append("\(s.name) = \(s.value.isNaN ? "NA" : s.value == s.value.rounded() ? String(Int(s.value)) : f(s.value, 4))")
    }
    switch (r.decision, r.nextDose) {
    case (.stop, _), (_, nil):
      out.append("Decision: STOP — \(r.reason); MTD: \(r.selectedMTD.map { "dose \($0 + 1)" } ?? "none")")
    case (let decision, let next?):
      out.append("Decision: \(decision.rawValue.uppercased()) \(decision == .stay ? "at" : "to") dose \(next + 1) — \(r.reason)")
    }
    return out.joined(separator: "\n") + "\n"
  }
}

/// The JSON of the reports: keys sorted, two-space indentation, as `--json` prints and the
/// server answers.
public enum DesignJSON {
  public static func render(_ value: some Encodable) -> String {
    // Every number in the reports is finite or encoded as null, so encoding cannot fail.
    guard let text = try? JSONText.render(value) else { preconditionFailure("a dose-finding report holds a non-finite number") }
    return text
  }
}

/// Fixed-width text tables of the command line's reports.
enum TextTable {
  static func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
  static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
  static func row(_ label: String, _ cells: [String], width: Int = 8) -> String {
    label.padding(toLength: 22, withPad: " ", startingAt: 0) + cells.map { pad($0, width) }.joined()
  }
}
