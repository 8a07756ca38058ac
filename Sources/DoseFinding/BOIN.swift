import RealModule
import StatKit

/// BOIN's decision boundaries (Liu & Yuan 2015, JRSS-C 64:507), as `BOIN::get.boundary` computes
/// them: with λe = ln((1−p_saf)/(1−φ)) / ln(φ(1−p_saf)/(p_saf(1−φ))) and
/// λd = ln((1−φ)/(1−p_tox)) / ln(p_tox(1−φ)/(φ(1−p_tox))), at n patients escalate if
/// y ≤ ⌊λe·n⌋, de-escalate if y ≥ ⌈λd·n⌉, and eliminate (n ≥ 3) if y ≥ the smallest count with
/// Pr(p > φ | y, n) > cutoff under Beta(1, 1); the de-escalation boundary is capped at the
/// elimination boundary.
public struct BOINBoundaries: Sendable {
  /// Target DLT rate φ.
  public let target: Double
  /// λe and λd.
  public let lambdaE: Double, lambdaD: Double
  /// Elimination cutoff (0.95).
  public let cutoff: Double

  /// - Throws: ``DoseFindingInputError`` for a target outside (0, 1) or p_saf/p_tox not bracketing it.
  public init(target: Double, pSafe: Double? = nil, pToxic: Double? = nil, cutoff: Double = 0.95) throws {
    try DoseFindingMath.checkTarget(target)
    let ps = pSafe ?? 0.6 * target, pt = pToxic ?? 1.4 * target
    guard ps > 0 && ps < target else { throw DoseFindingInputError(field: "p_saf", "must be in (0, target) (got \(ps))") }
    guard pt > target && pt < 1 else { throw DoseFindingInputError(field: "p_tox", "must be in (target, 1) (got \(pt))") }
    guard cutoff > 0 && cutoff < 1 else { throw DoseFindingInputError(field: "cutoff_eli", "must be in (0, 1) (got \(cutoff))") }
    self.target = target
    self.cutoff = cutoff
    lambdaE = Double.log((1 - ps) / (1 - target)) / Double.log(target * (1 - ps) / (ps * (1 - target)))
    lambdaD = Double.log((1 - target) / (1 - pt)) / Double.log(pt * (1 - target) / (target * (1 - pt)))
  }

  /// Escalate if #DLT ≤ this.
  public func escalate(_ n: Int) -> Int { Int((lambdaE * Double(n)).rounded(.down)) }

  /// Eliminate if #DLT ≥ this; `nil` below 3 patients or when no count qualifies.
  public func eliminate(_ n: Int) -> Int? {
    guard n >= 3 else { return nil }
    return (1...n).first { DoseFindingMath.probAbove(target, dlts: $0, patients: n) > cutoff }
  }

  /// De-escalate if #DLT ≥ this (capped at the elimination boundary).
  public func deescalate(_ n: Int) -> Int {
    let d = Int((lambdaD * Double(n)).rounded(.up))
    return eliminate(n).map { min($0, d) } ?? d
  }

  /// The table rows for n = 1…`maxN`: (n, escalate ≤, de-escalate ≥, eliminate ≥).
  public func table(maxN: Int) -> [(n: Int, escalate: Int, deescalate: Int, eliminate: Int?)] {
    (1...max(1, maxN)).map { ($0, escalate($0), deescalate($0), eliminate($0)) }
  }
}

/// The BOIN design for single-agent trials, matching `BOIN::get.oc` (v2.7) and `select.mtd`:
///
/// After each cohort at dose d with y DLTs in n patients: if y ≥ the elimination boundary, doses
/// d and above are eliminated, and if d is the lowest dose the trial stops with no MTD. If
/// n ≥ `n.earlystop` and the decision is to stay (y between the boundaries, or de-escalation
/// asked at the lowest dose, or escalation asked at the highest dose or towards an eliminated
/// dose) the trial stops and selects the MTD. Otherwise escalate if y ≤ ⌊λe·n⌋ (and d + 1 is not
/// eliminated), de-escalate if y ≥ ⌈λd·n⌉, else stay. No decision follows the cohort that
/// exhausts the sample size. The MTD: see ``selectMTD(_:)``.
public struct BOIN: DoseFindingDesign {
  public let name = "boin"
  public let config: TrialConfig
  public let boundaries: BOINBoundaries
  public var target: Double { boundaries.target }
  private let esc: [Int], deesc: [Int], elim: [Int?]

  public init(config: TrialConfig, target: Double, pSafe: Double? = nil, pToxic: Double? = nil, cutoff: Double = 0.95) throws {
    self.config = config
    boundaries = try BOINBoundaries(target: target, pSafe: pSafe, pToxic: pToxic, cutoff: cutoff)
    let ns = 0...min(config.maxPatients, 1000)  // beyond: computed on demand
    esc = ns.map(boundaries.escalate)
    deesc = ns.map(boundaries.deescalate)
    elim = ns.map(boundaries.eliminate)
  }

  private func bounds(_ n: Int) -> (e: Int, d: Int, x: Int?) {
    n < esc.count ? (esc[n], deesc[n], elim[n]) : (boundaries.escalate(n), boundaries.deescalate(n), boundaries.eliminate(n))
  }

  /// The next dose by the boundaries (ignoring elimination of d itself and the early stop).
  private func move(_ s: TrialState) -> Int {
    let d = s.current, b = bounds(s.patients[d]), y = s.dlts[d]
    if y <= b.e && d != config.doseCount - 1 { return d + 1 < s.excludedFrom ? d + 1 : d }
    if y >= b.d && d != 0 { return d - 1 }
    return d
  }

  public func decide(_ s: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool {
    let d = s.current, n = s.patients[d]
    if let x = bounds(n).x, s.dlts[d] >= x {
      s.excludedFrom = min(s.excludedFrom, d)
      if d == 0 {
        s.stoppedForSafety = true
        return false
      }
    }
    let next = move(s)
    if let stopN = config.nEarlyStop, n >= stopN, next == d { return false }
    s.current = next
    return true
  }

  /// `select.mtd`: doses are eliminated from the final counts (first dose with n ≥ 3 and
  /// Pr(p > φ) > cutoff, and all above); no MTD if the lowest dose is eliminated. Among doses
  /// treated and not eliminated, the PAVA fit of (y + 0.05)/(n + 0.1) weighted by the inverse of
  /// (y + 0.05)(n − y + 0.05)/((n + 0.1)²(n + 1.1)), plus 1e-10·rank, closest to φ (first on ties).
  public func selectMTD(_ s: TrialState) -> Int? {
    if s.stoppedForSafety { return nil }
    return Self.selectMTD(target: target, patients: s.patients, dlts: s.dlts, cutoff: boundaries.cutoff).mtd
  }

  /// `select.mtd` on counts: the MTD (0-based, `nil` for none) and the isotonic estimates per dose
  /// (NaN for untreated doses).
  public static func selectMTD(target: Double, patients n: [Int], dlts y: [Int], cutoff: Double = 0.95)
    -> (mtd: Int?, isotonic: [Double])
  {
    var eliminatedFrom = n.count
    for i in n.indices where n[i] >= 3 && DoseFindingMath.probAbove(target, dlts: y[i], patients: n[i]) > cutoff {
      eliminatedFrom = i
      break
    }
    let treated = n.indices.filter { n[$0] > 0 }
    var iso = Array(repeating: Double.nan, count: n.count)
    let fit: (Int) -> (Double, Double) = { i in
      let yi = Double(y[i]) + 0.05, ni = Double(n[i]) + 0.1
      return (yi / ni, 1 / (yi * (ni - yi) / (ni * ni * (ni + 1))))
    }
    let all = treated.map(fit)
    for (k, v) in Isotonic.pava(all.map(\.0), weights: all.map(\.1)).enumerated() { iso[treated[k]] = v }
    let admissible = treated.filter { $0 < eliminatedFrom }
    guard eliminatedFrom > 0, !admissible.isEmpty else { return (nil, iso) }
    let adm = admissible.map(fit)
    let phat = Isotonic.pava(adm.map(\.0), weights: adm.map(\.1))
    var best = 0, bestDist = Double.infinity
    for k in phat.indices {
      let dist = abs(phat[k] + Double(k + 1) * 1e-10 - target)
      if dist < bestDist {
        best = k
        bestDist = dist
      }
    }
    return (admissible[best], iso)
  }

  /// The decision for accrued data (the BOIN boundaries at the current dose, as the BOIN web app
  /// and `get.boundary` table give it), with the final selection when stopping.
  public func recommend(patients: [Int], dlts: [Int], current: Int) -> Recommendation {
    var s = initialState()
    s.patients = patients
    s.dlts = dlts
    s.current = current
    // Doses eliminated by the data so far (n ≥ 3 and Pr(p > φ) > cutoff, and all above).
    for i in patients.indices where i <= current {
      if let x = bounds(patients[i]).x, dlts[i] >= x {
        s.excludedFrom = i
        break
      }
    }
    let n = patients[current], b = bounds(n)
    let prOver = patients.indices.map { DoseFindingMath.probAbove(target, dlts: dlts[$0], patients: patients[$0]) }
    let sel = Self.selectMTD(target: target, patients: patients, dlts: dlts, cutoff: boundaries.cutoff)
    let estimates = [("isotonic", sel.isotonic), ("pr_over_target", prOver)]
    let scalars = [
      ("lambda_e", boundaries.lambdaE), ("lambda_d", boundaries.lambdaD),
      ("escalate_if_dlts_le", Double(b.e)), ("deescalate_if_dlts_ge", Double(b.d)),
      ("eliminate_if_dlts_ge", b.x.map(Double.init) ?? .nan),
    ]
    var t = s
    let going = decide(&t, cohortSize: 0, cohortDLTs: 0)
    if !going {
      let mtd = t.stoppedForSafety ? nil : sel.mtd
      let why =
        t.stoppedForSafety
        ? "the lowest dose is eliminated (Pr(p > target) > \(boundaries.cutoff)): stop, no MTD"
        : "\(n) patients at the current dose (n.earlystop) and the decision is to stay: stop and select the MTD"
      return Recommendation(decision: .stop, nextDose: nil, selectedMTD: mtd, reason: why, estimates: estimates, scalars: scalars)
    }
    let y = dlts[current]
    let decision: DoseDecision = t.current > current ? .escalate : t.current < current ? .deescalate : .stay
    var why = "\(y) DLT(s) in \(n): escalate if ≤ \(b.e), de-escalate if ≥ \(b.d)"
    if let x = b.x { why += ", eliminate if ≥ \(x)" }
    if t.excludedFrom <= current { why += "; doses \(t.excludedFrom + 1)+ eliminated" }
    return Recommendation(decision: decision, nextDose: t.current, selectedMTD: nil, reason: why, estimates: estimates, scalars: scalars)
  }
}
