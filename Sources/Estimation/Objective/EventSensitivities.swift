import ODEKit
import SBMLKit

extension PEtabObjective {
  /// The model's events for the system with forward sensitivities (the state x, then column
  /// c holding ∂x/∂θ_k for k = `columns[c]`). The state jumps as the model says; the
  /// sensitivities by the jump condition of an event that executes at time τ(θ) with
  /// assignments H(t, x, θ),
  ///
  ///     S⁺ = H_x·(S⁻ + f⁻·τ_θ) + H_t·τ_θ + H_θ − f⁺·τ_θ.
  ///
  /// The trigger time's derivative τ_θ: for a trigger `time ≥ c`, dc/dθ (`knownTriggerTimes`,
  /// from the initial assignments); for any other trigger, which switches where one of its
  /// comparisons g = a − b crosses zero, the implicit function theorem on g(τ, x(τ), θ) = 0,
  ///
  ///     τ_θ = −(g_x·S⁻ + g_θ) / (g_x·f⁻ + g_t).
  ///
  /// A delay d evaluated at trigger time moves the execution to τ + d, so its time has the
  /// derivative τ_θ + d_x·w + d_t·τ_θ + d_θ with w = S⁻ + f⁻·τ_θ; values taken at trigger
  /// time V carry V_x·w + V_t·τ_θ + V_θ to the execution. Both ride in the scheduled payload
  /// after the model's own. All partial derivatives are central differences: events are
  /// few, and each costs O(n) evaluations of the model.
  func sensitivityEvents(
    _ phase: Phase, system sys: SBMLSystem, columns: [Int], theta: [Double], knownTriggerTimes: [[Double]]
  ) -> [StateEvent] {
    let n = sys.dimension, m = columns.count
    let modelEvents = compiled.events.count
    let acting = columns.map { k in phase.slots.contains { $0.source == .estimated(k) } }

    func rate(_ t: Double, _ x: [Double]) -> [Double] {
      var du = Array(repeating: 0.0, count: n)
      x.withUnsafeBufferPointer { xp in du.withUnsafeMutableBufferPointer { sys.rhs(t: t, u: xp, du: $0) } }
      return du
    }
    /// Partial derivatives of `F` at (t, x, θ): `x[j]` = ∂F/∂x_j, `t` = ∂F/∂t, `theta[c]` =
    /// ∂F/∂θ_{columns[c]} (zero for parameters that do not act on the phase's slots).
    func partials(_ t: Double, _ x: [Double], _ F: (Double, [Double]) -> [Double]) -> (x: [[Double]], t: [Double], theta: [[Double]]) {
      func difference(_ a: [Double], _ b: [Double], _ h: Double) -> [Double] { zip(a, b).map { ($0 - $1) / (2 * h) } }
      let scale = x.map { Swift.abs($0) }.max() ?? 0
      let dx = (0..<n).map { j in
        let h = 1e-6 * Swift.max(Swift.abs(x[j]), 1e-6 * scale, 1e-12)
        var up = x, down = x
        up[j] += h
        down[j] -= h
        return difference(F(t, up), F(t, down), h)
      }
      let ht = 1e-7 * Swift.max(Swift.abs(t), 1)
      let dt = difference(F(t + ht, x), F(t - ht, x), ht)
      let width = dt.count
      let dtheta = (0..<m).map { c -> [Double] in
        guard acting[c] else { return Array(repeating: 0, count: width) }
        let k = columns[c]
        let h = 1e-6 * Swift.max(Swift.abs(theta[k]), 1e-12)
        var th = theta
        th[k] += h
        setSlots(phase, theta: th, system: sys)
        let a = F(t, x)
        th[k] -= 2 * h
        setSlots(phase, theta: th, system: sys)
        let b = F(t, x)
        setSlots(phase, theta: theta, system: sys)
        return difference(a, b, h)
      }
      return (dx, dt, dtheta)
    }
    /// Σ_j ∂F/∂x_j · v_j.
    func apply(_ dx: [[Double]], _ v: ArraySlice<Double>) -> [Double] {
      var out = Array(repeating: 0.0, count: dx.first?.count ?? 0)
      for (j, column) in dx.enumerated() where v[v.startIndex + j] != 0 {
        for i in out.indices { out[i] += column[i] * v[v.startIndex + j] }
      }
      return out
    }
    func sensitivity(_ u: [Double], _ c: Int) -> ArraySlice<Double> { u[(n + c * n)..<(n + (c + 1) * n)] }

    /// τ_θ per column for event `index` firing at t from state x (rates f, sensitivities in u).
    func triggerTimeDerivatives(_ index: Int, _ t: Double, _ u: [Double], _ x: [Double], _ f: [Double]) -> [Double] {
      if compiled.events[index].triggerTimeSlot != nil { return knownTriggerTimes[index] }
      // A trigger already true at the start fires there, whatever θ.
      if t == 0 { return Array(repeating: 0, count: m) }
      let g = sys.eventTiming(index, t: t, u: x).roots
      let G = partials(t, x) { t, x in sys.eventTiming(index, t: t, u: x).roots }
      // The comparison that switched: the one nearest its zero in time, |g| / |dg/dt|.
      let slopes = zip(apply(G.x, f[...]), G.t).map(+)
      guard
        let r = g.indices.min(by: {
          Swift.abs(g[$0]) / Swift.abs(slopes[$0]) < Swift.abs(g[$1]) / Swift.abs(slopes[$1])
        }), slopes[r] != 0, slopes[r].isFinite
      else { return Array(repeating: 0, count: m) }
      return (0..<m).map { c in
        let gS = zip(G.x, sensitivity(u, c)).reduce(0.0) { $0 + $1.0[r] * $1.1 }
        return -(gS + G.theta[c][r]) / slopes[r]
      }
    }
    /// S⁺ into `u` for a jump H (from `x⁻` to `x⁺`) at t with execution-time derivatives τ_θ;
    /// `extra[c]` adds to H_θ (the carried values' part).
    func jumpSensitivities(
      _ u: inout [Double], _ t: Double, from before: [Double], to after: [Double], tau: [Double], extra: [[Double]]? = nil,
      _ H: (Double, [Double]) -> [Double]
    ) {
      let fMinus = rate(t, before), fPlus = rate(t, after)
      let P = partials(t, before, H)
      for c in 0..<m {
        let w = zip(sensitivity(u, c), fMinus).map { $0 + $1 * tau[c] }
        let Hw = apply(P.x, w[...])
        for i in 0..<n {
          u[n + c * n + i] = Hw[i] + P.t[i] * tau[c] + P.theta[c][i] + (extra?[c][i] ?? 0) - fPlus[i] * tau[c]
        }
      }
      for i in 0..<n { u[i] = after[i] }
    }

    return sys.stateEvents().enumerated().map { index, e in
      var w = StateEvent(
        label: e.label, direction: e.direction,
        condition: { t, u in e.condition(t, UnsafeBufferPointer(rebasing: u[0..<n])) },
        action: { t, u in
          let before = Array(u[0..<n])
          var after = before
          let outcome = e.action(t, &after)
          guard index < modelEvents, m > 0 else {
            for i in 0..<n { u[i] = after[i] }
            return outcome
          }
          let f = rate(t, before)
          let tau = triggerTimeDerivatives(index, t, u, before, f)
          switch outcome {
          case .continue:
            jumpSensitivities(&u, t, from: before, to: after, tau: tau) { t, x in
              var y = x
              _ = e.action(t, &y)
              return y
            }
            return .continue
          case .schedule(let delay, let payload):
            // The execution time's derivatives, then those of the values taken now.
            let D = partials(t, before) { t, x in [sys.eventTiming(index, t: t, u: x).delay] }
            var carried: [Double] = (0..<m).map { c in
              let w = zip(sensitivity(u, c), f).map { $0 + $1 * tau[c] }
              return tau[c] + apply(D.x, w[...])[0] + D.t[0] * tau[c] + D.theta[c][0]
            }
            if !payload.isEmpty {
              let V = partials(t, before) { t, x in
                var y = x
                guard case .schedule(_, let values) = e.action(t, &y) else { return payload.map { _ in .nan } }
                return values
              }
              for c in 0..<m {
                let w = zip(sensitivity(u, c), f).map { $0 + $1 * tau[c] }
                carried += zip(apply(V.x, w[...]), zip(V.t, V.theta[c])).map { $0 + $1.0 * tau[c] + $1.1 }
              }
            }
            for i in 0..<n { u[i] = after[i] }
            return .schedule(delay: delay, payload: payload + carried)
          default:
            for i in 0..<n { u[i] = after[i] }
            return outcome
          }
        }, fireIfTrueAtStart: e.fireIfTrueAtStart)
      w.exactTime = e.exactTime
      w.cancelsWhenFalse = e.cancelsWhenFalse
      w.priority = e.priority.map { p in { t, u in p(t, UnsafeBufferPointer(rebasing: u[0..<n])) } }
      w.delayedAction = e.delayedAction.map { act in
        { t, u, payload in
          let values = compiled.events[index].useValuesFromTriggerTime ? compiled.events[index].assignments.count : 0
          guard m > 0, payload.count == values + m * (1 + values) else {
            var x = Array(u[0..<n])
            let outcome = act(t, &x, payload)
            for i in 0..<n { u[i] = x[i] }
            return outcome
          }
          let own = Array(payload[0..<values])
          let tau = Array(payload[values..<(values + m)])
          let before = Array(u[0..<n])
          var after = before
          let outcome = act(t, &after, own)
          // The carried values' part of H_θ: ∂H/∂V along dV/dθ.
          let extra = (0..<m).map { c -> [Double] in
            let dV = Array(payload[(values + m + c * values)..<(values + m + (c + 1) * values)])
            let size = dV.map { Swift.abs($0) }.max() ?? 0
            guard size > 0 else { return Array(repeating: 0, count: n) }
            let h = 1e-6 * Swift.max(own.map { Swift.abs($0) }.max() ?? 0, 1e-12) / size
            var a = before, b = before
            _ = act(t, &a, zip(own, dV).map { $0 + h * $1 })
            _ = act(t, &b, zip(own, dV).map { $0 - h * $1 })
            return zip(a, b).map { ($0 - $1) / (2 * h) }
          }
          jumpSensitivities(&u, t, from: before, to: after, tau: tau, extra: extra) { t, x in
            var y = x
            _ = act(t, &y, own)
            return y
          }
          return outcome
        }
      }
      return w
    }
  }
}
