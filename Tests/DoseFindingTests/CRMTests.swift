import Foundation
import Testing

@testable import DoseFinding

/// Brute-force reference: adaptive Simpson (tolerance 1e-14) of the patient-level likelihood
/// times the N(0, σ²) prior density over β ∈ [−16, 16], written independently of the library.
struct BruteForceCRM {
  let skeleton: [Double], level: [Int], tox: [Int], sigma: Double, logistic: Bool, a0 = 3.0

  func p(_ i: Int, _ beta: Double) -> Double {
    if logistic {
      let x = log(skeleton[i] / (1 - skeleton[i])) - a0
      return 1 / (1 + exp(-(a0 + exp(beta) * x)))
    }
    return pow(skeleton[i], exp(beta))
  }

  func density(_ beta: Double) -> Double {
    var l = exp(-beta * beta / (2 * sigma * sigma))
    for (d, y) in zip(level, tox) { l *= y == 1 ? p(d, beta) : 1 - p(d, beta) }
    return l
  }

  func simpson(_ f: (Double) -> Double, _ a: Double, _ b: Double) -> Double {
    func rec(_ a: Double, _ b: Double, _ fa: Double, _ fm: Double, _ fb: Double, _ whole: Double, _ tol: Double, _ depth: Int) -> Double {
      let m = (a + b) / 2, lm = (a + m) / 2, rm = (m + b) / 2
      let flm = f(lm), frm = f(rm)
      let left = (m - a) / 6 * (fa + 4 * flm + fm), right = (b - m) / 6 * (fm + 4 * frm + fb)
      if depth > 40 || abs(left + right - whole) <= 15 * tol { return left + right + (left + right - whole) / 15 }
      return rec(a, m, fa, flm, fm, left, tol / 2, depth + 1) + rec(m, b, fm, frm, fb, right, tol / 2, depth + 1)
    }
    let fa = f(a), fb = f(b), fm = f((a + b) / 2)
    return rec(a, b, fa, fm, fb, (b - a) / 6 * (fa + 4 * fm + fb), 1e-14, 0)
  }

  func integrate(_ f: (Double) -> Double, upTo c: Double = 16) -> Double {
    // Pieces of width 1 so that the adaptive rule sees the peak.
    var s = 0.0, a = -16.0
    while a < min(c, 16) {
      s += simpson(f, a, min(a + 1, c))
      a += 1
    }
    return s
  }

  var betaMean: Double { integrate { $0 * density($0) } / integrate(density) }
  /// p_i(β) > t exactly for β below this cut (p_i falls as β rises).
  func cut(_ i: Int, _ t: Double) -> Double {
    if logistic { return log((log(t / (1 - t)) - a0) / (log(skeleton[i] / (1 - skeleton[i])) - a0)) }
    return log(log(t) / log(skeleton[i]))
  }
  func prOver(_ i: Int, _ t: Double) -> Double { integrate(density, upTo: cut(i, t)) / integrate(density) }
  func meanTox(_ i: Int) -> Double { integrate { p(i, $0) * density($0) } / integrate(density) }
}

@Suite struct CRMTests {
  /// The data of dfcrm's `crm` Rd example: prior (0.05, 0.10, 0.20, 0.35, 0.50, 0.70), target 0.2,
  /// level = (3,4,4,3,3,4,3,2,2,2), tox = (0,0,1,0,0,1,1,0,0,0). dfcrm's printed output was not
  /// found in the reference corpora, so the check is against the brute-force integral above.
  static let skeleton = [0.05, 0.10, 0.20, 0.35, 0.50, 0.70]
  static let level = [3, 4, 4, 3, 3, 4, 3, 2, 2, 2].map { $0 - 1 }
  static let tox = [0, 0, 1, 0, 0, 1, 1, 0, 0, 0]

  static func counts() -> ([Int], [Int]) {
    var n = Array(repeating: 0, count: 6), y = n
    for (d, t) in zip(level, tox) {
      n[d] += 1
      y[d] += t
    }
    return (n, y)
  }

  @Test(arguments: [CRMModel.empiric, .logistic])
  func posteriorMatchesBruteForce(model: CRMModel) throws {
    let crm = try CRM(
      config: TrialConfig(doseCount: 6, cohortSize: 1, maxPatients: 24), target: 0.2,
      skeleton: Self.skeleton, model: model)
    let (n, y) = Self.counts()
    let post = crm.posterior(patients: n, dlts: y)
    let ref = BruteForceCRM(
      skeleton: Self.skeleton, level: Self.level, tox: Self.tox, sigma: 1.34.squareRoot(),
      logistic: model == .logistic)
    #expect(abs(post.betaMean - ref.betaMean) < 1e-8)
    #expect(abs(post.prLowestOverTarget - ref.prOver(0, 0.2)) < 1e-8)
    let full = crm.posteriorToxicity(patients: n, dlts: y)
    for i in 0..<6 {
      #expect(abs(full.mean[i] - ref.meanTox(i)) < 1e-8)
      #expect(abs(full.prOverTarget[i] - ref.prOver(i, 0.2)) < 1e-8)
    }
    // dfcrm's recommendation: plug-in p at the posterior mean of β closest to the target.
    let ptox = (0..<6).map { crm.toxicity($0, beta: ref.betaMean) }
    let rec = ptox.indices.min { abs(ptox[$0] - 0.2) < abs(ptox[$1] - 0.2) }!
    #expect(crm.closest(beta: post.betaMean) == rec)
  }

  /// With no data the posterior is the prior: E β = 0 and p = skeleton.
  @Test func priorOnly() throws {
    let crm = try CRM(config: TrialConfig(doseCount: 6, cohortSize: 1, maxPatients: 24), target: 0.2, skeleton: Self.skeleton)
    let post = crm.posterior(patients: Array(repeating: 0, count: 6), dlts: Array(repeating: 0, count: 6))
    #expect(abs(post.betaMean) < 1e-12)
    #expect(abs(post.betaVariance - 1.34) < 1e-9)
    #expect(crm.closest(beta: 0) == 2)
  }

  @Test func restrictionsAndSafety() throws {
    let crm = try CRM(config: TrialConfig(doseCount: 6, cohortSize: 3, maxPatients: 24), target: 0.2, skeleton: Self.skeleton)
    var s = crm.initialState()
    s.patients[0] = 3
    // 0/3 at dose 1: the model would jump, no skipping allows dose 2 only.
    #expect(crm.decide(&s, cohortSize: 3, cohortDLTs: 0) && s.current == 1)
    // 3/3 at dose 1 (with 3 more): Pr(p1 > 0.2) is high: safety stop.
    var t = crm.initialState()
    t.patients[0] = 6
    t.dlts[0] = 5
    #expect(crm.decide(&t, cohortSize: 3, cohortDLTs: 3) == false && t.stoppedForSafety)
    // Coherence: after a cohort with DLT fraction ≥ target, never escalate.
    var u = crm.initialState()
    u.patients = [3, 3, 0, 0, 0, 0]
    u.dlts = [0, 1, 0, 0, 0, 0]
    u.current = 1
    _ = crm.decide(&u, cohortSize: 3, cohortDLTs: 1)
    #expect(u.current <= 1)
  }

  @Test func startUpEscalatesUntilFirstDLT() throws {
    let crm = try CRM(
      config: TrialConfig(doseCount: 6, cohortSize: 1, maxPatients: 24), target: 0.2,
      skeleton: Self.skeleton, startUp: true)
    var s = crm.initialState()
    for d in 0..<5 {
      s.patients[d] += 1
      #expect(crm.decide(&s, cohortSize: 1, cohortDLTs: 0) && s.current == d + 1)
    }
    s.patients[5] += 1
    s.dlts[5] += 1
    #expect(crm.decide(&s, cohortSize: 1, cohortDLTs: 1) && s.current <= 5 && s.phase == 1)
  }

  /// dfcrm's `x0` per patient: patient n + 1 is treated at x0[n] until the first DLT, and the model
  /// (with its no-skipping rule) takes over from there.
  @Test func startSequenceTreatsEachPatientAtItsLevel() throws {
    let x0 = [0, 0, 1, 1, 2, 3, 3]
    let crm = try CRM(
      config: TrialConfig(doseCount: 6, cohortSize: 1, maxPatients: 24), target: 0.2,
      skeleton: Self.skeleton, startSequence: x0)
    var s = crm.initialState()
    #expect(s.current == 0)
    var given: [Int] = [s.current]
    for _ in 0..<4 {
      s.patients[s.current] += 1
      #expect(crm.decide(&s, cohortSize: 1, cohortDLTs: 0))
      given.append(s.current)
    }
    #expect(given == Array(x0.prefix(5)))
    // A DLT at level 3 (0-based 2): the model decides, and never escalates after it.
    s.patients[2] += 1
    s.dlts[2] += 1
    #expect(crm.decide(&s, cohortSize: 1, cohortDLTs: 1) && s.phase == 1 && s.current <= 2)
  }

  /// A sequence of one level per cohort, rising by one, is the one-level-per-cohort start-up: the
  /// exact operating characteristics of the two agree to rounding.
  @Test func startSequenceCanExpressTheStartUp() throws {
    let cfg = try TrialConfig(doseCount: 4, cohortSize: 3, maxPatients: 15)
    let skeleton = [0.08, 0.16, 0.27, 0.4], p = [0.05, 0.15, 0.3, 0.5]
    let startUp = try CRM(config: cfg, target: 0.25, skeleton: skeleton, startUp: true)
    let x0 = (0..<15).map { min($0 / 3, 3) }
    let sequence = try CRM(config: cfg, target: 0.25, skeleton: skeleton, startSequence: x0)
    let a = try ExactOC.compute(startUp, pTrue: p), b = try ExactOC.compute(sequence, pTrue: p)
    for (u, v) in zip(a.selectionPercent + a.meanPatients, b.selectionPercent + b.meanPatients) { #expect(abs(u - v) < 1e-9) }
    // A sequence that holds each level for two cohorts treats more patients low.
    let slow = try CRM(config: cfg, target: 0.25, skeleton: skeleton, startSequence: (0..<15).map { min($0 / 6, 3) })
    let c = try ExactOC.compute(slow, pTrue: p)
    #expect(c.meanPatients[0] > a.meanPatients[0] + 0.5)
  }

  @Test func badStartSequence() throws {
    let cfg = try TrialConfig(doseCount: 3, cohortSize: 1, maxPatients: 10)
    for x0 in [[0, 2, 1], [0, 3], [-1, 0], []] {
      #expect(
        throws: DoseFindingInputError(
          field: "start_sequence",
          x0.isEmpty || x0.contains(where: { $0 < 0 || $0 > 2 }) ? "dose levels must be 1…3" : "must not decrease (dfcrm's initial design)")
      ) {
        try CRM(config: cfg, target: 0.2, skeleton: [0.1, 0.2, 0.3], startSequence: x0)
      }
    }
  }

  @Test func badSkeleton() {
    let cfg = try! TrialConfig(doseCount: 3, cohortSize: 1, maxPatients: 10)
    #expect(throws: DoseFindingInputError.self) { try CRM(config: cfg, target: 0.2, skeleton: [0.1, 0.2]) }
    #expect(throws: DoseFindingInputError.self) { try CRM(config: cfg, target: 0.2, skeleton: [0.1, 0.3, 0.2]) }
    #expect(throws: DoseFindingInputError.self) { try CRM(config: cfg, target: 1.2, skeleton: [0.1, 0.2, 0.3]) }
  }

  @Test func monteCarloMatchesExact() throws {
    let design = try CRM(
      config: TrialConfig(doseCount: 4, cohortSize: 3, maxPatients: 12), target: 0.25,
      skeleton: [0.1, 0.2, 0.3, 0.45])
    let p = [0.1, 0.25, 0.4, 0.55]
    let exact = try ExactOC.compute(design, pTrue: p)
    let mc = try DoseFindingSimulation.simulate(design, pTrue: p, trials: 20_000, seed: 5, threads: 2)
    expectWithin4SE(mc, exact)
  }
}
