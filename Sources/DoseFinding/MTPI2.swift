import StatKit

/// The mTPI-2 design (Guo, Wang, Yang, Lynn & Ji 2017, Contemp Clin Trials 58:23–33), as the
/// `escalation` R package implements it (`get_mtpi2`, `select_mtpi2_mtd`):
///
/// - Beta(1, 1) prior; at the current dose the posterior is Beta(1 + y, 1 + n − y).
/// - Equivalence interval EI = [φ − ε1, φ + ε2]; below and above it, intervals of the same length
///   ε1 + ε2 stepping away from EI, the last ones truncated at 0 and 1. The unit probability mass
///   (posterior probability / length) picks the decision: an interval below EI → escalate, EI →
///   stay, above → de-escalate (ties in that order).
/// - Dose exclusion: if n ≥ 3 and Pr(p > φ | data) > ξ (0.95) at the current dose, it and all
///   higher doses are excluded and the next cohort goes one level down; if it is the lowest dose
///   the trial stops with no MTD. No escalation into an excluded dose; escalation at the highest
///   dose and de-escalation at the lowest mean staying.
/// - MTD: exclusion is re-applied to the final counts; among doses treated and not excluded,
///   isotonic regression (PAVA) of the posterior means (1 + y)/(2 + n) weighted by the inverse
///   posterior variances; the dose closest to φ; among ties the highest if their estimate is below
///   φ, else the lowest.
public struct MTPI2: DoseFindingDesign {
  public let name = "mtpi2"
  public let config: TrialConfig
  public let target: Double
  public let epsilon1: Double, epsilon2: Double
  /// Exclusion certainty ξ.
  public let exclusion: Double
  /// The partition of [0, 1]: (lower, upper, decision) intervals.
  public let intervals: [(lo: Double, hi: Double, decision: DoseDecision)]

  /// - Throws: ``DoseFindingInputError`` if φ ± ε leaves (0, 1) or ε ≤ 0.
  public init(config: TrialConfig, target: Double, epsilon1: Double = 0.05, epsilon2: Double = 0.05, exclusion: Double = 0.95) throws {
    try DoseFindingMath.checkTarget(target)
    // Intervals narrower than 0.001 would make the unit-probability-mass grid endless.
    guard epsilon1 >= 0.001 && target - epsilon1 >= 0 else { throw DoseFindingInputError(field: "epsilon1", "must be in [0.001, target]") }
    guard epsilon2 >= 0.001 && target + epsilon2 <= 1 else {
      throw DoseFindingInputError(field: "epsilon2", "must be in [0.001, 1 − target]")
    }
    guard exclusion > 0 && exclusion < 1 else { throw DoseFindingInputError(field: "cutoff_eli", "must be in (0, 1)") }
    self.config = config
    self.target = target
    self.epsilon1 = epsilon1
    self.epsilon2 = epsilon2
    self.exclusion = exclusion
    let delta = epsilon1 + epsilon2, tiny = 1e-9
    var iv: [(lo: Double, hi: Double, decision: DoseDecision)] = []
    // As R's seq(from, to, by): the k-th edge is from ± k·delta.
    for k in 0... {
      let upper = target - epsilon1 - Double(k) * delta
      if upper <= tiny { break }
      iv.append((max(upper - delta, 0), upper, .escalate))
    }
    iv.append((target - epsilon1, target + epsilon2, .stay))
    for k in 0... {
      let lower = target + epsilon2 + Double(k) * delta
      if lower >= 1 - tiny { break }
      iv.append((lower, min(lower + delta, 1), .deescalate))
    }
    intervals = iv
  }

  /// The UPM decision for y DLTs in n patients (escalate, stay or de-escalate), with the UPMs.
  public func upmDecision(dlts y: Int, patients n: Int) -> (decision: DoseDecision, upm: [Double]) {
    let a = 1 + Double(y), b = 1 + Double(n - y)
    let upm = intervals.map { (Distributions.betaCDF($0.hi, a, b) - Distributions.betaCDF($0.lo, a, b)) / ($0.hi - $0.lo) }
    let best = upm.max()!
    for d in [DoseDecision.escalate, .stay, .deescalate] {
      if intervals.indices.contains(where: { intervals[$0].decision == d && upm[$0] == best }) { return (d, upm) }
    }
    preconditionFailure("the UPM maximum belongs to no interval")
  }

  func excluded(_ n: Int, _ y: Int) -> Bool { n >= 3 && DoseFindingMath.probAbove(target, dlts: y, patients: n) > exclusion }

  public func decide(_ s: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool {
    let d = s.current, n = s.patients[d], y = s.dlts[d]
    var next: Int
    if excluded(n, y) {
      s.excludedFrom = min(s.excludedFrom, d)
      if d == 0 {
        s.stoppedForSafety = true
        return false
      }
      next = d - 1
    } else {
      switch upmDecision(dlts: y, patients: n).decision {
      case .escalate: next = d + 1 < min(config.doseCount, s.excludedFrom) ? d + 1 : d
      case .deescalate: next = max(d - 1, 0)
      default: next = d
      }
    }
    if let stopN = config.nEarlyStop, s.patients[next] >= stopN { return false }
    s.current = next
    return true
  }

  public func selectMTD(_ s: TrialState) -> Int? {
    s.stoppedForSafety ? nil : selectMTD(patients: s.patients, dlts: s.dlts).mtd
  }

  /// The final selection on counts, with the isotonic posterior means (NaN where untreated).
  public func selectMTD(patients n: [Int], dlts y: [Int]) -> (mtd: Int?, isotonic: [Double]) {
    let cut = n.indices.first { excluded(n[$0], y[$0]) } ?? n.count
    var iso = Array(repeating: Double.nan, count: n.count)
    let adm = n.indices.filter { n[$0] > 0 && $0 < cut }
    guard cut > 0, !adm.isEmpty else { return (nil, iso) }
    let mean = adm.map { (1 + Double(y[$0])) / (2 + Double(n[$0])) }
    let weight = adm.map { i -> Double in
      let a = 1 + Double(y[i]), b = 1 + Double(n[i] - y[i])
      return (a + b) * (a + b) * (a + b + 1) / (a * b)
    }
    let fit = Isotonic.pava(mean, weights: weight)
    for (k, i) in adm.enumerated() { iso[i] = fit[k] }
    let dist = fit.map { abs($0 - target) }
    let best = dist.min()!
    let ties = fit.indices.filter { dist[$0] == best }
    let mean0 = ties.map { fit[$0] }.reduce(0, +) / Double(ties.count)
    return (adm[mean0 < target ? ties.last! : ties.first!], iso)
  }

  /// The decision for accrued data, with the UPMs and posterior summaries.
  public func recommend(patients: [Int], dlts: [Int], current: Int) -> Recommendation {
    var s = initialState()
    s.patients = patients
    s.dlts = dlts
    s.current = current
    for i in patients.indices where i < current && excluded(patients[i], dlts[i]) {
      s.excludedFrom = i
      break
    }
    let n = patients[current], y = dlts[current]
    let upm = upmDecision(dlts: y, patients: n)
    let prOver = patients.indices.map { DoseFindingMath.probAbove(target, dlts: dlts[$0], patients: patients[$0]) }
    let sel = selectMTD(patients: patients, dlts: dlts)
    let estimates = [("isotonic", sel.isotonic), ("pr_over_target", prOver), ("upm_by_interval", upm.upm)]
    let scalars = [("pr_current_over_target", prOver[current])]
    var t = s
    let going = decide(&t, cohortSize: 0, cohortDLTs: 0)
    if !going {
      let why =
        t.stoppedForSafety
        ? "the lowest dose is excluded (Pr(p > target) > \(exclusion)): stop, no MTD"
        : "the next dose already has \(config.nEarlyStop ?? 0) patients: stop and select the MTD"
      return Recommendation(
        decision: .stop, nextDose: nil, selectedMTD: t.stoppedForSafety ? nil : sel.mtd,
        reason: why, estimates: estimates, scalars: scalars)
    }
    let decision: DoseDecision = t.current > current ? .escalate : t.current < current ? .deescalate : .stay
    var why = "\(y) DLT(s) in \(n): highest unit probability mass says \(upm.decision.rawValue)"
    if t.excludedFrom < config.doseCount { why += "; doses \(t.excludedFrom + 1)+ excluded" }
    return Recommendation(decision: decision, nextDose: t.current, selectedMTD: nil, reason: why, estimates: estimates, scalars: scalars)
  }
}
