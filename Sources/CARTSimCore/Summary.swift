import CARTModels
import Foundation
import ODEKit

/// RECIST-style best overall response.
public enum Response: String, Sendable, Codable, Comparable {
  case CR, PR, SD, PD
  var rank: Int { [.CR: 0, .PR: 1, .SD: 2, .PD: 3][self]! }
  public static func < (a: Response, b: Response) -> Bool { a.rank < b.rank }
}

/// Summary endpoints of one simulated patient.
///
/// - CAR T kinetics (Cmax, Tmax, AUC0–28) over the 28 days after the first infusion, on
///   the output grid; AUC by the trapezoidal rule, in cells/µL·day.
/// - Persistence: total time with transgene copies at or above the qPCR detection limit
///   after the first infusion (crossings interpolated linearly).
/// - Response: SLD at each assessment (every `assessmentEveryDays` after day 0) against
///   baseline (PR ≤ −30%) and nadir (PD ≥ +20% and ≥ 5 mm); CR when the SLD is below
///   the scenario's `complete_response_sld_mm`. Best response before progression.
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
  /// Per infusion: day, peak CAR T in blood before the next infusion, its day, fold expansion.
  public var infusionPeaks: [(day: Double, peak: Double, peakDay: Double, fold: Double)] = []

  public init() {}

  init(_ r: SimulationResult) {
    let t = r.times
    guard t.count >= 2 else { return }
    let firstInfusion = r.scenario.regimen.infusions.map(\.day).min() ?? 0
    if let car = r.series("car_t_blood") {
      var cmax = -1.0, tmax = 0.0, auc = 0.0
      for i in t.indices where t[i] >= firstInfusion && t[i] <= firstInfusion + 28 {
        if car[i] > cmax { cmax = car[i]; tmax = t[i] - firstInfusion }
        if i + 1 < t.count && t[i + 1] <= firstInfusion + 28 { auc += 0.5 * (car[i] + car[i + 1]) * (t[i + 1] - t[i]) }
      }
      if cmax >= 0 { carTCmax = cmax; carTTmax = tmax; carTAUC028 = auc }
      let days = r.scenario.regimen.infusions.map(\.day)
      for (k, d) in days.enumerated() {
        let end = k + 1 < days.count ? days[k + 1] : t.last!
        guard let i0 = t.firstIndex(where: { $0 >= d }) else { continue }
        let start = car[i0]
        var peak = -1.0, peakDay = d
        for i in i0..<t.count where t[i] < end && car[i] > peak { peak = car[i]; peakDay = t[i] }
        if peak >= 0 { infusionPeaks.append((d, peak, peakDay, start > 0 ? peak / start : 0)) }
      }
    }
    if let copies = r.series("car_t_transgene"), r.parameters.contains("qpcr_lod") {
      let lod = r.parameters["qpcr_lod"]
      var total = 0.0, cmax = 0.0
      for i in 0..<(t.count - 1) where t[i] >= firstInfusion {
        let a = copies[i] - lod, b = copies[i + 1] - lod, dt = t[i + 1] - t[i]
        cmax = max(cmax, copies[i])
        if a >= 0 && b >= 0 { total += dt }
        else if a >= 0 || b >= 0 { total += dt * max(a, b) / abs(a - b) }
      }
      persistenceDays = total
      carTCmaxCopies = max(cmax, copies.last!)
    }
    if let sld = r.series("sld"), let i0 = t.firstIndex(where: { $0 >= 0 }) {
      let base = sld[i0]
      sldBaseline = base
      var best: Response? = nil, nadir = base, bestChange = 0.0
      var k = 1
      while true {
        let ta = Double(k) * r.scenario.assessmentEveryDays
        guard ta <= t.last! + 1e-9, let i = t.firstIndex(where: { $0 >= ta - 1e-9 }) else { break }
        let s = sld[i]
        let change = base > 0 ? 100 * (s - base) / base : 0
        if s >= 1.2 * nadir && s - nadir >= 5 {
          if best == nil { best = .PD }
          break
        }
        bestChange = min(bestChange, change)
        let resp: Response = s < r.scenario.crSLDmm ? .CR : (change <= -30 ? .PR : .SD)
        best = best.map { min($0, resp) } ?? resp
        nadir = min(nadir, s)
        k += 1
      }
      sldBestPercentChange = bestChange
      bestResponse = best
    }
    if let il6 = r.series("il6"), let grade = r.series("crs_grade_proxy") {
      il6Peak = il6.max()
      crsGrade = Int(grade.max() ?? 0)
    }
    if let alc = r.series("alc") { alcNadir = alc.min() }
  }
}
