import ODEKit
import RealModule
import SBMLKit

/// The individual predictions of one subject at given THETA and ETA: for each observation the
/// prediction f = Y at ε = 0 and the residual variance V = hᵀΣh, h = ∂Y/∂ε (Y is linear in ε,
/// as FOCE assumes), with the record-by-record semantics of NONMEM's PREDPP:
/// - `$PK` runs at every record with that record's data items, and the parameters it sets
///   carry the system from the previous record's time to this one;
/// - doses (bolus, RATE > 0 infusions, RATE −1/−2 modelled rate or duration, Fn
///   bioavailability, ALAGn lag times, ADDL/II additional doses, SS 1/2 steady state) go into
///   their compartment; EVID 3/4 reset every compartment;
/// - `$ERROR` runs at every record after the system has reached it, with F = A(cmt)/Scmt.
public final class Predictor {
  public let model: NLMEModel
  /// The frame's slots, then the temporaries and the constants of the code blocks' programs.
  let frame: UnsafeMutablePointer<Double>
  /// The code blocks' programs, linked to the frame.
  let pk: LinkedProgram?
  let output: LinkedProgram?
  let des: LinkedProgram?
  /// The frame's slots before and after `$ERROR`/`$PRED` at an observation, when the block
  /// carries values from record to record: its runs for ∂Y/∂ε then start from the same values
  /// as the first, and leave the frame as the first left it (NONMEM runs the block once).
  let before: UnsafeMutablePointer<Double>
  let after: UnsafeMutablePointer<Double>
  /// The SBML model of an SBML-mapped population model (its workspace is this predictor's).
  let sbml: SBMLSystem?
  var state: [Double]
  var infusionRate: [Double]
  var pending: [Pending] = []
  var cache: (k: [Double], r: [Double], dt: Double, e: [Double])?
  /// The rate matrix of the current record.
  var rates: [Double]
  /// The η-jets of the memory and the state (PredictJets.swift); nil for models the jets do
  /// not cover. `gradientJets` add the directions of an analytic gradient, made when first
  /// asked for; `active` is the one in use while
  /// ``predictJets(_:theta:eta:sigma:directions:f:v:fJets:vJets:)`` runs, nil otherwise.
  let jets: JetState?
  var gradientJets: JetState?
  var active: JetState?

  /// A dose event that is due later than the record that gave it.
  struct Pending {
    var time: Double
    var compartment: Int
    /// A bolus amount, or an infusion rate with its end time.
    var amount: Double
    var rate: Double
    var duration: Double
    /// Additional doses still to come after this one (ADDL), every `interval`: each is
    /// scheduled when the one before starts, so the queue stays short.
    var repeats = 0
    var interval = 0.0
  }

  /// The most ODE steps between two records: a model that needs more fails its prediction.
  public static let maxSteps = 200_000

  /// The most dosing intervals (or, for a constant infusion, doublings of the span) that
  /// `$DES` steady state repeats before it fails the prediction.
  public static let maxSteadyStateRepeats = 2_000

  /// The residual variance reported for an observation whose Y is a likelihood (F_FLAG = 1).
  public static let likelihoodValued = -1.0

  public init(model: NLMEModel) {
    self.model = model
    let slots = max(1, model.slotCount)
    let code = model.linked
    (pk, output, des) = (code.pk, code.output, code.des)
    frame = .allocate(capacity: code.size)
    frame.initialize(repeating: 0, count: code.size)
    code.place(frame)
    before = .allocate(capacity: slots)
    before.initialize(repeating: 0, count: slots)
    after = .allocate(capacity: slots)
    after.initialize(repeating: 0, count: slots)
    let n = model.kinetics?.compartments ?? 0
    sbml = model.kinetics?.sbml.map { SBMLSystem($0.compiled) }
    let states = sbml?.dimension ?? n
    state = [Double](repeating: 0, count: states)
    infusionRate = [Double](repeating: 0, count: states)
    rates = [Double](repeating: 0, count: n * n)
    jets = JetState(model: model, size: code.size, states: states)
  }

  deinit {
    frame.deallocate()
    before.deallocate()
    after.deallocate()
  }

  /// Fills `f` and `v` (one entry per likelihood observation of the subject). `visit` sees the
  /// frame after `$ERROR` at every record (for tables). False when a value is not finite or the
  /// model cannot be advanced.
  public func predict(
    _ subject: Dataset.Subject, theta: [Double], eta: [Double], sigma: [Double], f: inout [Double], v: inout [Double],
    visit: ((Int, UnsafeMutablePointer<Double>) -> Void)? = nil
  ) -> Bool {
    let model = self.model
    let frameSlots = max(1, model.slotCount)
    frame.update(repeating: 0, count: frameSlots)
    for i in state.indices {
      state[i] = 0
      infusionRate[i] = 0
    }
    pending.removeAll(keepingCapacity: true)
    let jet = active
    jet?.start(frameSlots: frameSlots, eta: model.eta)
    let nEps = model.eps.count
    var h = [Double](repeating: 0, count: nEps)
    var ok = true
    var observation = 0
    var time = subject.records.first?.time ?? 0
    let fr = frame
    let kinetics = model.kinetics
    do {
      for (k, s) in model.theta.enumerated() { if let s { fr[s] = theta[k] } }
      for (k, s) in model.eta.enumerated() { if let s { fr[s] = eta[k] } }
      for (index, record) in subject.records.enumerated() {
        // A subject the jets cannot follow stops at once: its derivatives come from differences.
        if let jet, jet.unsupported { return false }
        for (k, s) in model.items.enumerated() { fr[s] = record.values[k] }
        for (a, b) in model.synonyms { fr[b] = fr[a] }
        jet?.data(items: model.items, synonyms: model.synonyms)
        if let kin = kinetics {
          if let jet, let pk { _ = pk.runJets(fr, jet.memory, jet.shape) } else { pk?.run(fr) }
          if kin.des == nil && kin.sbml == nil {
            kin.rateMatrix(fr, into: &rates)
            jet?.rates(kin, fr)
          }
          let k = rates
          let reset = record.evid == 3 || record.evid == 4 || index == 0
          if let map = kin.sbml, let sys = sbml, !reset {
            setParameters(map, sys, fr)
            jet?.sbmlParameters(sys, map)
          }
          guard advance(to: record.time, from: &time, k, kin, fr) else { return false }
          if let map = kin.sbml, let sys = sbml, reset {
            // The SBML model's initial state, with this subject's parameters in its initial assignments.
            if let jet, jet.sbml != nil {
              guard let start = jet.sbmlStart(sys, map, at: record.time, fr) else { return false }
              state = start
            } else {
              state = sys.initialState(at: record.time, overrides: map.parameters.map { ($0.sbml, fr[$0.frame]) })
            }
            for i in infusionRate.indices { infusionRate[i] = 0 }
            pending.removeAll(keepingCapacity: true)
          } else if reset {
            // The start of the subject, or a reset: empty compartments, or A_0 where the code sets it.
            for i in state.indices {
              state[i] = kin.initialAmount[i].map { fr[$0] } ?? 0
              infusionRate[i] = 0
            }
            jet?.reset(kin)
            pending.removeAll(keepingCapacity: true)
          }
          if record.evid == 1 || record.evid == 4 {
            guard dose(record, kin, k, fr, time: record.time) else { return false }
          }
          for (i, s) in kin.amount.enumerated() { fr[s] = state[i] }
          let c = (record.evid == 0 && record.cmt > 0 ? record.cmt : kin.defaultObservation) - 1
          guard c < kin.compartments else { return false }
          let scale = kin.scaleAssigned[c] ? fr[kin.scale[c]] : 1
          if let map = kin.sbml, let sys = sbml {
            // The observed symbol's value at this state (species as their symbol means in math).
            guard let slots = map.observed[c + 1] else { return false }
            state.withUnsafeBufferPointer { sys.evaluate(t: record.time, u: $0) }
            fr[model.f] = slots.reduce(0) { $0 + sys.workspace.values[$1] } / scale
            jet?.sbmlObservation(sys, kin, observed: slots, output: model.f, compartment: c, at: record.time, values: state, fr)
          } else {
            jet?.amounts(kin, output: model.f, compartment: c, state: state[c], scale: scale, fr)
            fr[model.f] = state[c] / scale
          }
        }
        let block = output
        let observed = record.evid == 0 && !record.mdv && observation < f.count
        // $ERROR/$PRED at a record without an observation only matters for a table or for
        // code that carries values from record to record.
        guard observed || visit != nil || model.outputCarriesState else { continue }
        for s in model.eps { if let s { fr[s] = 0 } }
        let carries = model.outputCarriesState && observed && nEps > 0
        if carries { before.update(from: fr, count: frameSlots) }
        jet?.zero(model.eps)
        if let jet, let block { _ = block.runJets(fr, jet.memory, jet.shape) } else { block?.run(fr) }
        let y0 = fr[model.y]
        jet?.keepOutput(model.y)
        if observed {
          if carries { after.update(from: fr, count: frameSlots) }
          for (k, s) in model.eps.enumerated() {
            guard let s else {
              h[k] = 0
              continue
            }
            // h = Y(ε_k = 1) − Y(0): Y is linear in ε. A block without carried values gives
            // the same from any start, so only Y is put back.
            if carries { fr.update(from: before, count: frameSlots) }
            let saved = fr[model.y]
            fr[s] = 1
            if let jet, let block { _ = block.runJets(fr, jet.memory, jet.shape) } else { block?.run(fr) }
            h[k] = fr[model.y] - y0
            jet?.residualSlope(k, output: model.y)
            fr[s] = 0
            if carries { fr.update(from: after, count: frameSlots) } else { fr[model.y] = saved }
            jet?.restoreOutput(model.y)
          }
          var variance = 0.0
          for a in 0..<nEps { for b in 0..<nEps { variance += h[a] * sigma[a * nEps + b] * h[b] } }
          f[observation] = y0
          v[observation] = variance
          jet?.observation(observation, h: h, sigma: sigma)
          if let flag = model.likelihoodFlag, fr[flag] == 1 {
            // F_FLAG = 1: Y is the observation's likelihood (M3/M4 written in the code).
            v[observation] = Self.likelihoodValued
            jet?.likelihoodValued(observation)
            if !(y0.isFinite && y0 >= 0) { ok = false }
          } else if !(y0.isFinite && variance.isFinite && variance > 0) {
            ok = false
          }
          observation += 1
        }
        if let visit {
          // Variables computed from ε hold their ε = 1 values: one more run at ε = 0 (the
          // frame after the first run, restored above, where the block carries values).
          if nEps > 0 && observed && !carries { block?.run(fr) }
          fr[model.y] = y0
          visit(index, fr)
        }
      }
    }
    return ok
  }

  /// Writes the mapped parameters into the SBML model when this record's `$PK` changed them,
  /// and re-runs the model's rules that depend on parameters only.
  func setParameters(_ map: NLMEModel.SBMLKinetics, _ sys: SBMLSystem, _ fr: UnsafeMutablePointer<Double>) {
    let v = sys.workspace.values
    var changed = false
    for (slot, frameSlot) in map.parameters where v[slot] != fr[frameSlot] {
      v[slot] = fr[frameSlot]
      changed = true
    }
    if changed { map.compiled.invariant.run(v) }
  }

  /// Carries the compartments from `time` to `target` with rate matrix k, giving the lagged
  /// doses and infusion ends due on the way.
  func advance(
    to target: Double, from time: inout Double, _ k: [Double], _ kin: NLMEModel.Kinetics, _ fr: UnsafeMutablePointer<Double>
  ) -> Bool {
    while let next = pending.indices.min(by: { pending[$0].time < pending[$1].time }), pending[next].time <= target {
      let p = pending.remove(at: next)
      guard move(k, kin, from: time, to: p.time, fr) else { return false }
      time = p.time
      start(p)
    }
    guard move(k, kin, from: time, to: target, fr) else { return false }
    time = target
    return true
  }

  /// Carries the compartments from t0 to t1: the closed form, or the ODEs of `$DES`
  /// integrated with restarts at the model event times (MTIME) in between.
  func move(_ k: [Double], _ kin: NLMEModel.Kinetics, from t0: Double, to t1: Double, _ fr: UnsafeMutablePointer<Double>) -> Bool {
    guard t1 > t0 else { return true }
    if let sys = sbml {
      if let jets = active, !jets.unsupported { return jets.sbmlIntegrate(sys, kin, from: t0, to: t1, predictor: self) }
      var options = SolverOptions(rtol: kin.rtol, atol: [kin.atol], maxSteps: Self.maxSteps)
      options.saveAt = [t1]
      let solution: ODESolution
      if infusionRate.allSatisfy({ $0 == 0 }) {
        solution = solve(
          ODEProblem(system: sys, u0: state, tspan: (t0, t1), stateEvents: sys.stateEvents(), conditionScan: sys.conditionScan()),
          method: .auto, options: options)
      } else {
        let system = InfusedSBML(system: sys, infusion: infusionRate)
        solution = solve(
          ODEProblem(system: system, u0: state, tspan: (t0, t1), stateEvents: sys.stateEvents(), conditionScan: sys.conditionScan()),
          method: .auto, options: options)
      }
      guard solution.returnCode.isSuccessful, solution.finalState.allSatisfy(\.isFinite) else { return false }
      state = solution.finalState
      return true
    }
    guard let des else { return step(k, t1 - t0) }
    let breaks = kin.eventTimes.map { fr[$0] }.filter { $0 > t0 && $0 < t1 }.sorted()
    if let jets = active, !jets.unsupported { return jets.integrate(des, kin, breaks: breaks + [t1], from: t0, predictor: self) }
    var from = t0
    for to in breaks + [t1] {
      let system = DESSystem(
        program: des, frame: fr, amount: kin.amount, derivative: kin.derivative, time: kin.time, infusion: infusionRate)
      var options = SolverOptions(rtol: kin.rtol, atol: [kin.atol], maxSteps: Self.maxSteps)
      options.saveAt = [to]
      let solution = solve(ODEProblem(system: system, u0: state, tspan: (from, to)), method: kin.method, options: options)
      guard solution.returnCode.isSuccessful, solution.finalState.allSatisfy(\.isFinite) else { return false }
      state = solution.finalState
      from = to
    }
    return true
  }

  /// A pending dose or infusion end takes effect.
  func start(_ p: Pending) {
    if p.repeats > 0 {
      var next = p
      next.time += p.interval
      next.repeats -= 1
      pending.append(next)
    }
    if p.rate == 0 {
      state[p.compartment] += p.amount
    } else {
      infusionRate[p.compartment] += p.rate
      if p.duration.isFinite {
        pending.append(
          Pending(time: p.time + p.duration, compartment: p.compartment, amount: 0, rate: -p.rate, duration: .infinity, repeats: 0))
      }
    }
  }

  /// A(t + dt) = e^{K dt} A + ∫₀^dt e^{K s} ds · R, from the exponential of [[K, R], [0, 0]].
  func step(_ k: [Double], _ dt: Double) -> Bool {
    guard dt > 0 else { return true }
    let n = state.count
    if n == 1 {
      // One compartment: A e^{k dt} + R (e^{k dt} − 1)/k.
      let e = Double.exp(k[0] * dt)
      let next = state[0] * e + infusionRate[0] * (k[0] == 0 ? dt : Double.expMinusOne(k[0] * dt) / k[0])
      guard next.isFinite else { return false }
      if let jets = active { jets.step(k: k[0], dt: dt, e: e, amount: state[0], rate: infusionRate[0]) }
      state[0] = next
      return true
    }
    let e: [Double]
    if let c = cache, c.dt == dt, c.k == k, c.r == infusionRate {
      e = c.e
    } else {
      let m = n + 1
      var a = [Double](repeating: 0, count: m * m)
      for i in 0..<n {
        for j in 0..<n { a[i * m + j] = k[i * n + j] * dt }
        a[i * m + n] = infusionRate[i] * dt
      }
      e = matrixExponential(a, m)
      cache = (k, infusionRate, dt, e)
    }
    let m = n + 1
    var next = [Double](repeating: 0, count: n)
    for i in 0..<n {
      var s = e[i * m + n]
      for j in 0..<n { s += e[i * m + j] * state[j] }
      next[i] = s
    }
    guard next.allSatisfy(\.isFinite) else { return false }
    if let jets = active { jets.step(k: k, dt: dt, infusion: infusionRate, amounts: state) }
    state = next
    return true
  }

  /// A dose record: its compartment, bioavailability, lag, rate or duration, steady state and
  /// additional doses.
  func dose(_ r: Dataset.Record, _ kin: NLMEModel.Kinetics, _ k: [Double], _ fr: UnsafeMutablePointer<Double>, time: Double) -> Bool {
    let c = (r.cmt > 0 ? r.cmt : kin.defaultDose) - 1
    guard c < kin.compartments else { return false }
    let bio = kin.bioavailabilityAssigned[c] ? fr[kin.bioavailability[c]] : 1
    let lag = kin.lagAssigned[c] ? fr[kin.lag[c]] : 0
    let amount = r.amt * bio
    // The state the dose goes into: the compartment, or the species an SBML mapping names.
    let target: Int
    if let map = kin.sbml {
      guard let t = map.doseState[c + 1] else { return false }
      target = t
    } else {
      target = c
    }
    var rate = 0.0
    var duration = 0.0
    switch r.rate {
    case -1:
      rate = fr[kin.rate[c]]
      duration = amount / rate
    case -2:
      duration = fr[kin.duration[c]]
      rate = amount / duration
    case let x where x > 0:
      rate = x
      duration = r.amt == 0 ? .infinity : amount / rate
    default: break
    }
    guard bio >= 0, lag >= 0, rate >= 0, duration >= 0, amount.isFinite, rate.isFinite else { return false }
    if rate > 0 && duration == 0 { rate = 0 }
    if let jets = active { jets.dose(r, kin, compartment: c, target: target, rate: rate, lag: lag, fr) }
    if r.ss != 0 {
      guard lag == 0, kin.sbml == nil else { return false }
      let ok =
        kin.des == nil
        ? steadyState(r, c: c, amount: amount, rate: rate, duration: duration, k: k)
        : integratedSteadyState(r, c: c, amount: amount, rate: rate, duration: duration, k, kin, fr, time: time)
      guard ok else { return false }
      if rate > 0 && !duration.isFinite { return true }
    }
    let dose = Pending(
      time: time + lag, compartment: target, amount: amount, rate: rate, duration: duration, repeats: r.addl, interval: r.ii)
    if lag == 0 { start(dose) } else { pending.append(dose) }
    return true
  }

  /// Steady state before the dose (SS=1 replaces the state, SS=2 adds to it): for a bolus
  /// A = (I − e^{K·II})⁻¹ e^{K·II} b, which the dose then raises by b; for an infusion of
  /// length D ≤ II the state at its start, (I − e^{K·II})⁻¹ e^{K(II−D)} c(D); for a constant
  /// infusion (II = 0) A = −K⁻¹R, with the infusion running on.
  func steadyState(_ r: Dataset.Record, c: Int, amount: Double, rate: Double, duration: Double, k: [Double]) -> Bool {
    let n = state.count
    var add = [Double](repeating: 0, count: n)
    let saved = (state, infusionRate, cache)
    defer { cache = saved.2 }
    if rate > 0 && !duration.isFinite {
      guard let inv = inverse(k, n) else { return false }
      for i in 0..<n { add[i] = -inv[i * n + c] * rate }
    } else {
      guard r.ii > 0, duration <= r.ii else { return false }
      var x = [Double](repeating: 0, count: n)
      if rate == 0 {
        x[c] = amount
        state = x
        _ = step(k, r.ii)
      } else {
        state = x
        infusionRate = [Double](repeating: 0, count: n)
        infusionRate[c] = rate
        _ = step(k, duration)
        infusionRate[c] = 0
        _ = step(k, r.ii - duration)
      }
      // (I − E)⁻¹ applied to the state after one interval from zero.
      let e = matrixExponential(k.map { $0 * r.ii }, n)
      var ie = [Double](repeating: 0, count: n * n)
      for i in 0..<n { for j in 0..<n { ie[i * n + j] = (i == j ? 1 : 0) - e[i * n + j] } }
      guard let inv = inverse(ie, n) else { return false }
      add = (0..<n).map { i in (0..<n).reduce(0) { $0 + inv[i * n + $1] * state[$1] } }
    }
    state = saved.0
    infusionRate = saved.1
    if r.ss == 1 {
      for i in 0..<n {
        state[i] = 0
        infusionRate[i] = 0
      }
      pending.removeAll()
    }
    if rate > 0 && !duration.isFinite { infusionRate[c] += rate }
    for i in 0..<n { state[i] += add[i] }
    return state.allSatisfy(\.isFinite)
  }
}

extension Predictor {
  /// Steady state of `$DES` before a dose at `time` (SS=1 replaces the state, SS=2 adds to it),
  /// as ADVAN6 and ADVAN13 find it: from empty compartments, the dosing interval — the bolus
  /// then II, or the infusion for its duration then the rest of II — is repeated until the state
  /// before the dose repeats within the integration tolerance (10·rtol·|A| + 10·atol); for a
  /// constant infusion (II = 0) the infusion runs over spans of 1, 2, 4, … time units until the
  /// state stops changing, and runs on. False when it does not settle within
  /// ``maxSteadyStateRepeats``.
  func integratedSteadyState(
    _ r: Dataset.Record, c: Int, amount: Double, rate: Double, duration: Double, _ k: [Double], _ kin: NLMEModel.Kinetics,
    _ fr: UnsafeMutablePointer<Double>, time: Double
  ) -> Bool {
    let constant = rate > 0 && !duration.isFinite
    guard constant || (r.ii > 0 && duration <= r.ii) else { return false }
    let saved = (state: state, infusionRate: infusionRate, pending: pending)
    for i in state.indices {
      state[i] = 0
      infusionRate[i] = 0
    }
    pending.removeAll()
    var span = 1.0
    var settled = false
    for _ in 0..<Self.maxSteadyStateRepeats {
      let before = state
      if constant {
        infusionRate[c] = rate
        guard move(k, kin, from: time, to: time + span, fr) else { return false }
        span *= 2
      } else if rate == 0 {
        state[c] += amount
        guard move(k, kin, from: time, to: time + r.ii, fr) else { return false }
      } else {
        infusionRate[c] = rate
        guard move(k, kin, from: time, to: time + duration, fr) else { return false }
        infusionRate[c] = 0
        guard move(k, kin, from: time + duration, to: time + r.ii, fr) else { return false }
      }
      if zip(state, before).allSatisfy({ abs($0 - $1) <= 10 * (kin.rtol * abs($0) + kin.atol) }) {
        settled = true
        break
      }
    }
    guard settled, state.allSatisfy(\.isFinite) else { return false }
    let steady = state
    if r.ss == 1 {
      for i in infusionRate.indices { infusionRate[i] = 0 }
    } else {
      (state, infusionRate, pending) = saved
      for i in state.indices { state[i] += steady[i] }
    }
    if constant { infusionRate[c] += rate }
    return true
  }
}

/// `$DES` as an ODE system: the state goes into A(k) and the time into T, the code runs, and
/// DADT(k) (plus any running infusion) is the derivative.
struct DESSystem: ODESystem {
  let program: LinkedProgram
  let frame: UnsafeMutablePointer<Double>
  let amount: [Int]
  let derivative: [Int]
  let time: Int
  let infusion: [Double]

  var dimension: Int { amount.count }

  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    frame[time] = t
    for i in 0..<amount.count { frame[amount[i]] = u[i] }
    program.run(frame)
    for i in 0..<amount.count { du[i] = frame[derivative[i]] + infusion[i] }
  }
}

/// An SBML model with infusions running into its states (constant over the interval: the
/// record loop stops at every start and end of an infusion).
struct InfusedSBML: ODESystem {
  let system: SBMLSystem
  let infusion: [Double]

  var dimension: Int { system.dimension }
  var isAutonomous: Bool { system.isAutonomous }
  var hasAnalyticJacobian: Bool { system.hasAnalyticJacobian }
  var sparsity: SparseLU? { system.sparsity }

  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    system.rhs(t: t, u: u, du: du)
    for i in infusion.indices { du[i] += infusion[i] }
  }

  func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    system.jacobian(t: t, u: u, J: J)
  }
}
