import RealModule

/// Stepping of the integrator: error norms, the initial step, dense output, the step loop to a
/// discontinuity, stiffness switching, and the DP5, DOP853 and Rosenbrock (Rodas4, Rodas4P2) steps.
extension _Integrator {
  // MARK: Helpers

  @inlinable @inline(__always)
  func f(_ time: Double, _ x: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
    sys.rhs(t: time, u: UnsafeBufferPointer(start: x, count: n), du: UnsafeMutableBufferPointer(start: out, count: n))
    for i in 0..<n { out[i] += rate[i] }
    stats.rhsEvaluations += 1
  }

  /// Weighted RMS norm of `e` with weights `atol + rtol·max(|u|, |uNew|)`.
  @inlinable @inline(__always)
  func errorNorm(_ e: UnsafeMutablePointer<Double>) -> Double {
    var s = 0.0
    for i in 0..<controlled {
      let sc = atol[i] + opts.rtol * max(abs(u[i]), abs(uNew[i]))
      let r = e[i] / sc
      s += r * r
    }
    return (s / Double(controlled)).squareRoot()
  }

  /// Hairer's starting step (Solving ODEs I, §II.4).
  @inlinable
  func initialStep(to tb: Double) -> Double {
    let span = tb - t
    let order = requested == .bdf ? 1.0 : stiff ? 4.0 : eighthOrder ? 8.0 : 5.0
    let f0 = k[5], f1 = k[6]
    f(t, u, f0)
    var d0 = 0.0, d1 = 0.0
    for i in 0..<controlled {
      let sc = atol[i] + opts.rtol * abs(u[i])
      d0 += (u[i] / sc) * (u[i] / sc)
      d1 += (f0[i] / sc) * (f0[i] / sc)
    }
    d0 = (d0 / Double(controlled)).squareRoot()
    d1 = (d1 / Double(controlled)).squareRoot()
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = min(h0, span, opts.maxStep)
    for i in 0..<n { tmp[i] = u[i] + h0 * f0[i] }
    f(t + h0, tmp, f1)
    var d2 = 0.0
    for i in 0..<controlled {
      let sc = atol[i] + opts.rtol * abs(u[i])
      d2 += ((f1[i] - f0[i]) / sc) * ((f1[i] - f0[i]) / sc)
    }
    d2 = (d2 / Double(controlled)).squareRoot() / h0
    let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : Double.pow(0.01 / max(d1, d2), 1 / order)
    var hh = min(100 * h0, h1, span, opts.maxStep)
    if !hh.isFinite || hh <= 0 { hh = min(span, 1e-6) }
    // Never start below the smallest step the integrator takes (a very fast transient, e.g.
    // right after an event, would otherwise end the run before the first step): the error
    // control shrinks a step that is too long; `auto` turns to Rodas4P2 if it must go lower.
    return min(max(hh, 10 * max(opts.minStep, 4 * t.ulp.magnitude, 1e-300)), span)
  }

  /// Evaluates the dense output of the last accepted step at `time` into `out`.
  @inlinable
  func interpolate(_ time: Double, _ out: UnsafeMutablePointer<Double>) {
    let s = denseH == 0 ? 1 : (time - denseT0) / denseH
    let s1 = 1 - s
    // One pointer per coefficient vector: no index arithmetic in the loops, which vectorise.
    let d0 = dense, d1 = dense + n, d2 = dense + 2 * n, d3 = dense + 3 * n
    switch denseKind {
    case .rodas:
      for i in 0..<n { out[i] = d0[i] + s * (d1[i] + s1 * (d2[i] + s * d3[i])) }
    case .dp5:
      if !denseReady { dp5Dense() }
      let d4 = dense + 4 * n
      for i in 0..<n { out[i] = d0[i] + s * (d1[i] + s1 * (d2[i] + s * (d3[i] + s1 * d4[i]))) }
    case .bdf:
      bdfInterpolate(time, out)
    case .dop853:
      if !denseReady { dop853Dense() }
      // y_old + s(F0 + (1−s)(F1 + s(F2 + (1−s)(F3 + s(F4 + (1−s)(F5 + s·F6)))))).
      let f0 = dense + n, f1 = dense + 2 * n, f2 = dense + 3 * n, f3 = dense + 4 * n
      let f4 = dense + 5 * n, f5 = dense + 6 * n, f6 = dense + 7 * n
      for i in 0..<n {
        out[i] = d0[i] + s * (f0[i] + s1 * (f1[i] + s * (f2[i] + s1 * (f3[i] + s * (f4[i] + s1 * (f5[i] + s * f6[i]))))))
      }
    }
    if !nonNegative.isEmpty { for j in nonNegative where out[j] < 0 { out[j] = 0 } }
  }

  // MARK: Stepping

  /// Integrates from `t` to `tb` (a discontinuity or the end). Returns `.success` on arrival.
  @inlinable
  func integrate(to tb: Double) -> ReturnCode {
    var lastWasNaN = false
    var lastRejected = false
    while t < min(tb, pending.first?.time ?? .infinity) {
      let tb = min(tb, pending.first?.time ?? .infinity)
      if stats.steps >= opts.maxSteps { return .maxSteps }
      if stats.steps & 63 == 63, let stop = opts.interrupt, stop() { return .interrupted }
      h = min(h, opts.maxStep)
      // Land exactly on the breakpoint; avoid a sliver step.
      if t + h >= tb || t + 1.01 * h >= tb { h = tb - t }
      let minStep = max(opts.minStep, 4 * t.ulp.magnitude, 1e-300)
      // An event located just before the breakpoint can leave a sliver too short to step
      // over: there is nothing to integrate there.
      if tb - t < minStep {
        // Known trigger times in the sliver still fire (at tb, the breakpoint).
        let due = exactSorted[knownTriggers(after: t, upTo: tb)].map(\.index).filter { gPrev[$0] < 0 }
        t = tb
        if !due.isEmpty {
          let outcome = fireStateEvents(due, at: tb)
          resetStateEvents()
          if case .terminate = outcome {
            recordOutputs(upTo: tb)
            return .terminated
          }
        }
        break
      }
      if h < minStep {
        // A step size collapsing under DP5 is stiffness that the estimate did not catch in
        // time (a transient far faster than the solution): `auto` goes on with Rodas4P2.
        if requested == .auto && !stiff && !lastWasNaN {
          stiff = true
          stiffCount = 0
          backCount = 0
          fsalValid = false
          stats.methodSwitches += 1
          h = 10 * minStep
          continue
        }
        return lastWasNaN ? .unstable : .stepSizeTooSmall
      }
      let bdf = requested == .bdf
      let err = bdf ? bdfStep() : stiff ? rodasStep() : eighthOrder ? dop853Step() : dp5Step()
      if !err.isFinite {
        stats.rejectedSteps += 1
        h *= 0.1
        lastWasNaN = true
        fsalValid = fsalValid && !stiff
        continue
      }
      let q = stiff ? 4.0 : eighthOrder ? 8.0 : 5.0
      if err <= 1 {
        // Accept.
        lastWasNaN = false
        stats.acceptedSteps += 1
        if stiff || bdf { stats.stiffSteps += 1 } else { stats.nonstiffSteps += 1 }
        let tNew = (h == tb - t) ? tb : t + h
        var clamped = false
        for j in nonNegative where uNew[j] < 0 {
          uNew[j] = 0
          clamped = true
        }
        // State events on [t, tNew].
        if !problem.stateEvents.isEmpty, let (te, due, cancels) = findStateEvent(tNew) {
          fillOutputs(before: te, inclusive: false)
          interpolate(te, u)
          t = te
          observe()
          for c in cancels { cancelPending(c) }
          let outcome = due.isEmpty ? .continue : fireStateEvents(due, at: te)
          resetStateEvents()
          if case .terminate = outcome {
            recordOutputs(upTo: te)
            return .terminated
          }
          // Scheduled executions due now run before the outputs at this time are recorded.
          if let p = pending.first, p.time <= te {
            if case .terminate = runDuePending(at: te) {
              recordOutputs(upTo: te)
              return .terminated
            }
            resetStateEvents()
          }
          recordOutputs(upTo: te)
          logErrOld = 0
          fsalValid = false  // the state is the interpolant's at te: restart from it
          h = initialStep(to: tb)
          continue
        }
        fillOutputs(before: min(tNew, tb), inclusive: tNew < tb)
        t = tNew
        swap(&u, &uNew)
        observe()
        if bdf {
          // The differences carry the solution on; a projection replaces its newest value.
          if clamped { for j in nonNegative { bdfRow(0)[j] = u[j] } }
          h *= bdfNextFactor
          lastRejected = false
          continue
        }
        // FSAL reuses f(tNew, uNew); after a projection that value is stale.
        if !stiff && !clamped { swapFSAL() } else { fsalValid = false }
        // PI step-size control with the exponents of Hairer's dopri5 (β = 0.04; Hairer,
        // Nørsett & Wanner, Solving ODEs I, §II.4), fac = 0.9·err^−(1/q − 0.75β)·errOld^β, for
        // both methods (a tuning choice for Rodas4, whose own code uses Gustafsson's).
        // (β1 = 0.7/q, β2 = 0.4/q had h grow by under 10% a step while the error stayed
        // 20 times below the tolerance.)
        // DOP853 takes the plain controller of dop853.f (β = 0).
        let next = StepControl.accepted(
          err: err, q: q, logErrOld: logErrOld, afterRejection: lastRejected, plain: eighthOrder && !stiff)
        lastRejected = false
        logErrOld = next.logErrOld
        h *= next.factor
        if requested == .auto { checkSwitch() }
      } else {
        stats.rejectedSteps += 1
        lastRejected = true
        let fac = bdf ? bdfNextFactor : StepControl.rejected(err: err, q: q)
        h *= fac
      }
    }
    return .success
  }

  /// Fills outputs with time `< limit` (or `<= limit` if `inclusive`) from dense output.
  @inlinable
  func fillOutputs(before limit: Double, inclusive: Bool) {
    while nextOut < saveAt.count && (saveAt[nextOut] < limit || (inclusive && saveAt[nextOut] == limit)) {
      let time = saveAt[nextOut]
      interpolate(time, tmp)
      outT.append(time)
      outU.append(contentsOf: UnsafeBufferPointer(start: tmp, count: n))
      nextOut += 1
    }
  }

  @inlinable
  func swapFSAL() {
    // k[6] (DOP853: k[12]) holds f(tNew, uNew): it becomes k[0] (every stage vector other
    // than k[0] is written before it is read).
    k.swapAt(0, eighthOrder ? 12 : 6)
    fsalValid = true
  }

  /// Stiffness switching for `.auto`.
  @inlinable
  func checkSwitch() {
    if stiff {
      // ‖J‖∞ bounds the spectral radius; DP5's real stability boundary is about 3.3.
      var rho = 0.0
      if let sp = sparse, jacobianOnPattern {
        // Zero outside the pattern: row sums over its entries (sorted by row).
        var row = 0, s = 0.0
        for e in 0..<sp.entryCount {
          if sp.entryRow[e] != row {
            rho = max(rho, s)
            s = 0
            row = sp.entryRow[e]
          }
          s += abs(jac[sp.entryAt[e]])
        }
        rho = max(rho, s)
      } else {
        // A block layout: the first diagonal block (the others equal it, and a block
        // triangular matrix has the eigenvalues of its diagonal blocks).
        let m = jacobianColumns
        for i in 0..<m {
          var s = 0.0
          for j in 0..<m { s += abs(jac[i * n + j]) }
          rho = max(rho, s)
        }
      }
      if h * rho < 2.5 { backCount += 1 } else { backCount = 0 }
      if backCount >= 10 {
        stiff = false
        backCount = 0
        stiffCount = 0
        nonstiffCount = 0
        fsalValid = false
        stats.methodSwitches += 1
      }
    }
  }

  /// Records the stiffness indicator of an accepted DP5 step (Hairer, dopri5.f).
  @inlinable
  func noteStiffness(_ hLambda: Double) {
    guard requested == .auto else { return }
    if hLambda > 3.25 {
      nonstiffCount = 0
      stiffCount += 1
      if stiffCount >= 15 {
        stiff = true
        stiffCount = 0
        stats.methodSwitches += 1
      }
    } else {
      nonstiffCount += 1
      if nonstiffCount >= 6 { stiffCount = 0 }
    }
  }

  /// One Dormand–Prince step of size `h` from (`t`, `u`); writes `uNew`, returns the error norm.
  @inlinable
  func dp5Step() -> Double {
    typealias T = DormandPrince5
    let k1 = k[0], k2 = k[1], k3 = k[2], k4 = k[3], k5 = k[4], k6 = k[5], k7 = k[6]
    // Locals, not properties, so that the loops need not reload them after every store.
    let h = self.h, u = self.u, uNew = self.uNew
    if !fsalValid {
      f(t, u, k1)
      fsalValid = true
    }
    for i in 0..<n { tmp[i] = u[i] + h * T.a21 * k1[i] }
    f(t + T.c2 * h, tmp, k2)
    for i in 0..<n { tmp[i] = u[i] + h * (T.a31 * k1[i] + T.a32 * k2[i]) }
    f(t + T.c3 * h, tmp, k3)
    for i in 0..<n { tmp[i] = u[i] + h * (T.a41 * k1[i] + T.a42 * k2[i] + T.a43 * k3[i]) }
    f(t + T.c4 * h, tmp, k4)
    for i in 0..<n { tmp[i] = u[i] + h * (T.a51 * k1[i] + T.a52 * k2[i] + T.a53 * k3[i] + T.a54 * k4[i]) }
    f(t + T.c5 * h, tmp, k5)
    for i in 0..<n {
      tmp[i] = u[i] + h * (T.a61 * k1[i] + T.a62 * k2[i] + T.a63 * k3[i] + T.a64 * k4[i] + T.a65 * k5[i])
    }
    f(t + h, tmp, k6)
    for i in 0..<n {
      uNew[i] = u[i] + h * (T.b1 * k1[i] + T.b3 * k3[i] + T.b4 * k4[i] + T.b5 * k5[i] + T.b6 * k6[i])
    }
    f(t + h, uNew, k7)
    var s = 0.0, stNum = 0.0, stDen = 0.0
    for i in 0..<controlled {
      let e = h * (T.e1 * k1[i] + T.e3 * k3[i] + T.e4 * k4[i] + T.e5 * k5[i] + T.e6 * k6[i] + T.e7 * k7[i])
      let r = 1 / (atol[i] + opts.rtol * max(abs(u[i]), abs(uNew[i])))
      s += (e * r) * (e * r)
      // Hairer's stiffness estimate ‖k7 − k6‖ / ‖y7 − y6‖, in the error weights so that small
      // components count as much as large ones (the quotient is then scale-invariant).
      let dk = (k7[i] - k6[i]) * r, dy = (uNew[i] - tmp[i]) * r
      stNum += dk * dk
      stDen += dy * dy
    }
    let err = (s / Double(controlled)).squareRoot()
    if err <= 1 {
      // Dense output for [t, t+h]: y_old and Δy now (a projection onto u ≥ 0 changes uNew
      // before the interpolant is formed), the rest at the first interpolation inside the
      // step (most steps have none).
      denseKind = .dp5
      denseT0 = t
      denseH = h
      denseReady = false
      for i in 0..<n {
        dense[i] = u[i]
        dense[n + i] = uNew[i] - u[i]
      }
      if stDen > 0 { noteStiffness(h * (stNum / stDen).squareRoot()) }
    }
    return err
  }

  /// DP5's dense output of the step just accepted, from its stages (still in `k`) and the
  /// y_old and Δy stored at acceptance.
  @inlinable
  func dp5Dense() {
    typealias T = DormandPrince5
    let k1 = k[0], k3 = k[2], k4 = k[3], k5 = k[4], k6 = k[5], k7 = k[6]
    let h = denseH
    for i in 0..<n {
      let du = dense[n + i]
      let bspl = h * k1[i] - du
      dense[2 * n + i] = bspl
      dense[3 * n + i] = du - h * k7[i] - bspl
      dense[4 * n + i] = h * (T.d1 * k1[i] + T.d3 * k3[i] + T.d4 * k4[i] + T.d5 * k5[i] + T.d6 * k6[i] + T.d7 * k7[i])
    }
    denseReady = true
  }

  /// One DOP853 step of size `h` from (`t`, `u`); writes `uNew` and f(t + h, uNew) into k[12],
  /// returns the error norm: Hairer's blend of the 5th- and 3rd-order estimates,
  /// |h|·‖e5‖²/√(‖e5‖² + 0.01‖e3‖²) in the weighted RMS norm (`dop853.f`). No stiffness
  /// test: DOP853 is never switched.
  @inlinable
  func dop853Step() -> Double {
    typealias T = DormandPrince853
    if !fsalValid {
      f(t, u, k[0])
      fsalValid = true
    }
    let c = T.c
    return T.matrixA.withUnsafeBufferPointer { a in
      // Stages 1…11 through tmp; the weights (row 12) give uNew.
      // Component by component, the sum over the stages in a register.
      let k = self.k
      for stage in 1...T.stages {
        let y = stage == T.stages ? uNew : tmp
        let row = a.baseAddress! + stage * 16
        for i in 0..<n {
          var sum = 0.0
          for j in 0..<stage { sum += row[j] * k[j][i] }
          y[i] = u[i] + h * sum
        }
        if stage < T.stages { f(t + c[stage] * h, y, k[stage]) }
      }
      f(t + h, uNew, k[T.stages])
      // The error estimates in dense rows 1 and 2, free until a step is accepted.
      let e5 = dense + n, e3 = dense + 2 * n
      T.errorWeights5.withUnsafeBufferPointer { w5 in
        T.errorWeights3.withUnsafeBufferPointer { w3 in
          for i in 0..<n {
            var sum5 = 0.0, sum3 = 0.0
            for j in 0..<T.stages {
              sum5 += w5[j] * k[j][i]
              sum3 += w3[j] * k[j][i]
            }
            e5[i] = sum5
            e3[i] = sum3
          }
        }
      }
      var s5 = 0.0, s3 = 0.0
      for i in 0..<controlled {
        let sc = atol[i] + opts.rtol * max(abs(u[i]), abs(uNew[i]))
        s5 += (e5[i] / sc) * (e5[i] / sc)
        s3 += (e3[i] / sc) * (e3[i] / sc)
      }
      let err = s5 == 0 && s3 == 0 ? 0 : abs(h) * s5 / ((s5 + 0.01 * s3) * Double(controlled)).squareRoot()
      if err <= 1 {
        denseKind = .dop853
        denseT0 = t
        denseH = h
        denseReady = false
        // y_old and Δy now: a projection onto u ≥ 0 changes uNew before the interpolant is formed.
        dense.update(from: u, count: n)
        for i in 0..<n { dense[n + i] = uNew[i] - u[i] }
      }
      return err
    }
  }

  /// DOP853's dense output of the step just accepted (u and the stages still hold it; y_old
  /// and F0 = Δy were stored at acceptance): three more stages, then F1…F6.
  @inlinable
  func dop853Dense() {
    typealias T = DormandPrince853
    let h = denseH
    let c = T.c
    // The last row (F6, written last) holds each extra stage's state.
    let y = dense + 7 * n
    T.matrixA.withUnsafeBufferPointer { a in
      let k = self.k
      for stage in 13..<16 {
        let row = a.baseAddress! + stage * 16
        for i in 0..<n {
          var sum = 0.0
          for j in 0..<stage { sum += row[j] * k[j][i] }
          y[i] = u[i] + h * sum
        }
        f(denseT0 + c[stage] * h, y, k[stage])
      }
    }
    let kOld = k[0], kNew = k[T.stages]
    for i in 0..<n {
      let dy = dense[n + i]
      dense[2 * n + i] = h * kOld[i] - dy
      dense[3 * n + i] = 2 * dy - h * (kNew[i] + kOld[i])
    }
    T.denseWeights.withUnsafeBufferPointer { d in
      for r in 0..<4 {
        let fr = dense + (4 + r) * n
        for i in 0..<n {
          var sum = 0.0
          for j in 0..<16 { sum += d[r * 16 + j] * k[j][i] }
          fr[i] = h * sum
        }
      }
    }
    denseReady = true
  }

  /// Forms the Jacobian at (`t`, `u`) into `jac` given `fu = f(t, u)`; returns whether it is
  /// the analytic Jacobian (else finite differences).
  @inlinable
  func computeJacobian(_ fu: UnsafeMutablePointer<Double>) -> Bool {
    stats.jacobianEvaluations += 1
    if sys.hasAnalyticJacobian {
      sys.jacobian(t: t, u: UnsafeBufferPointer(start: u, count: n), J: UnsafeMutableBufferPointer(start: jac, count: n * n))
      // An entry that is infinite or undefined at this point (a power below 1 at 0): finite
      // differences for this step instead.
      var finite = true
      let columns = jacobianColumns
      check: for i in 0..<n {
        for j in 0..<columns where !jac[i * n + j].isFinite {
          finite = false
          break check
        }
      }
      if finite { return true }
    }
    // Finite differences of the columns the solver reads (the first block column of a
    // block layout, else all).
    let fp = k[6]
    let sq = Double.ulpOfOne.squareRoot()
    for j in 0..<jacobianColumns {
      let saved = u[j]
      var d = sq * max(abs(saved), atol[j] / opts.rtol * 1e-3, 1e-8)
      let tj = saved + d
      d = tj - saved
      u[j] = tj
      f(t, u, fp)
      u[j] = saved
      for i in 0..<n { jac[i * n + j] = (fp[i] - fu[i]) / d }
    }
    return false
  }

  /// One Rosenbrock step (``rosenbrock``: Rodas4 or Rodas4P2) of size `h`; writes `uNew`,
  /// returns the error norm (or NaN).
  @inlinable
  func rodasStep() -> Double {
    let R = rosenbrock
    let k1 = k[0], k2 = k[1], k3 = k[2], k4 = k[3], k5 = k[4], k6 = k[5]
    let fu = dense  // scratch: f(t,u) then dT in dense[n..]; dense is rebuilt on acceptance
    let dT = dense + n
    let du = dense + 2 * n
    f(t, u, fu)
    jacobianOnPattern = computeJacobian(fu)
    if sys.isAutonomous {
      for i in 0..<n { dT[i] = 0 }
    } else {
      // Central difference: O(δ²) error with δ = ε^(1/3), keeps the order of the method.
      let dt = Double.pow(Double.ulpOfOne, 1.0 / 3) * max(abs(t), 1)
      f(t + dt, u, dT)
      f(t - dt, u, du)
      for i in 0..<n { dT[i] = (dT[i] - du[i]) / (2 * dt) }
    }
    for i in 0..<n { scale[i] = atol[i] + opts.rtol * abs(u[i]) }
    guard factorIterationMatrix(inv: 1 / (R.gamma * h)) else { return .nan }
    let ih = 1 / h
    // Stage 1.
    for i in 0..<n { k1[i] = fu[i] + h * R.d1 * dT[i] }
    linsolve(k1)
    // Stage 2.
    for i in 0..<n { tmp[i] = u[i] + R.a21 * k1[i] }
    f(t + R.c2 * h, tmp, du)
    for i in 0..<n { k2[i] = du[i] + h * R.d2 * dT[i] + ih * R.C21 * k1[i] }
    linsolve(k2)
    // Stage 3.
    for i in 0..<n { tmp[i] = u[i] + R.a31 * k1[i] + R.a32 * k2[i] }
    f(t + R.c3 * h, tmp, du)
    for i in 0..<n { k3[i] = du[i] + h * R.d3 * dT[i] + ih * (R.C31 * k1[i] + R.C32 * k2[i]) }
    linsolve(k3)
    // Stage 4.
    for i in 0..<n { tmp[i] = u[i] + R.a41 * k1[i] + R.a42 * k2[i] + R.a43 * k3[i] }
    f(t + R.c4 * h, tmp, du)
    for i in 0..<n { k4[i] = du[i] + h * R.d4 * dT[i] + ih * (R.C41 * k1[i] + R.C42 * k2[i] + R.C43 * k3[i]) }
    linsolve(k4)
    // Stage 5 (at t + h).
    for i in 0..<n { tmp[i] = u[i] + R.a51 * k1[i] + R.a52 * k2[i] + R.a53 * k3[i] + R.a54 * k4[i] }
    f(t + h, tmp, du)
    for i in 0..<n { k5[i] = du[i] + ih * (R.C51 * k1[i] + R.C52 * k2[i] + R.C53 * k3[i] + R.C54 * k4[i]) }
    linsolve(k5)
    // Stage 6.
    for i in 0..<n { tmp[i] += k5[i] }
    f(t + h, tmp, du)
    for i in 0..<n {
      k6[i] = du[i] + ih * (R.C61 * k1[i] + R.C62 * k2[i] + R.C63 * k3[i] + R.C64 * k4[i] + R.C65 * k5[i])
    }
    linsolve(k6)
    for i in 0..<n { uNew[i] = tmp[i] + k6[i] }
    let err = errorNorm(k6)
    if err <= 1 {
      denseKind = .rodas
      denseT0 = t
      denseH = h
      for i in 0..<n {
        dense[i] = u[i]
        dense[n + i] = uNew[i] - u[i]
        dense[2 * n + i] = R.h21 * k1[i] + R.h22 * k2[i] + R.h23 * k3[i] + R.h24 * k4[i] + R.h25 * k5[i]
        dense[3 * n + i] = R.h31 * k1[i] + R.h32 * k2[i] + R.h33 * k3[i] + R.h34 * k4[i] + R.h35 * k5[i]
      }
    }
    return err
  }
}
