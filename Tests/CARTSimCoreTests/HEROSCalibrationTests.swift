import CARTModels
import CARTSimCore
import Foundation
import ODEKit
import TestSupport
import Testing

/// The example scenarios, run for the typical patient of the calibrated model (parameter
/// defaults = posterior medians of Examples/heros-calibration.json), show what the HEROS trials
/// saw qualitatively: HEROS 1.0 (Ahmed et al. 2015): CAR T cells detectable for weeks, no
/// expansion, no CRS; HEROS 2.0 (Hegde et al. 2024): expansion after every infusion given after
/// lymphodepletion, mild CRS in cohort B, more IL-6 at the higher CAR+ dose of cohort C. The
/// population rates are checked against the published counts by the calibration
/// (CalibrationTests, and CI's main job with targets.json).
struct HEROSCalibrationTests {
  static let results: [String: SimulationResult] = {
    var out: [String: SimulationResult] = [:]
    for name in ["heros1", "heros2-cohortA", "heros2-cohortB", "heros2-cohortC", "heros3"] {
      let s = try! Scenario.load(path: example(name))
      out[name] = try! Simulator.run(s, file: name)
    }
    return out
  }()

  @Test func allExamplesSucceed() {
    for (name, r) in Self.results { #expect(r.returnCode == .success, "\(name): \(r.returnCode)") }
  }

  /// HEROS 1.0: blood peak within a day of the infusion, detectable ≥ 6 weeks, no CRS.
  @Test func heros1PersistsWithoutExpansion() {
    let s = Self.results["heros1"]!.summary
    #expect(s.carTTmax! <= 1)
    #expect(s.infusionPeaks[0].fold <= 1.0001)
    #expect(s.persistenceDays! >= 42, "persistence \(s.persistenceDays!) days")
    #expect(s.crsGrade == 0)
  }

  /// Cohort B: peak ≥ 10× the HEROS 1.0 peak within 3 weeks, mild CRS (grade 1–2), and
  /// expansion (> 2-fold) after every infusion given after lymphodepletion.
  @Test func cohortBExpands() {
    let r = Self.results["heros2-cohortB"]!
    let b = r.summary, h1 = Self.results["heros1"]!.summary
    #expect(b.carTCmax! >= 10 * h1.carTCmax!, "Cmax \(b.carTCmax!) vs HEROS 1.0 \(h1.carTCmax!)")
    #expect(b.carTTmax! >= 3 && b.carTTmax! <= 21, "Tmax \(b.carTTmax!)")
    #expect(b.crsGrade! >= 1 && b.crsGrade! <= 2)
    let ldDays = Set(r.scenario.regimen.infusions.filter(\.lymphodepleted).map(\.day))
    #expect(!ldDays.isEmpty)
    for p in b.infusionPeaks where ldDays.contains(p.day) { #expect(p.fold > 2, "infusion on day \(p.day): fold \(p.fold)") }
  }

  /// Cohort C (1e8 CAR+ T cells/m², about 1.5× cohort B's CAR+ dose): higher CAR T peak and
  /// IL-6 peak, and a CRS grade at least cohort B's.
  @Test func cohortCHasMoreCRS() {
    let b = Self.results["heros2-cohortB"]!.summary, c = Self.results["heros2-cohortC"]!.summary
    #expect(c.carTCmax! > b.carTCmax!)
    #expect(c.il6Peak! > 1.2 * b.il6Peak!, "IL-6 peak \(c.il6Peak!) vs \(b.il6Peak!)")
    #expect(c.crsGrade! >= b.crsGrade!)
  }

  /// Fludarabine alone depletes less than Flu/Cy, so cohort A expands less than B.
  @Test func cohortAExpandsLessThanB() {
    let a = Self.results["heros2-cohortA"]!.summary, b = Self.results["heros2-cohortB"]!.summary
    #expect(a.carTCmax! < b.carTCmax!)
    #expect(a.alcNadir! > b.alcNadir!)
  }

  /// HEROS 3.0: PD-1 blockade gives at least the tumour control of cohort B.
  @Test func heros3AddsTumourControl() {
    let b = Self.results["heros2-cohortB"]!, h3 = Self.results["heros3"]!
    let sldB = b.series("sld")!, sld3 = h3.series("sld")!
    #expect(sld3.last! < sldB.last!)
    #expect(h3.series("pd1_occupancy")!.max()! > 0.8)
  }
}
