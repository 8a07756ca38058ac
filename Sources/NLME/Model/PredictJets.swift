import ODEKit
import RealModule

/// The η-derivatives of the predictions by forward-mode differentiation, beside the values
/// the record loop computes (``Predictor/predict(_:theta:eta:sigma:f:v:visit:)``): every slot
/// and compartment carries a second-order jet (``JetShape``), the code blocks run on jets,
/// the one-compartment closed form carries its jets through e^{k·dt}, and `$DES` is integrated
/// together with its first- and second-order forward sensitivities, on the steps the state
/// alone would take (``SolverOptions/errorControlled``). The values are those of a prediction
/// without jets, to the bit (under the stiff method of ADVAN13, whose linear solves take the
/// whole system, to rounding). One pass gives f, V and
/// ∂f/∂η, ∂V/∂η, ∂²f/∂η², ∂²V/∂η² exactly, where finite differences need
/// 1 + n + n(n+1)/2 predictions and lose half the digits.
///
/// The jets cover `$PRED` models, the closed forms ADVAN1–4, 11 and 12 (ClosedFormJets.swift),
/// `$DES` and SBML models (SBMLJets.swift); a subject whose records make a dose's
/// timing depend on η (an η-dependent lag, modelled rate or duration, or bioavailability of
/// an infusion, a lagged or an additional dose), or that has a steady-state dose, is marked
/// ``unsupported`` and its derivatives come from finite differences.
final class JetState {
  let shape: JetShape
  /// The jets of the predictor's memory (address k at k·width) and of its state.
  let memory: UnsafeMutablePointer<Double>
  let size: Int
  var state: [Double]
  /// The jets of a closed form's rate matrix K (n×n, entry (i, j) at (i·n + j)·width).
  var rates: [Double]
  /// Per observation, the jets of f and V; the jet of Y at ε = 0 and of each h_k = ∂Y/∂ε_k.
  var fJets: [Double] = []
  var vJets: [Double] = []
  var output: [Double]
  var slopes: [[Double]]
  var unsupported = false

  /// The jets of an SBML model's value array (SBMLJets.swift).
  let sbml: SBMLJets?

  /// The parameter directions after the ETAs, and the slots of the THETAs among them.
  let directions: JetDirections
  let thetaSeeds: [(slot: Int, direction: Int)]

  /// Jets for `model` in its ETAs and `directions`, or nil where they cannot serve: no ETA,
  /// an SBML model with `delay`, algebraic rules or fast reactions, `$ERROR` code that carries
  /// values from record to record, or LGAMMA in the code.
  init?(model: NLMEModel, size: Int, states: Int, directions: JetDirections = JetDirections()) {
    let n = model.eta.count
    guard n > 0, n <= 12, !model.outputCarriesState else { return nil }
    if let kin = model.kinetics {
      guard kin.sbml != nil || kin.des != nil || !kin.transfers.isEmpty else { return nil }
    }
    let code = model.linked
    let programs = [code.pk, code.output, code.des].compactMap { $0 }
    let gamln = Int32(Program.index(.gamln))
    guard !programs.contains(where: { p in p.code.contains { $0.op == .call && $0.b == gamln } }) else { return nil }
    precondition(
      directions.theta.allSatisfy { model.theta.indices.contains($0) }
        && directions.sigma.allSatisfy { $0.0 < model.eps.count && $0.1 <= $0.0 },
      "jet directions outside the model")
    shape = JetShape(n: n + directions.count, full: n)
    if let map = model.kinetics?.sbml {
      guard let jets = SBMLJets(map.compiled, shape: shape) else { return nil }
      sbml = jets
    } else {
      sbml = nil
    }
    self.directions = directions
    thetaSeeds = directions.theta.enumerated().compactMap { i, k in model.theta[k].map { (slot: $0, direction: n + i) } }
    self.size = size
    memory = .allocate(capacity: size * shape.width)
    memory.initialize(repeating: 0, count: size * shape.width)
    state = [Double](repeating: 0, count: states * shape.width)
    let closedForm = model.kinetics.map { $0.des == nil && $0.sbml == nil } ?? false
    rates = [Double](repeating: 0, count: closedForm ? states * states * shape.width : 0)
    output = [Double](repeating: 0, count: shape.width)
    slopes = Array(repeating: output, count: model.eps.count)
  }

  deinit { memory.deallocate() }

  var width: Int { shape.width }

  func jet(_ slot: Int) -> UnsafeMutablePointer<Double> { memory + slot * shape.width }

  /// A new subject: every slot constant but the ETAs and the THETAs of the directions.
  func start(frameSlots: Int, eta: [Int?]) {
    memory.update(repeating: 0, count: frameSlots * width)
    for (k, s) in eta.enumerated() { if let s { jet(s)[k] = 1 } }
    for seed in thetaSeeds { jet(seed.slot)[seed.direction] = 1 }
    for i in state.indices { state[i] = 0 }
    unsupported = false
  }

  /// A record's data items are constants; a synonym has its item's jet.
  func data(items: [Int], synonyms: [(Int, Int)]) {
    for s in items { jet(s).update(repeating: 0, count: width) }
    for (a, b) in synonyms { jet(b).update(from: jet(a), count: width) }
  }

  /// The jets of the closed form's rate matrix K, flow by flow as ``NLMEModel/Kinetics/rateMatrix(_:into:)``
  /// adds them.
  func rates(_ kin: NLMEModel.Kinetics, _ fr: UnsafeMutablePointer<Double>) {
    let n = kin.compartments
    let w = width
    let p = kin.parameters
    for i in rates.indices { rates[i] = 0 }
    withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
      guard let r = buffer.baseAddress else { return }
      rates.withUnsafeMutableBufferPointer { k in
        guard let k = k.baseAddress else { return }
        for flow in kin.transfers {
          if let d = flow.denominator {
            let bottom = fr[p[d]]
            shape.divide(fr[p[flow.numerator]] / bottom, jet(p[flow.numerator]), bottom, jet(p[d]), r)
          } else {
            r.update(from: jet(p[flow.numerator]), count: w)
          }
          let out = k + (flow.from * n + flow.from) * w
          for c in 0..<w { out[c] -= r[c] }
          if let to = flow.to {
            let into = k + (to * n + flow.from) * w
            for c in 0..<w { into[c] += r[c] }
          }
        }
      }
    }
  }

  /// The start of the system or a reset: the jets of A_0 where the code sets it.
  func reset(_ kin: NLMEModel.Kinetics) {
    let states = state.count / width
    for i in 0..<states {
      for c in 0..<width { state[i * width + c] = kin.initialAmount[i].map { jet($0)[c] } ?? 0 }
    }
  }

  /// A(k) for the code, and F = A(c)/Sc.
  func amounts(
    _ kin: NLMEModel.Kinetics, output f: Int, compartment c: Int, state value: Double, scale: Double, _ fr: UnsafeMutablePointer<Double>
  ) {
    state.withUnsafeMutableBufferPointer { st in
      guard let st = st.baseAddress else { return }
      for (i, s) in kin.amount.enumerated() { jet(s).update(from: st + i * width, count: width) }
      if kin.scaleAssigned[c] {
        shape.divide(value / scale, st + c * width, scale, jet(kin.scale[c]), jet(f))
      } else {
        jet(f).update(from: st + c * width, count: width)
      }
    }
  }

  /// Zero jets for EPS (ε enters as a constant: the variance comes from the slopes h).
  func zero(_ eps: [Int?]) {
    for s in eps { if let s { jet(s).update(repeating: 0, count: width) } }
    for k in slopes.indices { for c in 0..<width { slopes[k][c] = 0 } }
  }

  func keepOutput(_ y: Int) {
    for c in 0..<width { output[c] = jet(y)[c] }
  }

  /// h_k = Y(ε_k = 1) − Y(0), with Y(ε_k = 1) in the Y slot.
  func residualSlope(_ k: Int, output y: Int) {
    for c in 0..<width { slopes[k][c] = jet(y)[c] - output[c] }
  }

  func restoreOutput(_ y: Int) {
    for c in 0..<width { jet(y)[c] = output[c] }
  }

  /// The jets of observation j: f = Y(0), V = Σ h_a Σ_ab h_b; in the direction of the element
  /// Σ_ab (the element alone, not its mirror) ∂V/∂Σ_ab = h_a h_b, and across η_c its derivative.
  func observation(_ j: Int, h: [Double], sigma: [Double]) {
    let w = width
    let m = slopes.count
    for c in 0..<w {
      fJets[j * w + c] = output[c]
      vJets[j * w + c] = 0
    }
    withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
      guard let product = buffer.baseAddress else { return }
      for a in 0..<m {
        for b in 0..<m where sigma[a * m + b] != 0 {
          slopes[a].withUnsafeBufferPointer { ha in
            slopes[b].withUnsafeBufferPointer { hb in
              guard let ha = ha.baseAddress, let hb = hb.baseAddress else { return }
              shape.multiply(h[a], ha, h[b], hb, product)
            }
          }
          for c in 0..<w { vJets[j * w + c] += sigma[a * m + b] * product[c] }
        }
      }
    }
    let first = shape.full + directions.theta.count
    for (i, (a, b)) in directions.sigma.enumerated() {
      let q = first + i
      vJets[j * w + q] = h[a] * h[b]
      for c in 0..<shape.full { vJets[j * w + shape.pair(q, c)] = slopes[a][c] * h[b] + h[a] * slopes[b][c] }
    }
  }

  /// Y is a likelihood (F_FLAG = 1): V is a marker, without a jet.
  func likelihoodValued(_ j: Int) {
    for c in 0..<width { vJets[j * width + c] = 0 }
  }

  /// A dose record. A bolus given now adds AMT·∂F/∂η to the jets; any dose whose timing or
  /// amount the jets cannot follow marks the subject unsupported.
  func dose(
    _ r: Dataset.Record, _ kin: NLMEModel.Kinetics, compartment c: Int, target: Int, rate: Double, lag: Double,
    _ fr: UnsafeMutablePointer<Double>
  ) {
    let constant = { (slot: Int) in self.shape.isConstant(self.jet(slot)) }
    let bioConstant = !kin.bioavailabilityAssigned[c] || constant(kin.bioavailability[c])
    if r.ss != 0 || (kin.lagAssigned[c] && !constant(kin.lag[c])) || (r.rate == -1 && !constant(kin.rate[c]))
      || (r.rate == -2 && !constant(kin.duration[c])) || (!bioConstant && (rate > 0 || lag > 0 || r.addl > 0))
    {
      unsupported = true
      return
    }
    guard rate == 0, lag == 0, !bioConstant else { return }
    let bio = jet(kin.bioavailability[c])
    for i in 0..<width { state[target * width + i] += r.amt * bio[i] }
  }

  /// ADVAN1 from t to t + dt: A·e^{k dt} + R·φ(k), φ(k) = (e^{k dt} − 1)/k, whose jets follow
  /// from φ′ = (dt·e^{k dt} − φ)/k and φ″ = (dt²·e^{k dt} − 2φ′)/k.
  func step(k: Double, dt: Double, e: Double, amount: Double, rate infusion: Double) {
    let w = width
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * w) { buffer in
      guard let ej = buffer.baseAddress else { return }
      let phi = ej + w
      rates.withUnsafeBufferPointer { kj in
        guard let kj = kj.baseAddress else { return }
        shape.chain(dt * e, dt * dt * e, kj, ej)
        if infusion != 0 && !shape.isConstant(kj) {
          guard Swift.abs(k * dt) >= 1e-2 else {
            unsupported = true
            return
          }
          let value = Double.expMinusOne(k * dt) / k
          let d1 = (dt * e - value) / k
          let d2 = (dt * dt * e - 2 * d1) / k
          shape.chain(d1, d2, kj, phi)
        } else {
          phi.update(repeating: 0, count: w)
        }
      }
      state.withUnsafeMutableBufferPointer { st in
        guard let a = st.baseAddress else { return }
        shape.multiply(amount, a, e, ej, a)
        for c in 0..<w { a[c] += infusion * phi[c] }
      }
    }
  }

  /// `$DES` with its sensitivities from t0 through each of `breaks` (the model event times,
  /// then the record's time): the state and its jets as one system.
  func integrate(_ des: LinkedProgram, _ kin: NLMEModel.Kinetics, breaks: [Double], from t0: Double, predictor: Predictor) -> Bool {
    guard kin.eventTimes.allSatisfy({ shape.isConstant(jet($0)) }) else {
      unsupported = true
      return true
    }
    let n = predictor.state.count
    var from = t0
    for to in breaks {
      let system = DESJetSystem(
        program: des, frame: predictor.frame, jets: memory, shape: shape, amount: kin.amount, derivative: kin.derivative,
        time: kin.time, infusion: predictor.infusionRate)
      var options = SolverOptions(rtol: kin.rtol, atol: [kin.atol], maxSteps: Predictor.maxSteps)
      options.saveAt = [to]
      // The steps are the state's alone: the values are those of the integration without
      // jets (to the bit with the explicit methods), and the jets ride on the same steps.
      options.errorControlled = n
      let solution = solve(ODEProblem(system: system, u0: predictor.state + state, tspan: (from, to)), method: kin.method, options: options)
      guard solution.returnCode.isSuccessful, solution.finalState.allSatisfy(\.isFinite) else { return false }
      let u = solution.finalState
      predictor.state = Array(u[0..<n])
      state = Array(u[n...])
      from = to
    }
    return true
  }
}

/// `$DES` on jets: the state and its jets go into A(k) and their jets, the code runs on jets,
/// and DADT(k) with its jets (plus any running infusion) is the derivative of both.
struct DESJetSystem: ODESystem {
  let program: LinkedProgram
  let frame: UnsafeMutablePointer<Double>
  let jets: UnsafeMutablePointer<Double>
  let shape: JetShape
  let amount: [Int]
  let derivative: [Int]
  let time: Int
  let infusion: [Double]

  var dimension: Int { amount.count * (1 + shape.width) }

  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    let n = amount.count
    let w = shape.width
    guard let u = u.baseAddress, let du = du.baseAddress else { return }
    frame[time] = t
    for i in 0..<n {
      frame[amount[i]] = u[i]
      (jets + amount[i] * w).update(from: u + n + i * w, count: w)
    }
    _ = program.runJets(frame, jets, shape)
    for i in 0..<n {
      du[i] = frame[derivative[i]] + infusion[i]
      (du + n + i * w).update(from: jets + derivative[i] * w, count: w)
    }
  }
}

/// The parameter directions of an analytic gradient, after the ETAs: estimated THETAs by
/// index, then SIGMA elements (a, b), a ≥ b.
struct JetDirections: Sendable, Equatable {
  var theta: [Int] = []
  var sigma: [(Int, Int)] = []
  var count: Int { theta.count + sigma.count }

  static func == (x: JetDirections, y: JetDirections) -> Bool {
    x.theta == y.theta && x.sigma.count == y.sigma.count && zip(x.sigma, y.sigma).allSatisfy { $0 == $1 }
  }
}

extension Predictor {
  /// f and V with their jets (per observation `width` numbers each: ∂/∂η_a and ∂/∂ of each
  /// direction, then the second derivatives packed, ``JetShape``): in the ETAs alone, or in the
  /// ETAs and `directions`. Nil where the jets do not cover the model or this subject (finite
  /// differences then serve); false where the prediction fails.
  func predictJets(
    _ subject: Dataset.Subject, theta: [Double], eta: [Double], sigma: [Double], directions: JetDirections? = nil, f: inout [Double],
    v: inout [Double], fJets: inout [Double], vJets: inout [Double]
  ) -> Bool? {
    guard let base = jets else { return nil }
    var chosen = base
    if let directions {
      if gradientJets?.directions != directions {
        gradientJets = JetState(model: model, size: base.size, states: base.state.count / base.width, directions: directions)
      }
      guard let g = gradientJets else { return nil }
      chosen = g
    }
    let size = f.count * chosen.width
    if chosen.fJets.count != size {
      chosen.fJets = [Double](repeating: 0, count: size)
      chosen.vJets = chosen.fJets
    }
    active = chosen
    defer { active = nil }
    let ok = predict(subject, theta: theta, eta: eta, sigma: sigma, f: &f, v: &v)
    if chosen.unsupported { return nil }
    fJets = chosen.fJets
    vJets = chosen.vJets
    return ok
  }
}
