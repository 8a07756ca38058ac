/// The 3+3 design in the convention of Korn et al. (1994, Stat Med 13:1799), as implemented by the
/// `escalation` R package (`get_three_plus_three`), with Korn's optional de-escalation.
///
/// Cohorts of 3 at the current dose d:
/// - 0/3 DLTs: escalate to d + 1; at the highest dose the trial ends and selects it.
/// - 1/3: treat 3 more at d. Then ≤ 1/6: escalate (or, at the highest dose, select it);
///   ≥ 2/6: d is too toxic.
/// - ≥ 2/3: d is too toxic.
/// - d too toxic and d is the lowest dose: stop, no MTD.
/// - d too toxic, no de-escalation: the MTD is d − 1 (even if only 3 patients, or none when the
///   trial started above it, were treated there).
/// - d too toxic, with de-escalation: if d − 1 already has 6 patients it is the MTD; otherwise
///   treat cohorts of 3 at d − 1 until it has 6: ≤ 1/6 makes it the MTD, ≥ 2 DLTs makes it too
///   toxic in turn (and so on down). The trial never re-escalates.
///
/// The sample size is set by these rules (at most 6 per dose); `--cohort-size`, `--cohorts` and
/// `--n-earlystop` do not apply.
public struct ThreePlusThree: DoseFindingDesign {
  public let name = "3+3"
  public let config: TrialConfig
  public let target: Double
  /// Korn et al.'s de-escalation to expand the dose below a toxic one to 6 patients.
  public let deescalate: Bool

  /// - Parameters:
  ///   - doseCount: number of doses.
  ///   - startDose: 0-based starting dose.
  ///   - target: reported only (defines the true MTD in the OC summary).
  ///   - deescalate: Korn's optional de-escalation.
  public init(doseCount: Int, startDose: Int = 0, target: Double = 0.3, deescalate: Bool = false) throws {
    // The rules bound the sample size (at most 6 per dose); no cap applies.
    config = try TrialConfig(doseCount: doseCount, cohortSize: 3, maxPatients: .max, startDose: startDose)
    self.target = target
    self.deescalate = deescalate
  }

  /// Phase 0 is escalation, phase 1 de-escalation (expanding a lower dose to 6).
  public func decide(_ s: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool {
    let d = s.current, n = s.patients[d], y = s.dlts[d], top = config.doseCount - 1
    if y >= 2 { return tooToxic(d, &s) }
    if s.phase == 1 {
      if n >= 6 {
        s.chosen = d
        return false
      }
      return true  // 3 more at d
    }
    if n == 3 && y == 1 { return true }  // expand to 6
    // 0/3 or ≤ 1/6: escalate, or select the highest dose.
    if d == top {
      s.chosen = d
      return false
    }
    s.current = d + 1
    return true
  }

  private func tooToxic(_ d: Int, _ s: inout TrialState) -> Bool {
    s.excludedFrom = min(s.excludedFrom, d)
    if d == 0 {
      s.stoppedForSafety = true
      return false
    }
    let below = d - 1
    if !deescalate || s.patients[below] >= 6 {
      s.chosen = below
      return false
    }
    s.phase = 1
    s.current = below
    return true
  }

  public func selectMTD(_ s: TrialState) -> Int? { s.stoppedForSafety ? nil : s.chosen }

  /// The next step for accrued per-dose counts, replaying the rules (for `cartsim design next`).
  /// Counts must be reachable by a 3+3 trial (3 or 6 at the current dose).
  public func recommend(patients: [Int], dlts: [Int], current: Int) -> Recommendation {
    var s = initialState()
    s.patients = patients
    s.dlts = dlts
    s.current = current
    // A dose below the current one with fewer than 6 patients but more than 0 and a later visit
    // means the trial is de-escalating.
    if deescalate, current + 1 < patients.count, dlts[current + 1] >= 2, patients[current + 1] > 0 { s.phase = 1 }
    let going = decide(&s, cohortSize: 0, cohortDLTs: 0)
    if !going {
      let mtd = selectMTD(s)
      return Recommendation(
        decision: .stop, nextDose: nil, selectedMTD: mtd,
        reason: mtd.map { "3+3 finished: MTD is dose \($0 + 1)" } ?? "the lowest dose is too toxic: no MTD",
        estimates: [], scalars: [])
    }
    let decision: DoseDecision = s.current > current ? .escalate : s.current < current ? .deescalate : .stay
    let reason =
      decision == .stay
      ? "\(dlts[current])/\(patients[current]) DLTs: treat 3 more at this dose"
      : decision == .escalate
        ? "\(dlts[current])/\(patients[current]) DLTs: escalate"
        : "\(dlts[current])/\(patients[current]) DLTs: expand the dose below to 6 patients"
    return Recommendation(decision: decision, nextDose: s.current, selectedMTD: nil, reason: reason, estimates: [], scalars: [])
  }
}
