import Testing

@testable import DoseFinding

@Suite struct SimulationTests {
  static let p = [0.05, 0.15, 0.3, 0.45, 0.6]

  static func designs() throws -> [AnyDesign] {
    var o = DesignOptions(target: 0.3)
    o.maxPatients = 30
    o.skeleton = [0.08, 0.15, 0.25, 0.38, 0.5]
    return try AnyDesign.names.map { try AnyDesign.make($0, doseCount: 5, options: o) }
  }

  @Test func sameSeedIsBitIdenticalAndThreadCountDoesNotMatter() throws {
    for d in try Self.designs() {
      let a = try DoseFindingSimulation.simulate(d, pTrue: Self.p, trials: 600, seed: 42, threads: 1)
      let b = try DoseFindingSimulation.simulate(d, pTrue: Self.p, trials: 600, seed: 42, threads: 1)
      let c = try DoseFindingSimulation.simulate(d, pTrue: Self.p, trials: 600, seed: 42, threads: 3)
      let e = try DoseFindingSimulation.simulate(d, pTrue: Self.p, trials: 600, seed: 43, threads: 1)
      #expect(a == b, "\(d.name) same seed")
      #expect(a == c, "\(d.name) thread count")
      #expect(a != e, "\(d.name) different seed")
    }
  }

  /// Common random numbers: trial t's j-th patient has the same latent uniform in every design.
  /// Common random numbers: trial t's j-th patient has the same latent uniform in every design.
  @Test func commonRandomNumbers() throws {
    // Two designs, same trial: the first cohort (3 patients at dose 1) has the same DLT count.
    let b = try BOIN(config: TrialConfig(doseCount: 5, cohortSize: 3, maxPatients: 3), target: 0.3)
    let m = try MTPI2(config: TrialConfig(doseCount: 5, cohortSize: 3, maxPatients: 3), target: 0.3)
    for t in 0..<50 {
      let x = DoseFindingSimulation.simulateTrial(b, pTrue: Self.p, seed: 1, trial: t)
      let y = DoseFindingSimulation.simulateTrial(m, pTrue: Self.p, seed: 1, trial: t)
      #expect(x.dlts == y.dlts)
    }
  }

  @Test func respondersAndTrueMTD() throws {
    let d = try ThreePlusThree(doseCount: 5, target: 0.3)
    let q = [0.1, 0.2, 0.35, 0.5, 0.6]
    let oc = try ExactOC.compute(d, pTrue: Self.p, pResponse: q)
    #expect(oc.trueMTD == 2)
    let expected = zip(oc.meanPatients, q).reduce(0) { $0 + $1.0 * $1.1 }
    #expect(abs(oc.expectedResponders! - expected) < 1e-12)
    #expect(oc.pcs == oc.selectionPercent[2])
  }

  @Test func badCurves() throws {
    let d = try ThreePlusThree(doseCount: 3)
    #expect(throws: DoseFindingInputError.self) { try DoseFindingSimulation.simulate(d, pTrue: [0.1, 1.2, 0.3], trials: 10, seed: 1) }
    #expect(throws: DoseFindingInputError.self) { try DoseFindingSimulation.simulate(d, pTrue: [0.1, 0.2], trials: 10, seed: 1) }
    #expect(throws: DoseFindingInputError.self) { try ExactOC.compute(d, pTrue: [0.1, 0.2, 0.3], pResponse: [0.1]) }
  }

  @Test func exactRefusesTooManyStates() throws {
    let d = try BOIN(config: TrialConfig(doseCount: 6, cohortSize: 1, maxPatients: 60), target: 0.3)
    #expect(throws: ExactOC.TooManyStates.self) { try ExactOC.compute(d, pTrue: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], maxStates: 1000) }
  }

  @Test func pava() {
    #expect(Isotonic.pava([1, 3, 2, 4]) == [1, 2.5, 2.5, 4])
    #expect(Isotonic.pava([3, 2, 1], weights: [1, 1, 2]) == [1.75, 1.75, 1.75])
    #expect(Isotonic.pava([0.1, 0.2]) == [0.1, 0.2])
  }
}
