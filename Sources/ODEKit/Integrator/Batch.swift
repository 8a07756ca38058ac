import RealModule

/// The right-hand sides of `lanes` copies of one system (the patients of one model) evaluated
/// together. Every array is lane-minor: component `i` of lane `l` is at `u[i·lanes + l]`, so a
/// loop over the lanes of one component runs over contiguous memory and vectorises.
public protocol BatchODESystem {
  /// Components per lane.
  var dimension: Int { get }
  var lanes: Int { get }
  /// `true` if `f` reads no `t` between jumps (Rodas4P2 then skips `∂f/∂t`).
  var isAutonomous: Bool { get }
  /// Writes `f(t, u)` of every lane into `du` (both `dimension·lanes` long, lane-minor).
  func rhs(t: Double, u: UnsafePointer<Double>, du: UnsafeMutablePointer<Double>)
  /// Writes `∂f/∂u` of every lane, entry (i, j) of lane `l` at `J[(i·n + j)·lanes + l]`, and
  /// returns true; false if there is none (finite differences are used).
  func jacobian(t: Double, u: UnsafePointer<Double>, J: UnsafeMutablePointer<Double>) -> Bool
}

extension BatchODESystem {
  public var isAutonomous: Bool { false }
  public func jacobian(t: Double, u: UnsafePointer<Double>, J: UnsafeMutablePointer<Double>) -> Bool { false }
}

/// The end of a lock-step run (``solveBatch(_:u0:tspan:options:method:maxStiffSteps:stops:jump:)``).
public struct BatchSolution: Sendable {
  /// `.success`, or why the run stopped (`.maxSteps`, `.stepSizeTooSmall`, `.unstable`, or
  /// `.interrupted` after `maxStiffSteps` steps of Rodas4P2).
  public var returnCode: ReturnCode
  /// Whether the batch was integrating with Rodas4P2 where it stopped.
  public var stiff = false
  /// Where the batch stopped with Rodas4P2, whether each lane is stiff there: it turned the batch
  /// (its stiffness test fired) or DP5 would be unstable on it at the current step
  /// (`h·‖J‖∞ ≥ 2.5`, the back-switch test on its own Jacobian). A lane going on alone starts
  /// with Rodas4P2 only if it is.
  public var stiffLanes: [Bool] = []
  /// The output times reached, and for each the state of every lane (lane-minor).
  public var t: [Double] = []
  public var values: [Double] = []
  /// Where the run stopped, and the state of every lane there.
  public var finalTime: Double
  public var finalState: [Double]
  /// The work of the batch: every lane took each of these steps and evaluations.
  public var stats = SolverStats()
}

/// Integrates a batch of systems of one model in lock-step: all lanes take the same steps, a
/// step is accepted when the error norm of every lane is within the tolerance, and the step
/// size follows the largest error. `.dp5` is the scalar DP5 of ``solve(_:method:options:)`` and
/// `.auto` its DP5/Rodas4P2 switching (the same tableaus, error norms, PI controller with dopri5's
/// exponents, Hairer's starting step, dense output, Rodas4P2's linear systems in error-weighted
/// variables with partial pivoting and its finite-difference Jacobian) with the largest value
/// over the lanes wherever the scalar method reads one: every lane is integrated at least as
/// accurately as alone, at the cost of the steps its hardest lane needs, and identical lanes
/// give the scalar method, step for step and bit for bit. Under `.auto` the batch turns to
/// Rodas4P2 when any lane's stiffness test fires (or the step size collapses) and back to DP5
/// when DP5 would be stable on every lane.
///
/// Discontinuities must be known in advance and the same for every lane: at each time of
/// `stops` (ascending, inside the span) the integration lands exactly, `jump(k, t, u)` changes
/// the state of the lanes (a dose, an SBML event at a known time), the outputs at that time
/// show the state after it, and the method starts again there as the scalar one does after an
/// event. State events located per lane are not supported. Lanes whose stiff phases differ
/// make a lock-step Rodas4P2 take many more steps than each would alone: after `maxStiffSteps`
/// of them the run stops (`.interrupted`, ``BatchSolution/stiff``) for the caller to go on lane
/// by lane, e.g. with `auto` and ``SolverOptions/startStiff``. `options` supplies `rtol`, `atol`
/// (one per component or one for all), `saveAt`, `maxSteps`, `minStep`, `maxStep`,
/// `initialStep` and `nonNegative`.
public func solveBatch<S: BatchODESystem>(
  _ system: S, u0: [Double], tspan: (start: Double, end: Double), options: SolverOptions, method: ODEMethod,
  maxStiffSteps: Int = .max, stops: [Double] = [], jump: (Int, Double, UnsafeMutablePointer<Double>) -> Void = { _, _, _ in }
) -> BatchSolution {
  precondition(method == .dp5 || method == .auto, "batches integrate with dp5 or auto")
  precondition(system.dimension > 0 && system.lanes > 0 && u0.count == system.dimension * system.lanes, "u0 holds dimension × lanes values")
  precondition(options.atol.count == 1 || options.atol.count == system.dimension, "one absolute tolerance per component, or one for all")
  precondition(
    zip(stops, stops.dropFirst()).allSatisfy { $0 < $1 } && stops.allSatisfy { $0 > tspan.start && $0 <= tspan.end },
    "stops ascend inside the span")
  let integrator = BatchIntegrator(system, u0: u0, t0: tspan.start, options: options, switching: method == .auto)
  integrator.maxStiffSteps = maxStiffSteps
  return integrator.run(to: tspan.end, stops: stops, jump: jump)
}

/// The state of a lock-step run; see ``solveBatch(_:u0:tspan:options:method:maxStiffSteps:stops:jump:)``.
final class BatchIntegrator<S: BatchODESystem> {
  let system: S
  let n: Int, L: Int, N: Int
  let o: SolverOptions
  let switching: Bool
  /// u, uNew, tmp, k1…k7 (k7 also f(t + h, uNew) of DP5), the dense rows, atol, scale and
  /// 1/scale at the last factorisation (the solves multiply, as the scalar method's).
  let work: UnsafeMutablePointer<Double>
  let u, uNew, tmp, k2, k3, k4, k5, k6, dense, atol, scale, inverseScale: UnsafeMutablePointer<Double>
  var k1, k7: UnsafeMutablePointer<Double>
  /// The Jacobian (lane-minor), each lane's factors (n × n, contiguous) and pivots, and
  /// per-lane sums (error, stiffness numerator and denominator).
  let jac, lu, lane: UnsafeMutablePointer<Double>
  let pivots: UnsafeMutablePointer<Int>
  var result: BatchSolution
  var t: Double
  var h = 0.0
  /// log of the last accepted step's error (at least ``StepControl/logErrFloor``; 0 at a start).
  var logErrOld = 0.0
  var fsalValid = false
  var stiff = false
  var stiffCount: [Int], nonstiffCount: [Int]
  var backCount = 0
  var nextOut = 0
  var maxStiffSteps = Int.max
  /// The lanes whose stiffness test turned the batch to Rodas4P2 last.
  var turnedStiff: [Bool]

  init(_ system: S, u0: [Double], t0: Double, options: SolverOptions, switching: Bool) {
    self.system = system
    n = system.dimension
    L = system.lanes
    N = n * L
    o = options
    self.switching = switching
    work = .allocate(capacity: 19 * N)
    work.initialize(repeating: 0, count: 19 * N)
    u = work
    uNew = work + N
    tmp = work + 2 * N
    k1 = work + 3 * N
    k2 = work + 4 * N
    k3 = work + 5 * N
    k4 = work + 6 * N
    k5 = work + 7 * N
    k6 = work + 8 * N
    k7 = work + 9 * N
    dense = work + 10 * N
    atol = work + 16 * N
    scale = work + 17 * N
    inverseScale = work + 18 * N
    jac = .allocate(capacity: n * N)
    jac.initialize(repeating: 0, count: n * N)
    lu = .allocate(capacity: n * N)
    lu.initialize(repeating: 0, count: n * N)
    lane = .allocate(capacity: 3 * L)
    lane.initialize(repeating: 0, count: 3 * L)
    pivots = .allocate(capacity: N)
    pivots.initialize(repeating: 0, count: N)
    for i in 0..<n {
      for l in 0..<L { atol[i * L + l] = options.atol.count == 1 ? options.atol[0] : options.atol[i] }
    }
    for j in 0..<N { u[j] = u0[j] }
    stiffCount = Array(repeating: 0, count: L)
    nonstiffCount = Array(repeating: 0, count: L)
    turnedStiff = Array(repeating: false, count: L)
    t = t0
    result = BatchSolution(returnCode: .success, finalTime: t0, finalState: u0)
  }

  deinit {
    work.deallocate()
    jac.deallocate()
    lu.deallocate()
    lane.deallocate()
    pivots.deallocate()
  }

  func f(_ time: Double, _ x: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
    system.rhs(t: time, u: x, du: out)
    result.stats.rhsEvaluations += 1
  }

  /// The largest over the lanes of the RMS of `x(j) / w(j)`, per lane over its components.
  func largestNorm(_ x: (Int) -> Double, weight w: (Int) -> Double) -> Double {
    for l in 0..<L { lane[l] = 0 }
    for i in 0..<n {
      for l in 0..<L {
        let j = i * L + l
        let r = x(j) / w(j)
        lane[l] += r * r
      }
    }
    var m = 0.0
    for l in 0..<L {
      let e = (lane[l] / Double(n)).squareRoot()
      m = e > m || e.isNaN ? e : m
    }
    return m
  }

  /// Records the outputs up to `limit` (inclusive) with `value(j)` as the state.
  func record(upTo limit: Double, _ value: (Int) -> Double) {
    while nextOut < o.saveAt.count && o.saveAt[nextOut] <= limit {
      result.t.append(o.saveAt[nextOut])
      for j in 0..<N { result.values.append(value(j)) }
      nextOut += 1
    }
  }

  func run(to tEnd: Double, stops: [Double], jump: (Int, Double, UnsafeMutablePointer<Double>) -> Void) -> BatchSolution {
    while nextOut < o.saveAt.count && o.saveAt[nextOut] < t { nextOut += 1 }
    record(upTo: t) { self.u[$0] }
    var stop = 0
    var tb = stops.first ?? tEnd
    if t < tb {
      h = startingStep(to: tb)
      var code = integrate(to: tb)
      while code == .success && stop < stops.count {
        // At a stop: the jump, the outputs at its time, and a fresh start.
        jump(stop, t, u)
        result.stats.events += 1
        record(upTo: t) { self.u[$0] }
        stop += 1
        tb = stop < stops.count ? stops[stop] : tEnd
        guard t < tb else { continue }
        fsalValid = false
        h = startingStep(to: tb)
        logErrOld = 0
        code = integrate(to: tb)
      }
      result.returnCode = code
    }
    if result.returnCode == .success { record(upTo: t) { self.u[$0] } }
    result.finalTime = t
    result.finalState = Array(UnsafeBufferPointer(start: u, count: N))
    result.stiff = stiff
    result.stiffLanes = (0..<L).map { l in stiff && (turnedStiff[l] || h * rho(l) >= 2.5) }
    return result
  }

  /// Hairer's starting step towards `tb` (as the scalar method's, for the current method's
  /// order), the smallest over the lanes.
  func startingStep(to tb: Double) -> Double {
    if let h0 = o.initialStep { return h0 }
    let span = tb - t
    let order = stiff ? 4.0 : 5.0
    f(t, u, k6)
    let weight = { (j: Int) in self.atol[j] + self.o.rtol * abs(self.u[j]) }
    let d0 = largestNorm({ self.u[$0] }, weight: weight), d1 = largestNorm({ self.k6[$0] }, weight: weight)
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = min(h0, span, o.maxStep)
    for j in 0..<N { tmp[j] = u[j] + h0 * k6[j] }
    f(t + h0, tmp, k7)
    let d2 = largestNorm({ self.k7[$0] - self.k6[$0] }, weight: weight) / h0
    let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : Double.pow(0.01 / max(d1, d2), 1 / order)
    var hh = min(100 * h0, h1, span, o.maxStep)
    if !hh.isFinite || hh <= 0 { hh = min(span, 1e-6) }
    return min(max(hh, 10 * max(o.minStep, 4 * t.ulp.magnitude, 1e-300)), span)
  }

  /// Steps to `tb` (landing on it exactly); the outputs before it are recorded, those at it
  /// are left for the caller.
  func integrate(to tb: Double) -> ReturnCode {
    var lastWasNaN = false, lastRejected = false
    while t < tb {
      if result.stats.steps >= o.maxSteps { return .maxSteps }
      if stiff && result.stats.stiffSteps >= maxStiffSteps { return .interrupted }
      h = min(h, o.maxStep)
      if t + h >= tb || t + 1.01 * h >= tb { h = tb - t }
      let minStep = max(o.minStep, 4 * t.ulp.magnitude, 1e-300)
      if tb - t < minStep {
        t = tb
        break
      }
      if h < minStep {
        // A step size collapsing under DP5 is stiffness the test did not catch in time.
        if switching && !stiff && !lastWasNaN {
          stiff = true
          for l in 0..<L {
            stiffCount[l] = 0
            turnedStiff[l] = true
          }
          backCount = 0
          fsalValid = false
          result.stats.methodSwitches += 1
          h = 10 * minStep
          continue
        }
        return lastWasNaN ? .unstable : .stepSizeTooSmall
      }
      let wasStiff = stiff
      let err = stiff ? rodasStep() : dp5Step()
      if !err.isFinite {
        result.stats.rejectedSteps += 1
        h *= 0.1
        lastWasNaN = true
        fsalValid = fsalValid && !stiff
        continue
      }
      let q = stiff ? 4.0 : 5.0
      guard err <= 1 else {
        result.stats.rejectedSteps += 1
        lastRejected = true
        h *= StepControl.rejected(err: err, q: q)
        continue
      }
      // Accept.
      lastWasNaN = false
      result.stats.acceptedSteps += 1
      if stiff { result.stats.stiffSteps += 1 } else { result.stats.nonstiffSteps += 1 }
      let tNew = h == tb - t ? tb : t + h
      var clamped = false
      for i in o.nonNegative where i >= 0 && i < n {
        for l in 0..<L where uNew[i * L + l] < 0 {
          uNew[i * L + l] = 0
          clamped = true
        }
      }
      // Outputs inside the step from the dense output (before `tb`: those at `tb` come after
      // a jump there, or from the state reached).
      if nextOut < o.saveAt.count && o.saveAt[nextOut] < tb && o.saveAt[nextOut] <= tNew {
        let limit = tNew == tb ? tNew.nextDown : tNew
        while nextOut < o.saveAt.count && o.saveAt[nextOut] <= limit {
          interpolate(o.saveAt[nextOut])
          result.t.append(o.saveAt[nextOut])
          result.values.append(contentsOf: UnsafeBufferPointer(start: tmp, count: N))
          nextOut += 1
        }
      }
      t = tNew
      u.update(from: uNew, count: N)
      // FSAL: f(tNew, uNew) is DP5's next first stage (stale after a projection or a switch).
      if !stiff && !clamped && !wasStiff {
        swap(&k1, &k7)
        fsalValid = true
      } else {
        fsalValid = false
      }
      let next = StepControl.accepted(err: err, q: q, logErrOld: logErrOld, afterRejection: lastRejected)
      lastRejected = false
      logErrOld = next.logErrOld
      h *= next.factor
      if switching { checkSwitch() }
    }
    return .success
  }

  /// The dense output of the last accepted step at `time`, into `tmp`.
  func interpolate(_ time: Double) {
    if !denseReady { dp5Dense() }
    let s = (time - t) / h, s1 = 1 - s
    let d0 = dense, d1 = dense + N, d2 = dense + 2 * N, d3 = dense + 3 * N, d4 = dense + 4 * N
    let tmp = self.tmp, N = self.N
    if stiffDense {
      for j in 0..<N { tmp[j] = d0[j] + s * (d1[j] + s1 * (d2[j] + s * d3[j])) }
    } else {
      for j in 0..<N { tmp[j] = d0[j] + s * (d1[j] + s1 * (d2[j] + s * (d3[j] + s1 * d4[j]))) }
    }
  }
  var stiffDense = false
  /// DP5's dense output is completed at the first interpolation inside the step (while its
  /// stages are still there), not at every step, as the scalar method's.
  var denseReady = true

  /// DP5's dense output of the step just accepted, from its stages (still in `k1`…`k7`) and
  /// the y_old and Δy stored at acceptance (the scalar method's formulas).
  func dp5Dense() {
    typealias T = DormandPrince5
    let h = self.h, N = self.N
    let k1 = self.k1, k3 = self.k3, k4 = self.k4, k5 = self.k5, k6 = self.k6, k7 = self.k7
    let d1 = dense + N, d2 = dense + 2 * N, d3 = dense + 3 * N, d4 = dense + 4 * N
    for j in 0..<N {
      let du = d1[j], bspl = h * k1[j] - du
      d2[j] = bspl
      d3[j] = du - h * k7[j] - bspl
      d4[j] = h * (T.d1 * k1[j] + T.d3 * k3[j] + T.d4 * k4[j] + T.d5 * k5[j] + T.d6 * k6[j] + T.d7 * k7[j])
    }
    denseReady = true
  }

  /// One lock-step DP5 step of size `h`: writes `uNew` and the dense output, returns the
  /// largest error norm; runs the stiffness test per lane.
  func dp5Step() -> Double {
    typealias T = DormandPrince5
    // Locals, not properties: a store through a work pointer could otherwise change `h` or
    // `k1` as far as the compiler knows, and the loops would reload them and not vectorise.
    let h = self.h, k1 = self.k1, k7 = self.k7
    let u = self.u, uNew = self.uNew, tmp = self.tmp, k2 = self.k2, k3 = self.k3, k4 = self.k4, k5 = self.k5, k6 = self.k6
    let N = self.N, n = self.n, L = self.L, atol = self.atol, rtol = o.rtol
    if !fsalValid {
      f(t, u, k1)
      fsalValid = true
    }
    for j in 0..<N { tmp[j] = u[j] + h * T.a21 * k1[j] }
    f(t + T.c2 * h, tmp, k2)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a31 * k1[j] + T.a32 * k2[j]) }
    f(t + T.c3 * h, tmp, k3)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a41 * k1[j] + T.a42 * k2[j] + T.a43 * k3[j]) }
    f(t + T.c4 * h, tmp, k4)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a51 * k1[j] + T.a52 * k2[j] + T.a53 * k3[j] + T.a54 * k4[j]) }
    f(t + T.c5 * h, tmp, k5)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a61 * k1[j] + T.a62 * k2[j] + T.a63 * k3[j] + T.a64 * k4[j] + T.a65 * k5[j]) }
    f(t + h, tmp, k6)
    for j in 0..<N { uNew[j] = u[j] + h * (T.b1 * k1[j] + T.b3 * k3[j] + T.b4 * k4[j] + T.b5 * k5[j] + T.b6 * k6[j]) }
    f(t + h, uNew, k7)
    // Per lane: the error norm and Hairer's stiffness quotient ‖k7 − k6‖ / ‖y7 − y6‖.
    let errorSum = lane, kSum = lane + L, ySum = lane + 2 * L
    for m in 0..<(3 * L) { lane[m] = 0 }
    var j = 0
    for _ in 0..<n {
      for l in 0..<L {
        let e = h * (T.e1 * k1[j] + T.e3 * k3[j] + T.e4 * k4[j] + T.e5 * k5[j] + T.e6 * k6[j] + T.e7 * k7[j])
        let r = 1 / (atol[j] + rtol * max(abs(u[j]), abs(uNew[j])))
        let dk = (k7[j] - k6[j]) * r, dy = (uNew[j] - tmp[j]) * r
        errorSum[l] += (e * r) * (e * r)
        kSum[l] += dk * dk
        ySum[l] += dy * dy
        j &+= 1
      }
    }
    var err = 0.0
    for l in 0..<L {
      let e = (lane[l] / Double(n)).squareRoot()
      err = e > err || e.isNaN ? e : err
    }
    if err <= 1 {
      // y_old and Δy now, the rest at the first interpolation inside the step (most steps
      // have none).
      stiffDense = false
      denseReady = false
      let d0 = dense, d1 = dense + N
      for j in 0..<N {
        d0[j] = u[j]
        d1[j] = uNew[j] - u[j]
      }
      if switching {
        // Hairer's test per lane; the first lane with 15 stiff readings turns the batch.
        for l in 0..<L { turnedStiff[l] = false }
        for l in 0..<L where lane[2 * L + l] > 0 {
          if h * (lane[L + l] / lane[2 * L + l]).squareRoot() > 3.25 {
            nonstiffCount[l] = 0
            stiffCount[l] += 1
            turnedStiff[l] = stiffCount[l] >= 15
            if turnedStiff[l] { stiff = true }
          } else {
            nonstiffCount[l] += 1
            if nonstiffCount[l] >= 6 { stiffCount[l] = 0 }
          }
        }
        if stiff {
          for l in 0..<L { stiffCount[l] = 0 }
          result.stats.methodSwitches += 1
        }
      }
    }
    return err
  }

  /// The Jacobian at (t, u) with f(t, u) in `fu`: the system's, or forward differences of
  /// every column in all lanes at once (as the scalar method's, lane by lane).
  func computeJacobian(_ fu: UnsafeMutablePointer<Double>) {
    result.stats.jacobianEvaluations += 1
    if system.jacobian(t: t, u: u, J: jac) {
      var finite = true
      for m in 0..<(n * N) where !jac[m].isFinite {
        finite = false
        break
      }
      if finite { return }
    }
    let fp = k7, sq = Double.ulpOfOne.squareRoot()
    let d = lane, saved = lane + L  // per lane: the difference and the value it replaced
    for j in 0..<n {
      for l in 0..<L {
        saved[l] = u[j * L + l]
        let step = sq * max(abs(saved[l]), atol[j * L + l] / o.rtol * 1e-3, 1e-8)
        let tj = saved[l] + step
        d[l] = tj - saved[l]
        u[j * L + l] = tj
      }
      f(t, u, fp)
      for l in 0..<L { u[j * L + l] = saved[l] }
      for i in 0..<n {
        for l in 0..<L { jac[(i * n + j) * L + l] = (fp[i * L + l] - fu[i * L + l]) / d[l] }
      }
    }
  }

  /// Each lane's `(1/(γh))·I − J` in error-weighted variables, factorised with partial
  /// pivoting; false when one is singular.
  func factor(inv: Double) -> Bool {
    result.stats.luDecompositions += 1
    for l in 0..<L {
      let a = lu + l * n * n
      for i in 0..<n {
        let ri = 1 / scale[i * L + l]
        inverseScale[i * L + l] = ri
        for j in 0..<n { a[i * n + j] = -jac[(i * n + j) * L + l] * scale[j * L + l] * ri }
        a[i * n + i] += inv
      }
      guard luFactor(a, n, pivots + l * n) else { return false }
    }
    return true
  }

  /// Overwrites `x` (lane-minor) with every lane's solve against its factors.
  func solve(_ x: UnsafeMutablePointer<Double>) {
    let b = k7  // free during a Rodas4P2 step
    for l in 0..<L {
      for i in 0..<n { b[i] = x[i * L + l] * inverseScale[i * L + l] }
      luSolve(lu + l * n * n, n, pivots + l * n, b)
      for i in 0..<n { x[i * L + l] = b[i] * scale[i * L + l] }
    }
    result.stats.linearSolves += 1
  }

  /// One lock-step Rosenbrock step of size `h` with `auto`'s tableau (Rodas4P2, as the scalar
  /// method): writes `uNew` and the dense output, returns the largest error norm (NaN when a
  /// factorisation fails).
  func rodasStep() -> Double {
    let R = RosenbrockTableau.of(.auto)
    let fu = dense, dT = dense + N, du = dense + 2 * N
    f(t, u, fu)
    computeJacobian(fu)
    if system.isAutonomous {
      for j in 0..<N { dT[j] = 0 }
    } else {
      let dt = Double.pow(Double.ulpOfOne, 1.0 / 3) * max(abs(t), 1)
      f(t + dt, u, dT)
      f(t - dt, u, du)
      for j in 0..<N { dT[j] = (dT[j] - du[j]) / (2 * dt) }
    }
    for j in 0..<N { scale[j] = atol[j] + o.rtol * abs(u[j]) }
    guard factor(inv: 1 / (R.gamma * h)) else { return .nan }
    let ih = 1 / h
    for j in 0..<N { k1[j] = fu[j] + h * R.d1 * dT[j] }
    solve(k1)
    for j in 0..<N { tmp[j] = u[j] + R.a21 * k1[j] }
    f(t + R.c2 * h, tmp, du)
    for j in 0..<N { k2[j] = du[j] + h * R.d2 * dT[j] + ih * R.C21 * k1[j] }
    solve(k2)
    for j in 0..<N { tmp[j] = u[j] + R.a31 * k1[j] + R.a32 * k2[j] }
    f(t + R.c3 * h, tmp, du)
    for j in 0..<N { k3[j] = du[j] + h * R.d3 * dT[j] + ih * (R.C31 * k1[j] + R.C32 * k2[j]) }
    solve(k3)
    for j in 0..<N { tmp[j] = u[j] + R.a41 * k1[j] + R.a42 * k2[j] + R.a43 * k3[j] }
    f(t + R.c4 * h, tmp, du)
    for j in 0..<N { k4[j] = du[j] + h * R.d4 * dT[j] + ih * (R.C41 * k1[j] + R.C42 * k2[j] + R.C43 * k3[j]) }
    solve(k4)
    for j in 0..<N { tmp[j] = u[j] + R.a51 * k1[j] + R.a52 * k2[j] + R.a53 * k3[j] + R.a54 * k4[j] }
    f(t + h, tmp, du)
    for j in 0..<N { k5[j] = du[j] + ih * (R.C51 * k1[j] + R.C52 * k2[j] + R.C53 * k3[j] + R.C54 * k4[j]) }
    solve(k5)
    for j in 0..<N { tmp[j] += k5[j] }
    f(t + h, tmp, du)
    for j in 0..<N { k6[j] = du[j] + ih * (R.C61 * k1[j] + R.C62 * k2[j] + R.C63 * k3[j] + R.C64 * k4[j] + R.C65 * k5[j]) }
    solve(k6)
    for j in 0..<N { uNew[j] = tmp[j] + k6[j] }
    let err = largestNorm({ self.k6[$0] }, weight: { self.atol[$0] + self.o.rtol * max(abs(self.u[$0]), abs(self.uNew[$0])) })
    if err <= 1 {
      stiffDense = true
      denseReady = true
      for j in 0..<N {
        dense[j] = u[j]
        dense[N + j] = uNew[j] - u[j]
        dense[2 * N + j] = R.h21 * k1[j] + R.h22 * k2[j] + R.h23 * k3[j] + R.h24 * k4[j] + R.h25 * k5[j]
        dense[3 * N + j] = R.h31 * k1[j] + R.h32 * k2[j] + R.h33 * k3[j] + R.h34 * k4[j] + R.h35 * k5[j]
      }
    }
    return err
  }

  /// ‖J‖∞ of lane `l`'s last Jacobian: its largest absolute row sum, an upper bound on the
  /// spectral radius.
  func rho(_ l: Int) -> Double {
    var r = 0.0
    for i in 0..<n {
      var s = 0.0
      for j in 0..<n { s += abs(jac[(i * n + j) * L + l]) }
      r = max(r, s)
    }
    return r
  }

  /// Rodas4P2 → DP5 when `h·‖J‖∞ < 2.5` on every lane for 10 accepted steps in a row (the
  /// scalar `auto`'s test, on the largest lane).
  func checkSwitch() {
    guard stiff else { return }
    var largest = 0.0
    for l in 0..<L { largest = max(largest, rho(l)) }
    if h * largest < 2.5 { backCount += 1 } else { backCount = 0 }
    if backCount >= 10 {
      stiff = false
      backCount = 0
      for l in 0..<L {
        stiffCount[l] = 0
        nonstiffCount[l] = 0
      }
      fsalValid = false
      result.stats.methodSwitches += 1
    }
  }
}
