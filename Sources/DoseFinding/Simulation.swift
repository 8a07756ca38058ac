import Dispatch
import Parallel
import RealModule
import StatKit

/// Operating characteristics of a design under a true dose–toxicity (and optionally dose–response)
/// curve. Percentages are in 0…100; doses are 0-based in the arrays (dose 1 is index 0). Each
/// quantity has a Monte Carlo standard error (`…SE`): √(p(1−p)/N)·100 for percentages and
/// sd/√N for means; they are 0 for exact results.
public struct OperatingCharacteristics: Sendable, Codable, Equatable {
  /// Design name (`3+3`, `boin`, `crm`, `mtpi2`).
  public var design: String
  /// Simulated trials (0 for exact enumeration).
  public var trials: Int
  /// `true` when computed by exact enumeration of outcomes.
  public var exact: Bool
  public var target: Double
  public var pTrue: [Double]
  /// The true MTD (0-based): the dose with p closest to the target, lower on ties.
  public var trueMTD: Int
  /// Percent of trials selecting each dose as MTD.
  public var selectionPercent: [Double], selectionPercentSE: [Double]
  /// Percent of trials stopped with no MTD.
  public var stopPercent: Double, stopPercentSE: Double
  /// Mean patients and DLTs per dose per trial.
  public var meanPatients: [Double], meanPatientsSE: [Double]
  public var meanDLTs: [Double], meanDLTsSE: [Double]
  public var meanTotalPatients: Double, meanTotalPatientsSE: Double
  public var meanTotalDLTs: Double, meanTotalDLTsSE: Double
  /// Percent of trials in which more than 60% / 80% of the trial's patients were treated above the
  /// true MTD (BOIN's overdose60/80; `get.oc` divides by the planned sample size, which is the
  /// same unless the trial stops early).
  public var overdose60: Double, overdose60SE: Double
  public var overdose80: Double, overdose80SE: Double
  /// Percent correct selection (selection percent at the true MTD).
  public var pcs: Double, pcsSE: Double
  /// The dose–response curve, when given.
  public var pResponse: [Double]?
  /// Expected responders per trial, Σ_d n_d·q_d averaged over trials (responses independent of
  /// DLTs given the dose, and not used by the design).
  public var expectedResponders: Double?, expectedRespondersSE: Double?
}

/// One simulated trial's result.
public struct TrialOutcome: Sendable, Equatable {
  /// The selected MTD (0-based) or `nil` (stopped with no MTD).
  public var selected: Int?
  public var patients: [Int]
  public var dlts: [Int]
}

/// Weighted sums over trials (weights are 1 in simulation, path probabilities in enumeration).
/// In simulation every summand is an integer, so sums are exact and order-independent.
struct OCAccumulator {
  var w = 0.0, stop = 0.0, over60 = 0.0, over80 = 0.0
  var sel: [Double], n: [Double], n2: [Double], y: [Double], y2: [Double]
  var tn = 0.0, tn2 = 0.0, ty = 0.0, ty2 = 0.0, r = 0.0, r2 = 0.0
  let trueMTD: Int, response: [Double]?

  init(doses: Int, trueMTD: Int, response: [Double]?) {
    sel = Array(repeating: 0, count: doses)
    (n, n2, y, y2) = (sel, sel, sel, sel)
    self.trueMTD = trueMTD
    self.response = response
  }

  mutating func add(_ o: TrialOutcome, weight: Double = 1) {
    w += weight
    if let s = o.selected { sel[s] += weight } else { stop += weight }
    var total = 0, tox = 0, above = 0
    for d in o.patients.indices {
      let nd = Double(o.patients[d]), yd = Double(o.dlts[d])
      n[d] += weight * nd
      n2[d] += weight * nd * nd
      y[d] += weight * yd
      y2[d] += weight * yd * yd
      total += o.patients[d]
      tox += o.dlts[d]
      if d > trueMTD { above += o.patients[d] }
    }
    tn += weight * Double(total)
    tn2 += weight * Double(total * total)
    ty += weight * Double(tox)
    ty2 += weight * Double(tox * tox)
    if 10 * above > 6 * total { over60 += weight }
    if 10 * above > 8 * total { over80 += weight }
    if let q = response {
      let e = zip(o.patients, q).reduce(0.0) { $0 + Double($1.0) * $1.1 }
      r += weight * e
      r2 += weight * e * e
    }
  }

  mutating func merge(_ o: OCAccumulator) {
    w += o.w
    stop += o.stop
    over60 += o.over60
    over80 += o.over80
    for d in sel.indices {
      sel[d] += o.sel[d]
      n[d] += o.n[d]
      n2[d] += o.n2[d]
      y[d] += o.y[d]
      y2[d] += o.y2[d]
    }
    tn += o.tn
    tn2 += o.tn2
    ty += o.ty
    ty2 += o.ty2
    r += o.r
    r2 += o.r2
  }

  func result(design: String, target: Double, pTrue: [Double], trials: Int, exact: Bool) -> OperatingCharacteristics {
    let count = Double(trials)
    func pct(_ x: Double) -> (Double, Double) {
      let p = x / w
      return (100 * p, exact ? 0 : 100 * (p * (1 - p) / count).squareRoot())
    }
    func mean(_ s: Double, _ s2: Double) -> (Double, Double) {
      let m = s / w
      if exact || trials < 2 { return (m, 0) }
      return (m, (max(0, s2 - s * s / count) / (count - 1) / count).squareRoot())
    }
    let sp = sel.map(pct), np = zip(n, n2).map(mean), yp = zip(y, y2).map(mean)
    let st = pct(stop), o6 = pct(over60), o8 = pct(over80), tN = mean(tn, tn2), tY = mean(ty, ty2), rr = mean(r, r2)
    return OperatingCharacteristics(
      design: design, trials: exact ? 0 : trials, exact: exact, target: target, pTrue: pTrue, trueMTD: trueMTD,
      selectionPercent: sp.map(\.0), selectionPercentSE: sp.map(\.1), stopPercent: st.0, stopPercentSE: st.1,
      meanPatients: np.map(\.0), meanPatientsSE: np.map(\.1), meanDLTs: yp.map(\.0), meanDLTsSE: yp.map(\.1),
      meanTotalPatients: tN.0, meanTotalPatientsSE: tN.1, meanTotalDLTs: tY.0, meanTotalDLTsSE: tY.1,
      overdose60: o6.0, overdose60SE: o6.1, overdose80: o8.0, overdose80SE: o8.1,
      pcs: sp[trueMTD].0, pcsSE: sp[trueMTD].1, pResponse: response,
      expectedResponders: response == nil ? nil : rr.0, expectedRespondersSE: response == nil ? nil : rr.1)
  }
}

/// Simulation of dose-finding trials with common random numbers.
public enum DoseFindingSimulation {
  /// Checks the curves against the design.
  static func check(_ doses: Int, _ pTrue: [Double], _ pResponse: [Double]?) throws {
    try DoseFindingMath.checkProbabilities(pTrue, field: "p_true")
    guard pTrue.count == doses else { throw DoseFindingInputError(field: "p_true", "has \(pTrue.count) values for \(doses) doses") }
    if let q = pResponse {
      try DoseFindingMath.checkProbabilities(q, field: "p_response")
      guard q.count == doses else { throw DoseFindingInputError(field: "p_response", "has \(q.count) values for \(doses) doses") }
    }
  }

  /// Runs one trial; `dlt(j, d)` says whether the j-th enrolled patient (0-based) has a DLT at dose d.
  public static func runTrial<D: DoseFindingDesign>(_ design: D, dlt: (Int, Int) -> Bool) -> TrialOutcome {
    var s = design.initialState()
    var enrolled = 0
    while true {
      let d = s.current
      let m = min(design.config.cohortSize, design.config.maxPatients - enrolled)
      var k = 0
      for _ in 0..<m {
        if dlt(enrolled, d) { k += 1 }
        enrolled += 1
      }
      s.patients[d] += m
      s.dlts[d] += k
      if enrolled >= design.config.maxPatients || !design.decide(&s, cohortSize: m, cohortDLTs: k) { break }
    }
    return TrialOutcome(selected: design.selectMTD(s), patients: s.patients, dlts: s.dlts)
  }

  /// Trial `t` of a run with seed `seed`: patient j has a DLT at dose d iff u_j < p_true[d], with
  /// u_j the j-th uniform of `RandomStream(seed: seed, id: RandomStream.address(t))`. So every
  /// design sees the same patients (common random numbers).
  public static func simulateTrial<D: DoseFindingDesign>(_ design: D, pTrue: [Double], seed: UInt64, trial t: Int) -> TrialOutcome {
    var rng = RandomStream(seed: seed, id: RandomStream.address(UInt64(t)))
    var u: [Double] = []
    return runTrial(design) { j, d in
      while u.count <= j { u.append(rng.uniform()) }
      return u[j] < pTrue[d]
    }
  }

  /// Monte Carlo operating characteristics. Trials are spread over `threads` workers (each with its
  /// own copy of the design); the sums are exact integers, so the result does not depend on the
  /// thread count.
  /// - Throws: ``DoseFindingInputError`` for curves that do not fit the design.
  public static func simulate<D: DoseFindingDesign>(
    _ design: D, pTrue: [Double], pResponse: [Double]? = nil, trials: Int, seed: UInt64, threads: Int = 1
  ) throws -> OperatingCharacteristics {
    try check(design.config.doseCount, pTrue, pResponse)
    guard trials >= 1 else { throw DoseFindingInputError(field: "trials", "must be at least 1") }
    let mtd = DoseFindingMath.trueMTD(pTrue: pTrue, target: design.target)
    let workers = max(1, min(threads, trials))
    let box = Shared(Array(repeating: OCAccumulator(doses: pTrue.count, trueMTD: mtd, response: pResponse), count: workers))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      let local = design.makeWorker()
      var acc = OCAccumulator(doses: pTrue.count, trueMTD: mtd, response: pResponse)
      for t in stride(from: w, to: trials, by: workers) {
        acc.add(simulateTrial(local, pTrue: pTrue, seed: seed, trial: t))
      }
      box.withLock { $0[w] = acc }
    }
    var total = OCAccumulator(doses: pTrue.count, trueMTD: mtd, response: pResponse)
    for a in box.withLock({ $0 }) { total.merge(a) }
    return total.result(design: design.name, target: design.target, pTrue: pTrue, trials: trials, exact: false)
  }
}
