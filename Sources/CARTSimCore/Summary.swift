import CARTModels
import Foundation
import ODEKit

/// RECIST 1.1 response: complete, partial, stable disease, progression, not evaluable.
public enum Response: String, Sendable, Codable, Comparable, CaseIterable {
  case CR, PR, SD, PD, NE
  var rank: Int { [.CR: 0, .PR: 1, .SD: 2, .PD: 3, .NE: 4][self]! }
  public static func < (a: Response, b: Response) -> Bool { a.rank < b.rank }
}

/// Summary endpoints of one simulated patient.
///
/// - CAR T kinetics (Cmax, Tmax, AUC0–28) over the 28 days after the first infusion, on
///   the output grid; AUC by the trapezoidal rule, in cells/µL·day.
/// - Persistence: total time with transgene copies at or above the qPCR detection limit
///   after the first infusion (crossings interpolated linearly).
/// - Response: RECIST 1.1 best overall response (``RECIST``) from the SLD at each assessment
///   (every `assessmentEveryDays` after day 0), with confirmation of CR and PR; CR when the
///   SLD is below the scenario's `complete_response_sld_mm`.
/// - CRS grade: the IL-6 proxy grade at the IL-6 peak.
public struct Summary: Sendable {
  public var carTCmax: Double?
  public var carTTmax: Double?
  public var carTAUC028: Double?
  public var carTCmaxCopies: Double?
  public var persistenceDays: Double?
  public var sldBaseline: Double?
  public var sldBestPercentChange: Double?
  public var bestResponse: Response?
  public var il6Peak: Double?
  public var crsGrade: Int?
  public var alcNadir: Double?
  /// An infusion counts as followed by expansion when the CAR T count in blood rose to at
  /// least this multiple of its value just after the infusion before the next one (HEROS 2.0
  /// reported expansion after 19 of 21 infusions without a criterion in the abstract; this
  /// one is CARTSim's, documented in Guides/Trials.md).
  public static let expansionFold = 2.0
  /// Per infusion given: day, peak CAR T in blood before the next infusion, its day, fold expansion.
  public var infusionPeaks: [(day: Double, peak: Double, peakDay: Double, fold: Double)] = []

  public init() {}

  init(_ r: SimulationResult) {
    let t = r.times
    guard t.count >= 2 else { return }
    let firstInfusion = r.scenario.regimen.infusions.map(\.day).min() ?? 0
    if let car = r.series("car_t_blood") {
      var cmax = -1.0, tmax = 0.0, auc = 0.0
      for i in t.indices where t[i] >= firstInfusion && t[i] <= firstInfusion + 28 {
        if car[i] > cmax {
          cmax = car[i]
          tmax = t[i] - firstInfusion
        }
        if i + 1 < t.count && t[i + 1] <= firstInfusion + 28 { auc += 0.5 * (car[i] + car[i + 1]) * (t[i + 1] - t[i]) }
      }
      if cmax >= 0 {
        carTCmax = cmax
        carTTmax = tmax
        carTAUC028 = auc
      }
      let days = r.scenario.regimen.infusions.map(\.day)
      for (k, d) in days.enumerated() {
        let end = k + 1 < days.count ? days[k + 1] : t.last!
        guard let i0 = t.firstIndex(where: { $0 >= d }) else { continue }
        let start = car[i0]
        var peak = -1.0, peakDay = d
        for i in i0..<t.count where t[i] < end && car[i] > peak {
          peak = car[i]
          peakDay = t[i]
        }
        if peak >= 0 { infusionPeaks.append((d, peak, peakDay, start > 0 ? peak / start : 0)) }
      }
    }
    if let copies = r.series("car_t_transgene"), r.parameters.contains("qpcr_lod") {
      let lod = r.parameters["qpcr_lod"]
      var total = 0.0, cmax = 0.0
      for i in 0..<(t.count - 1) where t[i] >= firstInfusion {
        let a = copies[i] - lod, b = copies[i + 1] - lod, dt = t[i + 1] - t[i]
        cmax = max(cmax, copies[i])
        if a >= 0 && b >= 0 { total += dt } else if a >= 0 || b >= 0 { total += dt * max(a, b) / abs(a - b) }
      }
      persistenceDays = total
      carTCmaxCopies = max(cmax, copies.last!)
    }
    if let sld = r.series("sld"), t.contains(where: { $0 >= 0 }) {
      var rules = TrialSpec.Assessment()
      rules.everyDays = r.scenario.assessmentEveryDays
      rules.completeResponseSLDmm = r.scenario.crSLDmm
      let outcome = RECIST.evaluate(times: t, sld: sld, lastDay: t.last!, rules: rules)
      sldBaseline = sld[t.firstIndex(where: { $0 >= 0 })!]
      sldBestPercentChange = outcome.bestPercentChange ?? 0
      bestResponse = outcome.best
    }
    if let il6 = r.series("il6"), let grade = r.series("crs_grade_proxy") {
      il6Peak = il6.max()
      crsGrade = Int(grade.max() ?? 0)
    }
    if let alc = r.series("alc") { alcNadir = alc.min() }
  }
}
