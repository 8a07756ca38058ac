import Testing

@testable import DoseFinding

@Suite struct MTPI2Tests {
  enum D: Character { case e = "E", s = "S", d = "D", u = "U" }  // U = de-escalate and exclude (DU)

  /// Decision table of Guo et al. (2017) Figure 3 (target 0.3, ε1 = ε2 = 0.05, ξ = 0.95), as
  /// transcribed in the `escalation` R package's tests (tests/testthat/test_mtpi2.R, "Reproduce
  /// decisions conveyed in Figure 3 in Guo et al. (2017)"), for a middle dose. Row n, entry y.
  static let figure3: [Int: String] = [
    3: "ESDU",
    6: "EESDUUU",
    9: "EEESDUUUUU",
    10: "EEESDDUUUUU",
  ]

  func decision(_ m: MTPI2, n: Int, y: Int) -> D {
    if m.excluded(n, y) { return .u }
    switch m.upmDecision(dlts: y, patients: n).decision {
    case .escalate: return .e
    case .stay: return .s
    default: return .d
    }
  }

  @Test func matchesPublishedTable() throws {
    let m = try MTPI2(config: TrialConfig(doseCount: 5, cohortSize: 3, maxPatients: 30), target: 0.3)
    for (n, row) in Self.figure3 {
      for (y, c) in row.enumerated() { #expect(decision(m, n: n, y: y).rawValue == c, "n=\(n) y=\(y)") }
    }
  }

  /// Independent UPM: interval masses from the beta–binomial identity
  /// P(p ≤ x | Beta(y+1, n−y+1)) = P(Bin(n+1, x) ≥ y+1), summed directly; intervals rebuilt here.
  @Test(arguments: [0.2, 0.25, 0.3, 0.33])
  func upmMatchesBruteForce(target: Double) throws {
    let m = try MTPI2(config: TrialConfig(doseCount: 5, cohortSize: 3, maxPatients: 30), target: target)
    let lo = target - 0.05, hi = target + 0.05
    var edges: [(Double, Double, Int)] = []  // (a, b, decision: 0 E, 1 S, 2 D)
    var u = lo
    while u > 1e-9 {
      edges.append((max(u - 0.1, 0), u, 0))
      u = lo - 0.1 * Double(edges.count)
    }
    edges.append((lo, hi, 1))
    var k = 0
    while hi + 0.1 * Double(k) < 1 - 1e-9 {
      edges.append((hi + 0.1 * Double(k), min(hi + 0.1 * Double(k + 1), 1), 2))
      k += 1
    }
    for n in 1...15 {
      for y in 0...n {
        func cdf(_ x: Double) -> Double { 1 - binomialTailOracle(x, y: y, n: n) }
        let upm = edges.map { (cdf($0.1) - cdf($0.0)) / ($0.1 - $0.0) }
        let sorted = upm.sorted(by: >)
        if sorted[0] - sorted[1] < 1e-9 * sorted[0] { continue }  // a numerical tie: skip
        let best = edges[upm.firstIndex(of: sorted[0])!].2
        let mine = m.upmDecision(dlts: y, patients: n).decision
        #expect(mine == [DoseDecision.escalate, .stay, .deescalate][best], "φ=\(target) n=\(n) y=\(y)")
      }
    }
  }

  @Test func lowestDoseExcludedStops() throws {
    let m = try MTPI2(config: TrialConfig(doseCount: 5, cohortSize: 3, maxPatients: 30), target: 0.3)
    var s = m.initialState()
    s.patients[0] = 3
    s.dlts[0] = 3
    #expect(m.decide(&s, cohortSize: 3, cohortDLTs: 3) == false && m.selectMTD(s) == nil)
    var t = m.initialState()
    t.patients[4] = 3
    t.dlts[4] = 3
    t.current = 4
    #expect(m.decide(&t, cohortSize: 3, cohortDLTs: 3) && t.current == 3 && t.excludedFrom == 4)
  }

  /// Final selection: posterior means (1+y)/(2+n) = 1/5, 2/8, 4/11 → closest to 0.3 is dose 2.
  @Test func selection() throws {
    let m = try MTPI2(config: TrialConfig(doseCount: 3, cohortSize: 3, maxPatients: 30), target: 0.3)
    #expect(m.selectMTD(patients: [3, 6, 9], dlts: [0, 1, 3]).mtd == 1)
  }

  @Test func monteCarloMatchesExact() throws {
    let design = try MTPI2(config: TrialConfig(doseCount: 4, cohortSize: 3, maxPatients: 15), target: 0.3)
    let p = [0.1, 0.25, 0.4, 0.55]
    let exact = try ExactOC.compute(design, pTrue: p)
    let mc = try DoseFindingSimulation.simulate(design, pTrue: p, trials: 20_000, seed: 9, threads: 2)
    expectWithin4SE(mc, exact)
  }
}
