import CARTModels
import Foundation
import Parallel
import StatKit

/// Dose–toxicity and dose–response curves derived from the mechanistic model: a virtual
/// population receives one arm's regimen at each dose level, and the fraction with a DLT and
/// the fraction with an objective response (confirmed CR or PR) are read at each level. The
/// same virtual patients are used at every level (common random numbers), so the curves
/// reflect the dose, not sampling noise between levels.
public struct DoseCurves: Sendable {
  public var doses: [Double]
  public var basis: DoseBasis
  public var patients: Int
  public var dlts: [Int]
  public var responses: [Int]
  public var failed: [Int]
  public var dltDefinition: String
  public var arm: String

  public var pDLT: [Double] { zip(dlts, failed).map { Double($0) / Double(max(patients - $1, 1)) } }
  public var pResponse: [Double] { zip(responses, failed).map { Double($0) / Double(max(patients - $1, 1)) } }
}

extension TrialSpec.DLT {
  /// Reads a DLT definition written as `crs>=G` or `crs>=G:DAYS` (window after the first
  /// infusion, default 28 days).
  public static func parse(_ text: String, field: String = "--dlt") throws -> TrialSpec.DLT {
    let t = text.replacingOccurrences(of: " ", with: "").lowercased()
    let parts = t.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count <= 2, parts[0].hasPrefix("crs>="), let g = Int(parts[0].dropFirst(5)), (1...4).contains(g) else {
      throw InputError(file: "command line", path: field, message: "expected crs>=GRADE or crs>=GRADE:DAYS (grade 1–4), found '\(text)'")
    }
    var days = 28.0
    if parts.count == 2 {
      guard let d = Double(parts[1]), d > 0 else {
        throw InputError(file: "command line", path: field, message: "the window '\(parts[1])' is not a positive number of days")
      }
      days = d
    }
    return TrialSpec.DLT(crsGradeAtLeast: g, windowDays: days)
  }
}

extension TrialSpec {
  /// Simulates `patients` virtual patients of arm `arm` at each dose (all infusions of the arm
  /// at that dose, in `basis`), on `threads` threads; the result does not depend on the
  /// thread count.
  public func doseCurves(arm: Int, doses: [Double], basis: DoseBasis?, patients: Int, threads: Int) throws -> DoseCurves {
    precondition(arms.indices.contains(arm) && !doses.isEmpty && patients > 0, "dose curves need an arm, doses and patients")
    var levels = self
    levels.paired = true
    levels.arms = doses.map { d in
      var a = arms[arm]
      a.patients = patients
      a.name = "\(arms[arm].name) @ \(formatNumber(d))"
      a.doseLevels = []
      for i in a.scenario.regimen.infusions.indices {
        a.scenario.regimen.infusions[i].dose = d
        if let basis { a.scenario.regimen.infusions[i].basis = basis }
      }
      return a
    }
    let spec = levels
    let params = try spec.arms.map { try Simulator.parameters($0.scenario, file: file) }
    let k = doses.count
    // Patient g is patient g % patients at level g / patients: (failed, DLT, response).
    let outcomes = Parallel.map(k * patients, threads: max(1, threads)) { g in
      let r = spec.simulatePatient(arm: g / patients, id: g % patients, armParameters: params[g / patients])
      return (failed: !r.succeeded, dlt: r.dlt == true, response: r.best == .CR || r.best == .PR)
    }
    var dlts = Array(repeating: 0, count: k), responses = dlts, failed = dlts
    for (g, o) in outcomes.enumerated() {
      if o.failed { failed[g / patients] += 1 }
      if o.dlt { dlts[g / patients] += 1 }
      if o.response { responses[g / patients] += 1 }
    }
    return DoseCurves(
      doses: doses, basis: basis ?? arms[arm].scenario.regimen.infusions[0].basis, patients: patients,
      dlts: dlts, responses: responses, failed: failed,
      dltDefinition: dlt.description, arm: arms[arm].name)
  }
}
