import Testing

@testable import DoseFinding

@Suite struct ThreePlusThreeTests {
  /// Two doses, p = (0.1, 0.5), start at dose 1, by hand:
  /// Dose 1: P(0/3) = 0.9³ = 0.729, P(1/3) = 3·0.1·0.81 = 0.243, P(≥2/3) = 0.028.
  ///   1/3 → 3 more, escalate iff 0/3 more (0.729); ≥ 2/6 otherwise (0.271).
  ///   P(no MTD) = 0.028 + 0.243·0.271 = 0.093853.
  ///   P(reach dose 2) = 0.729 + 0.243·0.729 = 0.906147.
  /// Dose 2 (top): select it iff 0/3 (0.125) or 1/3 then 0/3 (0.375·0.125): 0.171875; else dose 1.
  ///   P(select 2) = 0.906147·0.171875 = 0.155744015625; P(select 1) = 0.906147·0.828125 = 0.750402984375.
  /// Mean patients: dose 1 = 3 + 0.243·3 = 3.729; dose 2 = 0.906147·(3 + 0.375·3) = 3.737856375.
  /// Mean DLTs: dose 1 = 0.3 + 0.243·0.3 = 0.3729; dose 2 = 0.906147·(1.5 + 0.375·1.5) = 1.8689281875.
  @Test func exactHandCase() throws {
    let oc = try ExactOC.compute(ThreePlusThree(doseCount: 2, target: 0.3), pTrue: [0.1, 0.5])
    #expect(abs(oc.stopPercent - 9.3853) < 1e-10)
    #expect(abs(oc.selectionPercent[0] - 75.0402984375) < 1e-10)
    #expect(abs(oc.selectionPercent[1] - 15.5744015625) < 1e-10)
    #expect(abs(oc.meanPatients[0] - 3.729) < 1e-12)
    #expect(abs(oc.meanPatients[1] - 3.737856375) < 1e-12)
    #expect(abs(oc.meanDLTs[0] - 0.3729) < 1e-12)
    #expect(abs(oc.meanDLTs[1] - 1.8689281875) < 1e-12)
  }

  /// With Korn's de-escalation: when dose 2 is too toxic (0.828125 given reached) and dose 1 had
  /// only 3 patients (reached by 0/3, 0.729), 3 more at dose 1: ≤ 1 DLT in them (0.729 + 0.243 =
  /// 0.972) makes dose 1 the MTD, otherwise no MTD.
  /// P(select 1) = 0.828125·(0.729·0.972 + 0.243·0.729) = 0.828125·0.885735 = 0.733499296875;
  /// P(no MTD) = 0.093853 + 0.828125·0.729·0.028 = 0.093853 + 0.0169036875 = 0.1107566875;
  /// P(select 2) unchanged = 0.155744015625.
  @Test func exactHandCaseWithDeescalation() throws {
    let oc = try ExactOC.compute(ThreePlusThree(doseCount: 2, target: 0.3, deescalate: true), pTrue: [0.1, 0.5])
    #expect(abs(oc.stopPercent - 11.07566875) < 1e-10)
    #expect(abs(oc.selectionPercent[0] - 73.3499296875) < 1e-10)
    #expect(abs(oc.selectionPercent[1] - 15.5744015625) < 1e-10)
    // Dose 1 gets 3 more patients on the 0/3-then-toxic-dose-2 paths: 0.729·0.828125·3 extra.
    #expect(abs(oc.meanPatients[0] - (3.729 + 0.729 * 0.828125 * 3)) < 1e-12)
  }

  @Test(arguments: [false, true])
  func monteCarloMatchesExact(deescalate: Bool) throws {
    let design = try ThreePlusThree(doseCount: 5, target: 0.3, deescalate: deescalate)
    let p = [0.05, 0.1, 0.2, 0.3, 0.5]
    let exact = try ExactOC.compute(design, pTrue: p)
    let mc = try DoseFindingSimulation.simulate(design, pTrue: p, trials: 20_000, seed: 2024, threads: 2)
    expectWithin4SE(mc, exact)
  }

  @Test func startAboveLowestDose() throws {
    // Start at dose 2 with p = (0, 1): dose 2 always 3/3 → MTD is dose 1 (never tried) without
    // de-escalation; with it, dose 1 is treated to 6 (0 DLTs) and selected.
    let plain = try ExactOC.compute(ThreePlusThree(doseCount: 2, startDose: 1), pTrue: [0, 1])
    #expect(plain.selectionPercent == [100, 0] && plain.meanPatients == [0, 3])
    let korn = try ExactOC.compute(ThreePlusThree(doseCount: 2, startDose: 1, deescalate: true), pTrue: [0, 1])
    #expect(korn.selectionPercent == [100, 0] && korn.meanPatients == [6, 3])
  }
}
