import CARTSimCore
import Foundation
import Testing

/// The example scenarios reproduce what the HEROS trials saw (Guides/Models/HEROS.md):
/// HEROS 1.0 (Ahmed et al. 2015): CAR T cells detectable for weeks, no expansion;
/// HEROS 2.0 (Hegde et al. 2024): expansion after lymphodepletion with mostly mild CRS,
/// and dose-limiting CRS at 1e8 CAR+ T cells/m².
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

  /// Cohort B: peak ≥ 10× the HEROS 1.0 peak, 1–3 weeks after the first infusion, CRS ≤ 2;
  /// expansion after every infusion.
  @Test func cohortBExpands() {
    let b = Self.results["heros2-cohortB"]!.summary, h1 = Self.results["heros1"]!.summary
    #expect(b.carTCmax! >= 10 * h1.carTCmax!, "Cmax \(b.carTCmax!) vs HEROS 1.0 \(h1.carTCmax!)")
    #expect(b.carTTmax! >= 7 && b.carTTmax! <= 21, "Tmax \(b.carTTmax!)")
    #expect(b.crsGrade! >= 1 && b.crsGrade! <= 2)
    #expect(b.infusionPeaks.count == 3)
    for p in b.infusionPeaks { #expect(p.fold > 2, "infusion on day \(p.day): fold \(p.fold)") }
  }

  /// Cohort C (1e8 CAR+ T cells/m²): higher IL-6 peak and CRS grade than cohort B.
  @Test func cohortCHasMoreCRS() {
    let b = Self.results["heros2-cohortB"]!.summary, c = Self.results["heros2-cohortC"]!.summary
    #expect(c.il6Peak! > b.il6Peak!)
    #expect(c.crsGrade! > b.crsGrade!)
    #expect(c.crsGrade! >= 3)
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
