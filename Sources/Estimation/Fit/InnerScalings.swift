import Foundation

/// Hierarchical optimisation of observable scalings (Loos, Krause & Hasenauer 2018,
/// Bioinformatics 34:4266, doi:10.1093/bioinformatics/bty514): the optimiser moves only the
/// other ("outer") parameters; at each of its points every scaling c takes its best value in
/// closed form, given the simulation h that does not depend on it.
///
/// - lin: nllh is quadratic in c, so c* = Σ m·h/σ² / Σ h²/σ²;
/// - log, log10: log c adds to log h, so log c* = Σ (log m − log h)/σ² / Σ 1/σ².
///
/// c* is clipped to its bounds, which is the bounded optimum of a one-dimensional convex
/// problem. The outer objective g(y) = min_c f(y, c) has the gradient ∂f/∂y at (y, c*)
/// (∂f/∂c = 0 there, or c* is held at a bound); its Gauss–Newton Hessian is the Schur
/// complement F_yy − F_yc F_cc⁻¹ F_cy of the Fisher information over the free scalings (F_cc is
/// diagonal: every measurement has at most one scaling). Each outer evaluation integrates the
/// model once without sensitivities for h, and once more with them when derivatives are asked.
public struct InnerScalings: Sendable {
  public let objective: PEtabObjective
  /// Indices of the estimated parameters the optimiser moves.
  public let outer: [Int]
  /// The value (linear) each scaling takes while h is simulated: 1, or its nearest bound.
  let reference: [Double]
  /// Each scaling's bounds on the linear scale.
  let bounds: [(lower: Double, upper: Double)]

  /// Nil when the objective has no scalings.
  public init?(_ objective: PEtabObjective) {
    guard !objective.scalings.isEmpty else { return nil }
    self.objective = objective
    let inner = Set(objective.scalings.map(\.parameter))
    outer = (0..<objective.dimension).filter { !inner.contains($0) }
    bounds = objective.scalings.map { s in
      let k = s.parameter
      return (objective.scales[k].invert(objective.lower[k]), objective.scales[k].invert(objective.upper[k]))
    }
    reference = bounds.map { min(max(1, $0.lower), $0.upper) }
  }

  /// The ids of the scalings, in ``PEtabObjective/scalings`` order.
  public var parameterIDs: [String] { objective.scalings.map { objective.parameterIDs[$0.parameter] } }

  /// The outer coordinates of a full point.
  public func outerPoint(_ x: [Double]) -> [Double] { outer.map { x[$0] } }

  /// A full point (parameter scale) from outer values and linear scalings.
  func fullPoint(_ y: [Double], scalings c: [Double]) -> [Double] {
    var x = Array(repeating: 0.0, count: objective.dimension)
    for (i, k) in outer.enumerated() { x[k] = y[i] }
    for (j, s) in objective.scalings.enumerated() { x[s.parameter] = objective.scales[s.parameter].apply(c[j]) }
    return x
  }

  /// The best scalings at outer point `y`: the full point on the parameter scale, which
  /// scalings are held at a bound, and the objective there (nan when the model could not be
  /// simulated).
  public func optimum(_ y: [Double]) -> (x: [Double], atBound: [Bool], nllh: Double) {
    let ev = objective.evaluate(fullPoint(y, scalings: reference))
    guard ev.isFinite else { return (fullPoint(y, scalings: reference), objective.scalings.map { _ in false }, .nan) }
    var c = reference, atBound = reference.map { _ in false }
    let problem = objective.problem
    for (j, s) in objective.scalings.enumerated() {
      let h = s.measurements.map { ev.simulations[$0] / reference[j] }
      let m = s.measurements.map { problem.measurements[$0].value }
      let w = s.measurements.map { 1 / (ev.sigmas[$0] * ev.sigmas[$0]) }
      let transformation = problem.observables[problem.measurements[s.measurements[0]].observable].transformation
      var best = reference[j]
      switch transformation {
      case .lin:
        var num = 0.0, den = 0.0
        for i in h.indices {
          num += w[i] * m[i] * h[i]
          den += w[i] * h[i] * h[i]
        }
        if den > 0, (num / den).isFinite { best = num / den }
      case .log, .log10:
        let natural = transformation == .log
        func log(_ v: Double) -> Double { natural ? Foundation.log(v) : Foundation.log10(v) }
        var num = 0.0, den = 0.0
        for i in h.indices {
          num += w[i] * (log(m[i]) - log(h[i]))
          den += w[i]
        }
        let value = natural ? Foundation.exp(num / den) : Foundation.pow(10, num / den)
        if den > 0, value.isFinite { best = value }
      }
      c[j] = min(max(best, bounds[j].lower), bounds[j].upper)
      atBound[j] = c[j] != best
    }
    // The objective at c*, summed afresh (subtracting the terms at the reference scaling would
    // cancel catastrophically: they can be 10¹⁴ times larger).
    var simulations = ev.simulations
    for (j, s) in objective.scalings.enumerated() { for mi in s.measurements { simulations[mi] *= c[j] / reference[j] } }
    var nllh = ev.priorTerm
    for (mi, m) in problem.measurements.enumerated() {
      let o = problem.observables[m.observable]
      nllh +=
        PEtabObjective.term(measurement: m.value, simulation: simulations[mi], sigma: ev.sigmas[mi], o.transformation, o.distribution).nllh
    }
    return (fullPoint(y, scalings: c), atBound, nllh)
  }

  /// The outer problem for the optimisers: bounds of the outer parameters; f, gradient and
  /// Gauss–Newton Hessian of g(y) = min_c f(y, c).
  public var boundedProblem: BoundedProblem {
    let objective = self.objective, outer = self.outer, d = objective.dimension
    let inner = self
    return BoundedProblem(lower: outer.map { objective.lower[$0] }, upper: outer.map { objective.upper[$0] }) { y, derivatives in
      let best = inner.optimum(y)
      guard derivatives, best.nllh.isFinite else { return (best.nllh, nil, nil) }
      let ev = objective.evaluate(best.x, sensitivities: true)
      guard ev.isFinite, let g = ev.gradient else { return (.nan, nil, nil) }
      // Adjoint gradients come without the Fisher information: the optimiser uses BFGS.
      guard let F = ev.fim else { return (ev.nllh, outer.map { g[$0] }, nil) }
      var reduced = outer.flatMap { a in outer.map { b in F[a * d + b] } }
      for (j, s) in objective.scalings.enumerated() where !best.atBound[j] {
        let c = s.parameter, fcc = F[c * d + c]
        guard fcc > 0 else { continue }
        for (ia, a) in outer.enumerated() where F[a * d + c] != 0 {
          for (ib, b) in outer.enumerated() { reduced[ia * outer.count + ib] -= F[a * d + c] * F[c * d + b] / fcc }
        }
      }
      return (ev.nllh, outer.map { g[$0] }, reduced)
    }
  }
}
