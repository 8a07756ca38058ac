import RealModule
import StatKit

/// The one-parameter working models of `dfcrm` (Cheung 2011).
public enum CRMModel: String, Sendable, CaseIterable {
  /// Empiric (power) model p_i = s_i^exp(β).
  case empiric
  /// One-parameter logistic p_i = logit⁻¹(a0 + exp(β)·x_i), x_i = logit(s_i) − a0.
  case logistic
}

/// Posterior summaries of the CRM parameter β given per-dose counts.
public struct CRMPosterior: Sendable, Hashable {
  /// Posterior mean and variance of β.
  public var betaMean: Double, betaVariance: Double
  /// Pr(p₁ > target | data): the posterior probability that the lowest dose is too toxic.
  public var prLowestOverTarget: Double
}

/// The continual reassessment method (O'Quigley, Pepe & Fisher 1990) as `dfcrm::crm` and
/// `dfcrm::crmsim` run it:
///
/// - Working model: ``CRMModel``, skeleton s, prior β ~ N(0, σ²) with σ² = 1.34 and a0 = 3 (dfcrm's
///   defaults).
/// - Posterior by numerical integration over z = β/σ on [−10, 10] (the prior mass outside is
///   < 2e-23): composite 10-point Gauss–Legendre on panels of width ≤ 0.25, panels split at the
///   cut points of the tail probabilities Pr(p_i > target). Error below 1e-9 for posteriors not
///   much narrower than σ/10 (the tests check 1e-8 against adaptive Simpson); dfcrm uses R's
///   `integrate` (relative tolerance ≈ 1e-4).
/// - Estimates: p_i at the posterior mean of β (dfcrm's plug-in `ptox`); the recommended dose is the
///   one with plug-in estimate closest to the target (lower dose on ties).
/// - Next cohort (crmsim's `restrict = TRUE`): no skipping (at most one level above the current
///   dose), and no escalation when the last cohort's DLT fraction is ≥ the target (coherence).
/// - Optional two-stage start-up (crmsim with a vector `x0`): cohorts escalate one level at a time
///   from the starting dose until the first DLT, then the model takes over; or, with a start-up
///   sequence (dfcrm's `x0` itself: a dose level per patient), the cohort that begins with patient
///   n + 1 is treated at level x0[n] until the first DLT (in cohorts of one, exactly dfcrm's
///   initial design; a sequence shorter than the trial hands over to the model when it ends).
///   (dfcrm switches to a vague N(0, 500²) prior while every outcome so far is a DLT; this
///   implementation keeps the prior.)
/// - Safety stop (not in dfcrm; `escalation::stop_when_too_toxic` in spirit): after each cohort,
///   stop with no MTD if Pr(p₁ > target | data) > `safetyThreshold` (default 0.9; ≥ 1 disables).
/// - Final MTD: the recommended dose on all data, without the restrictions.
public struct CRM: DoseFindingDesign {
  public let name = "crm"
  public let config: TrialConfig
  public let target: Double
  public let skeleton: [Double]
  public let model: CRMModel
  /// Logistic intercept a0.
  public let intercept: Double
  /// Prior standard deviation of β.
  public let priorSD: Double
  /// Two-stage start-up.
  public let startUp: Bool
  /// Two-stage start-up by a dose level per patient (0-based), dfcrm's `x0`.
  public let startSequence: [Int]?
  /// Stop when Pr(p₁ > target | data) exceeds this.
  public let safetyThreshold: Double
  /// Scaled doses: log s_i (empiric) or logit(s_i) − a0 (logistic).
  public let scaled: [Double]
  private var cache = PosteriorCache()

  static let zMax = 10.0, panel = 0.25

  /// - Throws: ``DoseFindingInputError`` for a skeleton of the wrong length, not increasing or not
  ///   in (0, 1), or a logistic intercept too small for it.
  public init(
    config: TrialConfig, target: Double, skeleton: [Double], model: CRMModel = .empiric,
    intercept: Double = 3, priorSD: Double = 1.34.squareRoot(), startUp: Bool = false,
    startSequence: [Int]? = nil, safetyThreshold: Double = 0.9
  ) throws {
    try DoseFindingMath.checkTarget(target)
    guard skeleton.count == config.doseCount else {
      throw DoseFindingInputError(field: "skeleton", "has \(skeleton.count) values for \(config.doseCount) doses")
    }
    try DoseFindingMath.checkProbabilities(skeleton, field: "skeleton", increasing: true)
    guard skeleton.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw DoseFindingInputError(field: "skeleton", "values must be in (0, 1)") }
    guard priorSD > 0 && priorSD.isFinite else { throw DoseFindingInputError(field: "prior_sd", "must be positive") }
    guard safetyThreshold > 0 else { throw DoseFindingInputError(field: "crm_safety", "must be positive") }
    switch model {
    case .empiric: scaled = skeleton.map { Double.log($0) }
    case .logistic:
      scaled = skeleton.map { Double.log($0 / (1 - $0)) - intercept }
      guard scaled.allSatisfy({ $0 < 0 }) else {
        throw DoseFindingInputError(field: "intercept", "too small for the skeleton: logit(s_i) − a0 must be < 0 at every dose")
      }
    }
    self.config = config
    self.target = target
    self.skeleton = skeleton
    self.model = model
    self.intercept = intercept
    self.priorSD = priorSD
    if let x0 = startSequence {
      guard !x0.isEmpty, x0.allSatisfy({ (0..<config.doseCount).contains($0) }) else {
        throw DoseFindingInputError(field: "start_sequence", "dose levels must be 1…\(config.doseCount)")
      }
      guard zip(x0, x0.dropFirst()).allSatisfy({ $0 <= $1 }) else {
        throw DoseFindingInputError(field: "start_sequence", "must not decrease (dfcrm's initial design)")
      }
    }
    self.startUp = startUp || startSequence != nil
    self.startSequence = startSequence
    self.safetyThreshold = safetyThreshold
  }

  /// Phase 0: start-up (escalate until the first DLT); phase 1: model-based.
  public func initialState() -> TrialState {
    var s = TrialState(doseCount: config.doseCount, start: startSequence?.first ?? config.startDose)
    s.phase = startUp ? 0 : 1
    return s
  }

  /// p_i at β.
  public func toxicity(_ i: Int, beta: Double) -> Double {
    switch model {
    case .empiric: return Double.exp(Double.exp(beta) * scaled[i])
    case .logistic: return 1 / (1 + Double.exp(-intercept - Double.exp(beta) * scaled[i]))
    }
  }

  /// The β below which p_i > t (p_i falls as β rises); `-∞` if p_i never exceeds t.
  func cut(_ i: Int, _ t: Double) -> Double {
    switch model {
    case .empiric: return Double.log(Double.log(t) / scaled[i])
    case .logistic:
      let r = (Double.log(t / (1 - t)) - intercept) / scaled[i]
      return r > 0 ? Double.log(r) : -.infinity
    }
  }

  /// log p and log(1 − p) at dose i for β, computed stably.
  @inline(__always)
  func logP(_ i: Int, _ eb: Double) -> (Double, Double) {
    switch model {
    case .empiric:
      let a = eb * scaled[i]
      return (a, Double.log(-Double.expMinusOne(a)))
    case .logistic:
      let eta = intercept + eb * scaled[i]
      return (-softplus(-eta), -softplus(eta))
    }
  }

  @inline(__always) func softplus(_ t: Double) -> Double { max(t, 0) + Double.log(onePlus: Double.exp(-abs(t))) }

  /// Log posterior density of z = β/σ, up to a constant.
  func logPosterior(_ z: Double, _ n: [Int], _ y: [Int]) -> Double {
    let eb = Double.exp(priorSD * z)
    var ll = -0.5 * z * z
    for i in n.indices where n[i] > 0 {
      let (lp, lq) = logP(i, eb)
      ll += Double(y[i]) * lp + Double(n[i] - y[i]) * lq
    }
    return ll
  }

  /// 10-point Gauss–Legendre rule on [−1, 1] (Newton iteration on P₁₀).
  static let gaussLegendre: [(x: Double, w: Double)] = {
    let m = 10
    return (1...m).map { i in
      var x = Double.cos(Double.pi * (Double(i) - 0.25) / (Double(m) + 0.5)), dp = 1.0
      for _ in 0..<100 {
        var p0 = 1.0, p1 = x
        for k in 2...m {
          let p2 = (Double(2 * k - 1) * x * p1 - Double(k - 1) * p0) / Double(k)
          (p0, p1) = (p1, p2)
        }
        dp = Double(m) * (x * p1 - p0) / (x * x - 1)
        let dx = p1 / dp
        x -= dx
        if abs(dx) < 1e-15 { break }
      }
      return (x, 2 / ((1 - x * x) * dp * dp))
    }
  }()

  /// Composite Gauss–Legendre nodes and weights on [−10, 10] in z, in panels of width ≤ 0.25 that
  /// never straddle a break (so a tail probability is a sum over whole panels).
  func nodes(breaks: [Double]) -> (z: [Double], w: [Double]) {
    let cuts = ([-Self.zMax, Self.zMax] + breaks.filter { $0 > -Self.zMax && $0 < Self.zMax }).sorted()
    var z: [Double] = [], w: [Double] = []
    for k in 0..<(cuts.count - 1) where cuts[k + 1] > cuts[k] {
      let panels = max(1, Int(((cuts[k + 1] - cuts[k]) / Self.panel).rounded(.up)))
      let h = (cuts[k + 1] - cuts[k]) / Double(panels)
      for j in 0..<panels {
        let mid = cuts[k] + (Double(j) + 0.5) * h
        for g in Self.gaussLegendre {
          z.append(mid + 0.5 * h * g.x)
          w.append(0.5 * h * g.w)
        }
      }
    }
    return (z, w)
  }

  /// Posterior summaries for counts (cached per counts when called through the design).
  public func posterior(patients n: [Int], dlts y: [Int]) -> CRMPosterior {
    let zc = cut(0, target) / priorSD
    let (z, w) = nodes(breaks: [zc])
    let lp = z.map { logPosterior($0, n, y) }
    let top = lp.max() ?? 0
    var mass = 0.0, m1 = 0.0, m2 = 0.0, left = 0.0
    for k in z.indices {
      let f = w[k] * Double.exp(lp[k] - top)
      let b = priorSD * z[k]
      mass += f
      m1 += f * b
      m2 += f * b * b
      if z[k] < zc { left += f }
    }
    let mean = m1 / mass
    return CRMPosterior(betaMean: mean, betaVariance: max(0, m2 / mass - mean * mean), prLowestOverTarget: left / mass)
  }

  /// Posterior mean of p_i and Pr(p_i > target) at every dose (for reports).
  public func posteriorToxicity(patients n: [Int], dlts y: [Int]) -> (mean: [Double], prOverTarget: [Double]) {
    let cuts = skeleton.indices.map { cut($0, target) / priorSD }
    let (z, w) = nodes(breaks: cuts)
    let lp = z.map { logPosterior($0, n, y) }
    let top = lp.max() ?? 0
    var mass = 0.0
    var mean = Array(repeating: 0.0, count: skeleton.count), over = mean
    for k in z.indices {
      let f = w[k] * Double.exp(lp[k] - top)
      mass += f
      let beta = priorSD * z[k]
      for i in skeleton.indices {
        mean[i] += f * toxicity(i, beta: beta)
        if z[k] < cuts[i] { over[i] += f }
      }
    }
    return (mean.map { $0 / mass }, over.map { $0 / mass })
  }

  /// dfcrm's recommendation: the dose whose plug-in estimate is closest to the target.
  public func closest(beta: Double) -> Int {
    var best = 0
    for i in skeleton.indices.dropFirst() where abs(toxicity(i, beta: beta) - target) < abs(toxicity(best, beta: beta) - target) {
      best = i
    }
    return best
  }

  /// A copy with its own (empty) posterior cache, for one worker thread.
  public func makeWorker() -> CRM {
    var c = self
    c.cache = PosteriorCache()
    return c
  }

  func cachedPosterior(_ s: TrialState) -> CRMPosterior {
    let key = s.patients + s.dlts
    if let p = cache.values[key] { return p }
    let p = posterior(patients: s.patients, dlts: s.dlts)
    if cache.values.count > 200_000 { cache.values.removeAll(keepingCapacity: true) }
    cache.values[key] = p
    return p
  }

  public func decide(_ s: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool {
    let d = s.current, top = config.doseCount - 1
    var next: Int
    let treated = s.totalPatients
    if s.phase == 0 && s.dlts.allSatisfy({ $0 == 0 }) && treated < (startSequence?.count ?? .max) {
      next = startSequence?[treated] ?? min(d + 1, top)
    } else {
      s.phase = 1
      let post = cachedPosterior(s)
      if post.prLowestOverTarget > safetyThreshold {
        s.stoppedForSafety = true
        return false
      }
      next = closest(beta: post.betaMean)
      let toxic = cohortSize > 0 && Double(cohortDLTs) / Double(cohortSize) >= target
      next = min(next, toxic ? d : d + 1)
    }
    if let stopN = config.nEarlyStop, s.patients[next] >= stopN { return false }
    s.current = next
    return true
  }

  public func selectMTD(_ s: TrialState) -> Int? {
    if s.stoppedForSafety { return nil }
    return closest(beta: cachedPosterior(s).betaMean)
  }

  /// The next dose for accrued data. `lastCohort` (size, DLTs) enables the coherence restriction;
  /// with per-dose totals only the no-skipping rule applies.
  public func recommend(patients: [Int], dlts: [Int], current: Int, lastCohort: (size: Int, dlts: Int)?) -> Recommendation {
    var s = initialState()
    s.patients = patients
    s.dlts = dlts
    s.current = current
    s.phase = 1
    let post = posterior(patients: patients, dlts: dlts)
    let full = posteriorToxicity(patients: patients, dlts: dlts)
    let ptox = skeleton.indices.map { toxicity($0, beta: post.betaMean) }
    let estimates = [("ptox", ptox), ("posterior_mean_tox", full.mean), ("pr_over_target", full.prOverTarget)]
    let scalars = [
      ("beta_mean", post.betaMean), ("beta_variance", post.betaVariance),
      ("pr_lowest_over_target", post.prLowestOverTarget),
    ]
    let going = decide(&s, cohortSize: lastCohort?.size ?? 0, cohortDLTs: lastCohort?.dlts ?? 0)
    let mtd = closest(beta: post.betaMean)
    if !going {
      let why =
        s.stoppedForSafety
        ? "Pr(p1 > target | data) = \(post.prLowestOverTarget) > \(safetyThreshold): stop, no MTD"
        : "the next dose already has \(config.nEarlyStop ?? 0) patients: stop and select the MTD"
      return Recommendation(
        decision: .stop, nextDose: nil, selectedMTD: s.stoppedForSafety ? nil : mtd,
        reason: why, estimates: estimates, scalars: scalars)
    }
    let decision: DoseDecision = s.current > current ? .escalate : s.current < current ? .deescalate : .stay
    var why = "estimated MTD (plug-in p closest to target) is dose \(mtd + 1)"
    if s.current != mtd { why += "; restricted to dose \(s.current + 1) (no skipping\(lastCohort == nil ? "" : " / coherence"))" }
    return Recommendation(decision: decision, nextDose: s.current, selectedMTD: nil, reason: why, estimates: estimates, scalars: scalars)
  }
}

/// Posterior summaries by per-dose counts. A reference type so that inserting does not copy the
/// table; each worker owns one (``CRM/makeWorker()``), so it is never shared between threads.
final class PosteriorCache: @unchecked Sendable {
  var values: [[Int]: CRMPosterior] = [:]
}
