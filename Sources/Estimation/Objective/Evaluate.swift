import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

extension PEtabObjective {
  /// The objective at one point.
  public struct Evaluation: Sendable {
    /// Negative log-likelihood plus the negative log of the objective priors (nan on failure).
    public var nllh: Double
    public var chi2: Double
    /// The part of ``nllh`` from the objective priors (0 without priors).
    public var priorTerm: Double = 0
    /// The log-likelihood of the data alone (PEtab's `llh`).
    public var llh: Double { -(nllh - priorTerm) }
    /// ∂nllh/∂x on the parameter scale (with sensitivities requested and available).
    public var gradient: [Double]?
    /// Fisher information on the parameter scale, row-major `dimension²`.
    public var fim: [Double]?
    /// Per measurement: the simulated observable (untransformed) and its noise σ.
    public var simulations: [Double]
    public var sigmas: [Double]
    /// The first numerical failure (with the partial result kept: simulations reached are filled).
    public var returnCode: ReturnCode
    public var failure: String?
    public var isFinite: Bool { nllh.isFinite && returnCode.isSuccessful }
  }

  /// Linear parameter values from values on the parameter scale.
  public func linear(_ x: [Double]) -> [Double] { zip(scales, x).map { $0.invert($1) } }

  /// Evaluates the objective at `x` (estimated parameters on their scale). With
  /// `sensitivities`, also the gradient and (by forward sensitivities) the Fisher information.
  public func evaluate(_ x: [Double], sensitivities: Bool = false) -> Evaluation {
    precondition(x.count == dimension, "one value per estimated parameter")
    let theta = linear(x)
    let gradientWanted = sensitivities && hasGradient
    let adjoint = gradientWanted && usesAdjoint
    let M = problem.measurements.count, d = dimension
    var result = Evaluation(
      nllh: 0, chi2: 0, gradient: gradientWanted ? Array(repeating: 0, count: d) : nil,
      fim: gradientWanted && !adjoint ? Array(repeating: 0, count: d * d) : nil,
      simulations: Array(repeating: .nan, count: M), sigmas: Array(repeating: .nan, count: M),
      returnCode: .success, failure: nil)
    var byPlace: [[Int]] = Array(repeating: [], count: simulations.count)
    for (k, p) in measurementPlace.enumerated() { byPlace[p.simulation].append(k) }

    for (si, sim) in simulations.enumerated() {
      let run = integrate(sim, theta: theta, sensitivities: gradientWanted, adjoint: adjoint)
      if !run.code.isSuccessful {
        result.returnCode = run.code
        result.failure =
          "condition '\(problem.conditions[sim.condition].id)': the solver stopped with \(run.code.rawValue) at t = \(run.reachedTime)"
      }
      let sys = run.system
      let n = sys.dimension
      var env = Array(repeating: 0.0, count: slotCount + extraIDs.count)
      // With the adjoint method: per output time, ∂nllh/∂x (linear θ scale), the source of
      // the backward pass.
      var sources = adjoint ? Array(repeating: Array(repeating: 0.0, count: n), count: sim.times.count) : []
      for (j, _) in sim.times.enumerated() where j < run.states.count {
        let u = run.states[j], t = sim.times[j]
        let here = byPlace[si].filter { measurementPlace[$0].time == j }
        let (base, stateSteps, parameterSteps) = modelValues(sys, sim, t: t, u: u, theta: theta, steps: gradientWanted)
        for mi in here {
          let meas = problem.measurements[mi], obs = problem.observables[meas.observable]
          func extras(_ th: [Double]) {
            for (k, s) in tableExtras { env[slotCount + k] = value(s, th) }
            for (k, s) in measurementExtras[mi] { env[slotCount + k] = value(s, th) }
          }
          func formulas() -> (Double, Double) {
            (observableFormulas[meas.observable].evaluate(env), noiseFormulas[meas.observable].evaluate(env))
          }
          /// The formulas with some model values changed and the extras from `th`; `env`
          /// is left as it was.
          func patched(_ patch: [(Int, Double)], _ th: [Double]) -> (Double, Double) {
            for (k, v) in patch { env[k] = v }
            extras(th)
            let r = formulas()
            for (k, _) in patch { env[k] = base[k] }
            extras(theta)
            return r
          }
          for i in 0..<slotCount { env[i] = base[i] }
          extras(theta)
          let (s, sigma) = formulas()
          result.simulations[mi] = s
          result.sigmas[mi] = sigma
          let term = Self.term(measurement: meas.value, simulation: s, sigma: sigma, obs.transformation, obs.distribution)
          result.nllh += term.nllh
          result.chi2 += term.r * term.r
          guard gradientWanted, run.code.isSuccessful else { continue }
          // ds/dθ and dσ/dθ (linear θ): through the states, then directly.
          var ds = Array(repeating: 0.0, count: d), dsigma = ds
          var dhdu = Array(repeating: 0.0, count: n), dsdu = dhdu
          for i in 0..<n {
            let (h, up, down) = stateSteps[i]
            let a = patched(up, theta), b = patched(down, theta)
            dhdu[i] = (a.0 - b.0) / (2 * h)
            dsdu[i] = (a.1 - b.1) / (2 * h)
          }
          let dt: Double
          switch obs.transformation {
          case .lin: dt = 1
          case .log: dt = 1 / s
          case .log10: dt = 1 / (s * Foundation.log(10))
          }
          if adjoint {
            for i in 0..<n { sources[j][i] += term.dSim * dt * dhdu[i] + term.dSigma * dsdu[i] }
          }
          let S = run.sensitivities[j]
          for (c, k) in sim.columns.enumerated() where !adjoint {
            var a = 0.0, b = 0.0
            for i in 0..<n {
              a += dhdu[i] * S[c * n + i]
              b += dsdu[i] * S[c * n + i]
            }
            ds[k] += a
            dsigma[k] += b
          }
          var direct = Set(sim.columns)
          for (_, s) in tableExtras { if case .estimated(let k) = s { direct.insert(k) } }
          for (_, s) in measurementExtras[mi] { if case .estimated(let k) = s { direct.insert(k) } }
          for k in direct.sorted() {
            let h = parameterSteps[k]?.0 ?? 1e-5 * Swift.max(Swift.abs(theta[k]), 1e-12)
            var up = theta, down = theta
            up[k] += h
            down[k] -= h
            let a = patched(parameterSteps[k]?.up ?? [], up), b = patched(parameterSteps[k]?.down ?? [], down)
            ds[k] += (a.0 - b.0) / (2 * h)
            dsigma[k] += (a.1 - b.1) / (2 * h)
          }
          // Chain to the transformed simulation.
          var gs = Array(repeating: 0.0, count: d), gsig = gs
          for k in 0..<d {
            let chain = scales[k].derivative(x[k])
            gs[k] = ds[k] * dt * chain
            gsig[k] = dsigma[k] * chain
          }
          for k in 0..<d where gs[k] != 0 || gsig[k] != 0 {
            result.gradient![k] += term.dSim * gs[k] + term.dSigma * gsig[k]
          }
          guard !adjoint else { continue }
          let w = 1 / (sigma * sigma), v = obs.distribution == .normal ? 2 * w : w
          for a in 0..<d where gs[a] != 0 || gsig[a] != 0 {
            for b in 0..<d { result.fim![a * d + b] += w * gs[a] * gs[b] + v * gsig[a] * gsig[b] }
          }
        }
      }
      // The part through the states, backwards.
      if adjoint, run.code.isSuccessful, run.adjoint != nil {
        let back = adjointGradient(run, sim, sources: sources)
        guard back.code.isSuccessful else {
          result.returnCode = back.code
          result.failure = "condition '\(problem.conditions[sim.condition].id)': the adjoint solver stopped with \(back.code.rawValue)"
          continue
        }
        for (c, k) in sim.columns.enumerated() { result.gradient![k] += back.gradient[c] * scales[k].derivative(x[k]) }
      }
    }
    // Objective priors.
    for (k, prior) in priors {
      let p = Self.prior(prior, x: x[k], scale: scales[k])
      result.nllh += p.value
      result.priorTerm += p.value
      if result.gradient != nil { result.gradient![k] += p.derivative }
      if result.fim != nil { result.fim![k * d + k] += max(p.curvature, 0) }
    }
    if !result.returnCode.isSuccessful { result.nllh = .nan }
    return result
  }

  /// A state or parameter moved by ±h, as the model values that change: (slot, value).
  typealias Step = (h: Double, up: [(Int, Double)], down: [(Int, Double)])

  /// The model's values at output time t with states u and, with `steps`, the values at
  /// u ± h·e_i (per state) and at θ_k ± h (per parameter acting on the simulation, for its
  /// direct dependence), each as the few values it changes.
  func modelValues(_ sys: SBMLSystem, _ sim: Simulation, t: Double, u: [Double], theta: [Double], steps: Bool) -> (
    base: [Double], states: [Step], parameters: [Int: Step]
  ) {
    func values(_ u: [Double]) -> [Double] {
      u.withUnsafeBufferPointer { sys.evaluate(t: t, u: $0) }
      return Array(UnsafeBufferPointer(start: sys.workspace.values, count: slotCount))
    }
    let base = values(u)
    guard steps else { return (base, [], [:]) }
    func changes(_ v: [Double]) -> [(Int, Double)] { v.indices.compactMap { v[$0] != base[$0] ? ($0, v[$0]) : nil } }
    let scale = u.map { Swift.abs($0) }.max() ?? 0
    let states = u.indices.map { i -> Step in
      let h = 1e-5 * Swift.max(Swift.abs(u[i]), 1e-3 * scale, 1e-12)
      var up = u, down = u
      up[i] += h
      down[i] -= h
      return (h, changes(values(up)), changes(values(down)))
    }
    var parameters: [Int: Step] = [:]
    for k in sim.columns {
      let h = 1e-5 * Swift.max(Swift.abs(theta[k]), 1e-12)
      func shifted(_ delta: Double) -> [(Int, Double)] {
        var th = theta
        th[k] += delta
        setSlots(sim.main, theta: th, system: sys)
        return changes(values(u))
      }
      parameters[k] = (h, shifted(h), shifted(-h))
      setSlots(sim.main, theta: theta, system: sys)
    }
    return (base, states, parameters)
  }

  func value(_ s: Source, _ theta: [Double]) -> Double {
    switch s {
    case .number(let x): return x
    case .estimated(let k): return theta[k]
    }
  }

  /// Writes a phase's parameter slots into the system's value array and re-runs the part of
  /// the evaluation that depends only on them.
  func setSlots(_ phase: Phase, theta: [Double], system sys: SBMLSystem) {
    let v = sys.workspace.values
    for (slot, s) in phase.slots { v[slot] = value(s, theta) }
    compiled.invariant.run(v)
  }

  /// One row's contribution: the negative log-likelihood, the residual, and the derivatives
  /// of the contribution with respect to the transformed simulation and to σ.
  static func term(
    measurement m: Double, simulation s: Double, sigma: Double, _ t: PEtabProblem.Transformation,
    _ dist: PEtabProblem.NoiseDistribution
  ) -> (nllh: Double, r: Double, dSim: Double, dSigma: Double) {
    let mt: Double, st: Double, jacobian: Double
    switch t {
    case .lin:
      mt = m
      st = s
      jacobian = 0
    case .log:
      mt = Foundation.log(m)
      st = Foundation.log(s)
      jacobian = Foundation.log(m)
    case .log10:
      mt = Foundation.log10(m)
      st = Foundation.log10(s)
      jacobian = Foundation.log(m * Foundation.log(10))
    }
    let e = mt - st, r = e / sigma
    switch dist {
    case .normal:
      let nllh = 0.5 * Foundation.log(2 * Double.pi * sigma * sigma) + 0.5 * r * r + jacobian
      return (nllh, r, -r / sigma, 1 / sigma - r * r / sigma)
    case .laplace:
      let nllh = Foundation.log(2 * sigma) + Swift.abs(e) / sigma + jacobian
      let sign: Double = e > 0 ? 1 : e < 0 ? -1 : 0
      return (nllh, r, -sign / sigma, 1 / sigma - Swift.abs(e) / (sigma * sigma))
    }
  }

  /// −log prior density at x (on the parameter scale), its derivative and curvature in x.
  static func prior(_ p: PEtabProblem.Prior, x: Double, scale: PEtabProblem.Scale) -> (value: Double, derivative: Double, curvature: Double)
  {
    let a = p.parameters[0], b = p.parameters[1]
    let lin = scale.invert(x), dlin = scale.derivative(x)
    switch p.type {
    case "parameterScaleNormal":
      let z = (x - a) / b
      return (0.5 * Foundation.log(2 * .pi * b * b) + 0.5 * z * z, z / b, 1 / (b * b))
    case "parameterScaleLaplace":
      let e = x - a
      return (Foundation.log(2 * b) + Swift.abs(e) / b, (e > 0 ? 1 : -1) / b, 0)
    case "normal":
      let z = (lin - a) / b
      return (0.5 * Foundation.log(2 * .pi * b * b) + 0.5 * z * z, z / b * dlin, dlin * dlin / (b * b))
    case "laplace":
      let e = lin - a
      return (Foundation.log(2 * b) + Swift.abs(e) / b, (e > 0 ? 1 : -1) / b * dlin, 0)
    case "logNormal":
      let z = (Foundation.log(lin) - a) / b
      return (
        0.5 * Foundation.log(2 * .pi * b * b) + 0.5 * z * z + Foundation.log(lin), (z / b + 1) / lin * dlin,
        dlin * dlin / (b * b * lin * lin)
      )
    case "logLaplace":
      let e = Foundation.log(lin) - a
      return (Foundation.log(2 * b) + Swift.abs(e) / b + Foundation.log(lin), ((e > 0 ? 1 : -1) / b + 1) / lin * dlin, 0)
    case "uniform":
      return (lin >= a && lin <= b ? Foundation.log(b - a) : .infinity, 0, 0)
    case "parameterScaleUniform":
      return (x >= a && x <= b ? Foundation.log(b - a) : .infinity, 0, 0)
    default:
      return (0, 0, 0)
    }
  }
}
