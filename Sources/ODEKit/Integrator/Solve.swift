import RealModule

/// Integrates `problem` and returns the solution at `options.saveAt` (or at the start and
/// end of the span when `saveAt` is empty).
///
/// Discontinuities (dose starts and ends, ``TimeEvent``s) split the span into segments;
/// the integrator stops exactly at each and restarts after applying it. At a time shared
/// by several discontinuities the order is: infusion ends, then time events in the order
/// given, then doses in the order given. State events are located by root finding on the
/// dense output; events whose roots coincide fire together, higher ``StateEvent/priority``
/// first (ties by index), and an event's change of state can make others fire at the same
/// time (cascade). An action may schedule a delayed execution
/// (``EventOutcome/schedule(delay:payload:)``), which becomes a breakpoint. Output at an
/// event time reports the state *after* the event. Guides/Events.md has the details.
///
/// Numerical failure does not throw: the solution carries a ``ReturnCode`` and the outputs
/// reached before the failure.
///
/// - Complexity: DP5 costs 6 RHS evaluations per accepted step (FSAL); Rodas4 costs 6
///   RHS evaluations, one Jacobian (analytic, or `n` RHS evaluations by forward
///   differences), one LU (`n³/3`) and 6 triangular solves per step.
@inlinable
public func solve<S: ODESystem>(
  _ problem: ODEProblem<S>, method: ODEMethod = .auto, options: SolverOptions = SolverOptions()
) -> ODESolution {
  let integrator = _Integrator(problem: problem, method: method, options: options)
  return integrator.run()
}

@usableFromInline
final class _Integrator<S: ODESystem> {
  @usableFromInline let sys: S
  @usableFromInline let n: Int
  @usableFromInline let problem: ODEProblem<S>
  @usableFromInline let requested: ODEMethod
  @usableFromInline let opts: SolverOptions
  @usableFromInline var stiff: Bool
  @usableFromInline var stats = SolverStats()

  @usableFromInline var t: Double
  @usableFromInline var h: Double = 0
  @usableFromInline var errOld: Double = 1
  @usableFromInline var fsalValid = false
  @usableFromInline var stiffCount = 0, nonstiffCount = 0, backCount = 0

  // Work storage (n each, unless noted).
  @usableFromInline let storage: UnsafeMutablePointer<Double>
  @usableFromInline let u, uNew, tmp, atol, rate, scale: UnsafeMutablePointer<Double>
  /// ``SolverOptions/nonNegative``, read once.
  @usableFromInline let nonNegative: [Int]
  @usableFromInline let k: [UnsafeMutablePointer<Double>]  // 7 stage vectors
  @usableFromInline let dense: UnsafeMutablePointer<Double>  // 5n
  @usableFromInline let jac, lu: UnsafeMutablePointer<Double>  // n*n
  @usableFromInline let piv: UnsafeMutablePointer<Int>
  /// The system's sparse factorisation plan, used while its Jacobian is the analytic one.
  @usableFromInline let sparse: SparseLU?
  /// Whether `jac` holds the analytic Jacobian (zero outside the sparsity pattern).
  @usableFromInline var jacobianOnPattern = false
  @usableFromInline var denseT0 = 0.0, denseH = 0.0, denseIsRodas = false

  // Output.
  @usableFromInline var outT: [Double] = []
  @usableFromInline var outU: [Double] = []
  @usableFromInline var saveAt: [Double]
  @usableFromInline var nextOut = 0
  @usableFromInline var eventLog: [(time: Double, label: String)] = []

  // State events.
  @usableFromInline var gPrev: [Double]
  @usableFromInline var gNew: [Double]
  /// Per state event, read once (the scan at every step must not copy the events):
  /// its condition and its direction.
  @usableFromInline let conditions: [(Double, UnsafeBufferPointer<Double>) -> Double]
  @usableFromInline let directions: [StateEvent.Direction]
  /// Events whose conditions are called at each step (no known trigger time), and the
  /// others by trigger time.
  @usableFromInline let conditionIndices: [Int]
  @usableFromInline let exactSorted: [(time: Double, index: Int)]
  /// Scheduled (delayed) event executions, sorted by time then order of scheduling.
  @usableFromInline var pending: [(time: Double, event: Int, payload: [Double], seq: Int)] = []
  @usableFromInline var pendingSeq = 0
  @usableFromInline var rngState: UInt64 = 0

  @usableFromInline
  init(problem: ODEProblem<S>, method: ODEMethod, options: SolverOptions) {
    rngState = options.tieSeed ?? 0
    self.problem = problem
    self.sys = problem.system
    let n = problem.system.dimension
    self.n = n
    self.requested = method
    self.opts = options
    self.stiff = method == .rodas4
    self.t = problem.tspan.start
    // One block for all the work vectors and matrices (one allocation per solve).
    let total = 18 * n + 2 * n * n
    storage = .allocate(capacity: total)
    storage.initialize(repeating: 0, count: total)
    var next = storage
    func alloc(_ m: Int) -> UnsafeMutablePointer<Double> {
      defer { next += m }
      return next
    }
    u = alloc(n); uNew = alloc(n); tmp = alloc(n); atol = alloc(n); rate = alloc(n); scale = alloc(n)
    k = (0..<7).map { _ in alloc(n) }
    dense = alloc(5 * n)
    jac = alloc(n * n); lu = alloc(n * n)
    nonNegative = options.nonNegative
    sparse = problem.system.sparsity
    precondition(sparse.map { $0.n == n } ?? true, "the sparsity plan is for another dimension")
    piv = .allocate(capacity: n)
    piv.initialize(repeating: 0, count: n)
    for i in 0..<n {
      u[i] = problem.u0[i]
      atol[i] = options.atol.count == n ? options.atol[i] : (options.atol.first ?? 1e-10)
    }
    precondition(options.atol.count == 1 || options.atol.count == n, "atol needs one value or one per state")
    precondition(options.rtol > 0 && options.rtol.isFinite, "rtol must be positive")
    let (t0, t1) = problem.tspan
    saveAt = options.saveAt.isEmpty ? [t0, t1] : options.saveAt.filter { $0 >= t0 && $0 <= t1 }
    for i in 1..<max(saveAt.count, 1) { precondition(saveAt[i] >= saveAt[i - 1], "saveAt must be sorted") }
    gPrev = Array(repeating: 0, count: problem.stateEvents.count)
    gNew = gPrev
    conditions = problem.stateEvents.map(\.condition)
    directions = problem.stateEvents.map(\.direction)
    conditionIndices = problem.stateEvents.indices.filter { problem.stateEvents[$0].exactTime == nil }
    exactSorted = problem.stateEvents.indices.compactMap { i in problem.stateEvents[i].exactTime.map { ($0, i) } }
      .sorted { ($0.time, $0.index) < ($1.time, $1.index) }
    outT.reserveCapacity(saveAt.count)
    outU.reserveCapacity(saveAt.count * n)
  }

  deinit {
    storage.deallocate(); piv.deallocate()
  }

  // MARK: Driver

  /// A discontinuity at a preset time.
  @usableFromInline
  struct _Disc {
    @usableFromInline var time: Double
    @usableFromInline var kind: Int  // 0 infusion end, 1 time event, 2 dose
    @usableFromInline var index: Int  // into timeEvents or the expanded doses
    @usableFromInline var order: Int
    @usableFromInline init(time: Double, kind: Int, index: Int, order: Int) {
      self.time = time; self.kind = kind; self.index = index; self.order = order
    }
  }

  @inlinable
  func run() -> ODESolution {
    let (t0, tEnd) = problem.tspan
    let doses = problem.doses.flatMap(\.administrations)
    var discs: [_Disc] = []
    for (i, d) in doses.enumerated() {
      precondition(d.target >= 0 && d.target < n, "dose target \(d.target) is not a state index")
      // An infusion running at the start time starts there (its earlier part is not given).
      let start = d.duration > 0 && d.time < t0 && d.time + d.duration > t0 ? t0 : d.time
      discs.append(_Disc(time: start, kind: 2, index: i, order: discs.count))
      if d.duration > 0 { discs.append(_Disc(time: d.time + d.duration, kind: 0, index: i, order: discs.count)) }
    }
    for (i, e) in problem.timeEvents.enumerated() {
      discs.append(_Disc(time: e.time, kind: 1, index: i, order: discs.count))
    }
    // Known trigger times of state events are landing points (kind 3: no action).
    for (i, e) in problem.stateEvents.enumerated() {
      if let te = e.exactTime { discs.append(_Disc(time: te, kind: 3, index: i, order: discs.count)) }
    }
    if opts.landOnSaveAt {
      for s in opts.saveAt { discs.append(_Disc(time: s, kind: 3, index: -1, order: discs.count)) }
    }
    discs = discs.filter { $0.time >= t0 && $0.time <= tEnd }
    discs.sort { ($0.time, $0.kind, $0.order) < ($1.time, $1.kind, $1.order) }

    var code = ReturnCode.success
    var di = 0
    observe()
    // Events at the start time.
    while di < discs.count && discs[di].time == t0 { apply(discs[di], doses); di += 1 }
    if problem.stateEvents.contains(where: \.fireIfTrueAtStart) {
      let ub = UnsafeBufferPointer(start: u, count: n)
      var due: [Int] = []
      for (i, e) in problem.stateEvents.enumerated() where e.fireIfTrueAtStart && e.condition(t0, ub) >= 0 { due.append(i) }
      if !due.isEmpty && fireStateEvents(due, at: t0) == .terminate { return finish(.terminated) }
    }
    if runDuePending(at: t0) == .terminate { return finish(.terminated) }
    resetStateEvents()
    recordOutputs(upTo: t0)
    while true {
      let nextDisc = di < discs.count ? discs[di].time : tEnd
      let target = min(nextDisc, pending.first?.time ?? .infinity)
      if t < target {
        fsalValid = false
        h = opts.initialStep ?? initialStep(to: target)
        errOld = 1
        code = integrate(to: target)
        if code != .success { break }
      }
      // t is now `target`, or an earlier scheduled execution time.
      while di < discs.count && discs[di].time <= t { apply(discs[di], doses); di += 1 }
      if runDuePending(at: t) == .terminate { code = .terminated; break }
      resetStateEvents()
      recordOutputs(upTo: t)
      if t >= tEnd && di >= discs.count { break }
    }
    return finish(code)
  }

  @inlinable
  func finish(_ code: ReturnCode) -> ODESolution {
    ODESolution(
      t: outT, values: outU, dimension: n, returnCode: code, stats: stats, method: requested,
      finalTime: t, finalState: Array(UnsafeBufferPointer(start: u, count: n)), eventLog: eventLog)
  }

  /// Orders due events by priority (higher first), then index — or, with
  /// ``SolverOptions/tieSeed``, in random order among equal priorities. `idx` names each event once.
  @inlinable
  func byPriority(_ idx: [Int], at te: Double) -> [Int] {
    let events = problem.stateEvents
    let random = opts.tieSeed != nil
    guard idx.count > 1, random || idx.contains(where: { events[$0].priority != nil }) else { return idx.sorted() }
    let ub = UnsafeBufferPointer(start: u, count: n)
    let p = Dictionary(uniqueKeysWithValues: idx.map { ($0, events[$0].priority?(te, ub) ?? 0) })
    var tie: [Int: UInt64] = [:]
    for i in idx { tie[i] = random ? nextRandom() : UInt64(Int.max - i) }
    return idx.sorted { (p[$0]!, tie[$0]!) > (p[$1]!, tie[$1]!) }
  }

  /// SplitMix64 over the tie seed.
  @inlinable
  func nextRandom() -> UInt64 {
    rngState &+= 0x9E37_79B9_7F4A_7C15
    var z = rngState
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Applies the state events `due` at `te` (state in `u`) in priority order, then any
  /// events whose conditions the changes made cross, up to 1000 executions. An action may
  /// schedule a delayed execution. Returns `.terminate` if an event asked to stop.
  @inlinable
  func fireStateEvents(_ due: [Int], at te: Double) -> EventOutcome {
    let events = problem.stateEvents
    var queue = byPriority(due, at: te)
    var count = 0
    while !queue.isEmpty, count < 1000 {
      let i = queue.removeFirst()
      count += 1
      let ub = UnsafeBufferPointer(start: u, count: n)
      let before = conditions.map { $0(te, ub) }
      var state = Array(ub)
      let outcome = events[i].action(te, &state)
      for k in 0..<n { u[k] = state[k] }
      stats.events += 1
      eventLog.append((te, events[i].label))
      fsalValid = false
      switch outcome {
      case .terminate: return .terminate
      case .schedule(let delay, let payload): schedule(i, at: te + max(delay, 0), payload)
      case .continue: break
      }
      let newly = reactToJump(at: te, before: before, excluding: Set(queue).union([i]))
      // A due event that does not persist drops out once its condition is false.
      let after = UnsafeBufferPointer(start: u, count: n)
      queue.removeAll { events[$0].cancelsWhenFalse && events[$0].condition(te, after) < 0 }
      if !newly.isEmpty || opts.tieSeed != nil { queue = byPriority(queue + newly, at: te) }
    }
    return .continue
  }

  /// Whether a change of `g` from `a` to `b` is a crossing in the event's direction.
  @inlinable
  func crosses(_ direction: StateEvent.Direction, from a: Double, to b: Double) -> Bool {
    let up = a < 0 && b >= 0, down = a > 0 && b <= 0
    switch direction {
    case .up: return up
    case .down: return down
    case .either: return up || down
    }
  }

  /// After an event changed the state at `time` (conditions were `before`): cancels the
  /// scheduled executions of events whose condition fell below zero, and returns the
  /// events the change made cross, except those in `excluded`.
  @inlinable
  func reactToJump(at time: Double, before: [Double], excluding excluded: Set<Int>) -> [Int] {
    let ub = UnsafeBufferPointer(start: u, count: n)
    var newly: [Int] = []
    for k in conditions.indices where !excluded.contains(k) {
      let after = conditions[k](time, ub)
      if problem.stateEvents[k].cancelsWhenFalse && before[k] >= 0 && after < 0 { cancelPending(k) }
      if crosses(directions[k], from: before[k], to: after) { newly.append(k) }
    }
    return newly
  }

  @inlinable
  func schedule(_ event: Int, at time: Double, _ payload: [Double]) {
    pendingSeq += 1
    let item = (time: time, event: event, payload: payload, seq: pendingSeq)
    let at = pending.firstIndex { ($0.time, $0.seq) > (time, pendingSeq) } ?? pending.count
    pending.insert(item, at: at)
  }

  @inlinable
  func cancelPending(_ event: Int) { pending.removeAll { $0.event == event } }

  /// Runs scheduled executions due at `time` (several at once in priority order); they may
  /// trigger further state events and schedule more.
  @inlinable
  func runDuePending(at time: Double) -> EventOutcome {
    var rounds = 0
    while let first = pending.first, first.time <= time, rounds < 1000 {
      rounds += 1
      let dueNow = pending.filter { $0.time == first.time }
      // Each event once (it can have two executions due at one time).
      var seen = Set<Int>()
      let order = byPriority(dueNow.map(\.event).filter { seen.insert($0).inserted }, at: time)
      // Take the highest-priority due execution (earliest scheduled among equals).
      let pick = order[0]
      let k = pending.firstIndex { $0.time == first.time && $0.event == pick }!
      let item = pending.remove(at: k)
      guard let delayed = problem.stateEvents[item.event].delayedAction else { continue }
      let ub = UnsafeBufferPointer(start: u, count: n)
      let before = conditions.map { $0(time, ub) }
      var state = Array(ub)
      let outcome = delayed(time, &state, item.payload)
      for j in 0..<n { u[j] = state[j] }
      stats.events += 1
      eventLog.append((time, problem.stateEvents[item.event].label + " (delayed)"))
      fsalValid = false
      switch outcome {
      case .terminate: return .terminate
      case .schedule(let d, let p): schedule(item.event, at: time + max(d, 0), p)
      case .continue: break
      }
      let newly = reactToJump(at: time, before: before, excluding: [])
      if !newly.isEmpty && fireStateEvents(newly, at: time) == .terminate { return .terminate }
    }
    return .continue
  }

  @inlinable
  func apply(_ d: _Disc, _ doses: [Dose]) {
    if d.kind == 3 { return }  // a landing point: the state event fires through the crossing test
    stats.events += 1
    switch d.kind {
    case 0:
      let dose = doses[d.index]
      rate[dose.target] -= dose.amount / dose.duration
      if abs(rate[dose.target]) < 1e-12 * dose.amount / dose.duration { rate[dose.target] = 0 }
      eventLog.append((d.time, dose.label + " (end)"))
    case 1:
      let e = problem.timeEvents[d.index]
      var state = Array(UnsafeBufferPointer(start: u, count: n))
      e.action(d.time, &state)
      for i in 0..<n { u[i] = state[i] }
      eventLog.append((d.time, e.label))
    default:
      let dose = doses[d.index]
      if dose.duration > 0 { rate[dose.target] += dose.amount / dose.duration } else { u[dose.target] += dose.amount }
      eventLog.append((d.time, dose.label))
    }
    fsalValid = false
  }

  @inlinable
  func recordOutputs(upTo time: Double) {
    while nextOut < saveAt.count && saveAt[nextOut] <= time {
      outT.append(saveAt[nextOut])
      for i in 0..<n { outU.append(u[i]) }
      nextOut += 1
    }
  }

  /// Reports the current (t, u) to the observer, if any.
  @inlinable
  func observe() {
    if let o = opts.observer { o(t, UnsafeBufferPointer(start: u, count: n)) }
  }

  @inlinable
  func resetStateEvents() {
    observe()
    let ub = UnsafeBufferPointer(start: u, count: n)
    for i in conditions.indices { gPrev[i] = conditions[i](t, ub) }
  }

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
    for i in 0..<n {
      let sc = atol[i] + opts.rtol * max(abs(u[i]), abs(uNew[i]))
      let r = e[i] / sc
      s += r * r
    }
    return (s / Double(n)).squareRoot()
  }

  /// Hairer's starting step (Solving ODEs I, §II.4).
  @inlinable
  func initialStep(to tb: Double) -> Double {
    let span = tb - t
    let order = stiff ? 4.0 : 5.0
    let f0 = k[5], f1 = k[6]
    f(t, u, f0)
    var d0 = 0.0, d1 = 0.0
    for i in 0..<n {
      let sc = atol[i] + opts.rtol * abs(u[i])
      d0 += (u[i] / sc) * (u[i] / sc)
      d1 += (f0[i] / sc) * (f0[i] / sc)
    }
    d0 = (d0 / Double(n)).squareRoot(); d1 = (d1 / Double(n)).squareRoot()
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = min(h0, span, opts.maxStep)
    for i in 0..<n { tmp[i] = u[i] + h0 * f0[i] }
    f(t + h0, tmp, f1)
    var d2 = 0.0
    for i in 0..<n {
      let sc = atol[i] + opts.rtol * abs(u[i])
      d2 += ((f1[i] - f0[i]) / sc) * ((f1[i] - f0[i]) / sc)
    }
    d2 = (d2 / Double(n)).squareRoot() / h0
    let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : Double.pow(0.01 / max(d1, d2), 1 / order)
    var hh = min(100 * h0, h1, span, opts.maxStep)
    if !hh.isFinite || hh <= 0 { hh = min(span, 1e-6) }
    // Never start below the smallest step the integrator takes (a very fast transient, e.g.
    // right after an event, would otherwise end the run before the first step): the error
    // control shrinks a step that is too long; `auto` turns to Rodas4 if it must go lower.
    return min(max(hh, 10 * max(opts.minStep, 4 * t.ulp.magnitude, 1e-300)), span)
  }

  /// Evaluates the dense output of the last accepted step at `time` into `out`.
  @inlinable
  func interpolate(_ time: Double, _ out: UnsafeMutablePointer<Double>) {
    let s = denseH == 0 ? 1 : (time - denseT0) / denseH
    let s1 = 1 - s
    // One pointer per coefficient vector: no index arithmetic in the loops, which vectorise.
    let d0 = dense, d1 = dense + n, d2 = dense + 2 * n, d3 = dense + 3 * n
    if denseIsRodas {
      for i in 0..<n { out[i] = d0[i] + s * (d1[i] + s1 * (d2[i] + s * d3[i])) }
    } else {
      let d4 = dense + 4 * n
      for i in 0..<n { out[i] = d0[i] + s * (d1[i] + s1 * (d2[i] + s * (d3[i] + s1 * d4[i]))) }
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
          if case .terminate = outcome { recordOutputs(upTo: tb); return .terminated }
        }
        break
      }
      if h < minStep {
        // A step size collapsing under DP5 is stiffness that the estimate did not catch in
        // time (a transient far faster than the solution): `auto` goes on with Rodas4.
        if requested == .auto && !stiff && !lastWasNaN {
          stiff = true; stiffCount = 0; backCount = 0; fsalValid = false; stats.methodSwitches += 1
          h = 10 * minStep
          continue
        }
        return lastWasNaN ? .unstable : .stepSizeTooSmall
      }
      let err = stiff ? rodasStep() : dp5Step()
      if !err.isFinite {
        stats.rejectedSteps += 1
        h *= 0.1
        lastWasNaN = true
        fsalValid = fsalValid && !stiff
        continue
      }
      let q = stiff ? 4.0 : 5.0
      if err <= 1 {
        // Accept.
        lastWasNaN = false
        stats.acceptedSteps += 1
        if stiff { stats.stiffSteps += 1 } else { stats.nonstiffSteps += 1 }
        let tNew = (h == tb - t) ? tb : t + h
        var clamped = false
        for j in nonNegative where uNew[j] < 0 { uNew[j] = 0; clamped = true }
        // State events on [t, tNew].
        if !problem.stateEvents.isEmpty, let (te, due, cancels) = findStateEvent(tNew) {
          fillOutputs(before: te, inclusive: false)
          interpolate(te, u)
          t = te
          observe()
          for c in cancels { cancelPending(c) }
          let outcome = due.isEmpty ? .continue : fireStateEvents(due, at: te)
          resetStateEvents()
          if case .terminate = outcome { recordOutputs(upTo: te); return .terminated }
          // Scheduled executions due now run before the outputs at this time are recorded.
          if let p = pending.first, p.time <= te {
            if case .terminate = runDuePending(at: te) { recordOutputs(upTo: te); return .terminated }
            resetStateEvents()
          }
          recordOutputs(upTo: te)
          errOld = 1
          h = initialStep(to: tb)
          continue
        }
        fillOutputs(before: min(tNew, tb), inclusive: tNew < tb)
        t = tNew
        for i in 0..<n { u[i] = uNew[i] }
        observe()
        // FSAL reuses f(tNew, uNew); after a projection that value is stale.
        if !stiff && !clamped { swapFSAL() } else { fsalValid = false }
        // PI step-size control with the exponents of Hairer's dopri5 (β = 0.04; Hairer,
        // Nørsett & Wanner, Solving ODEs I, §II.4), fac = 0.9·err^−(1/q − 0.75β)·errOld^β, for
        // both methods (a tuning choice for Rodas4, whose own code uses Gustafsson's).
        // (β1 = 0.7/q, β2 = 0.4/q had h grow by under 10% a step while the error stayed
        // 20 times below the tolerance.)
        let e = max(err, 1e-10)
        var fac = 0.9 * Double.pow(e, -(1 / q - 0.03)) * Double.pow(errOld, 0.04)
        fac = min(max(fac, 0.2), lastRejected ? 1 : 6)
        lastRejected = false
        errOld = max(err, 1e-4)
        h *= fac
        if requested == .auto { checkSwitch() }
      } else {
        stats.rejectedSteps += 1
        lastRejected = true
        let fac = max(0.2, 0.9 * Double.pow(err, -1 / q))
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
    // k[6] holds f(tNew, uNew): copy into k[0].
    k[0].update(from: k[6], count: n)
    fsalValid = true
  }

  /// The events with a known trigger time in (`start`, `end`]: a range of ``exactSorted``.
  @inlinable
  func knownTriggers(after start: Double, upTo end: Double) -> Range<Int> {
    var first = 0, hi = exactSorted.count
    while first < hi {
      let mid = (first + hi) / 2
      if exactSorted[mid].time > start { hi = mid } else { first = mid + 1 }
    }
    var last = first
    while last < exactSorted.count && exactSorted[last].time <= end { last += 1 }
    return first..<last
  }

  /// Locates the earliest state-event root in the step just taken (dense output valid):
  /// the time, the events that fire there (roots within a relative 1e-12 of each other),
  /// and the events whose scheduled executions are cancelled there.
  @inlinable
  func findStateEvent(_ tNew: Double) -> (Double, [Int], [Int])? {
    var roots: [(time: Double, index: Int, cancel: Bool)] = []
    let ub = UnsafeBufferPointer(start: uNew, count: n)
    // Known trigger times in (t, tNew] (the conditions `t ≥ et` of the others keep their
    // sign over the step).
    let known = knownTriggers(after: t, upTo: tNew)
    let first = known.lowerBound, due = known.upperBound
    // gPrev keeps the values at t until the end: the crossing tests below need them.
    defer {
      for i in conditionIndices { gPrev[i] = gNew[i] }
      for k in first..<due { gPrev[exactSorted[k].index] = 1 }
    }
    for i in conditionIndices {
      let gA = gPrev[i], gB = conditions[i](tNew, ub)
      gNew[i] = gB
      if gA != gB, let r = locate(i, from: gA, to: gB, tNew) { roots.append((r.time, i, r.cancel)) }
    }
    for k in first..<due {
      let i = exactSorted[k].index
      if gPrev[i] != 1, let r = locate(i, from: gPrev[i], to: 1, tNew) { roots.append((r.time, i, r.cancel)) }
    }
    guard let root = roots.min(by: { $0.time < $1.time }) else { return nil }
    let tol = 1e-12 * max(abs(root.time), 1)
    let at = roots.filter { $0.time - root.time <= tol }
    // The group fires at the latest of its roots: each root lies just after its own
    // crossing, and at an earlier one of the group a condition can still be on the old side
    // (it would then cross again an ulp later and fire twice).
    let te = at.map(\.time).max()!
    var fire = at.filter { !$0.cancel }.map(\.index)
    // Stopping at the root: any other condition that has crossed by then fires there too
    // (a condition true only inside a window shorter than the step, seen at a root of one
    // of its parts).
    if te < tNew {
      interpolate(te, tmp)
      let tb = UnsafeBufferPointer(start: tmp, count: n)
      for i in conditionIndices where !fire.contains(i) {
        if crosses(directions[i], from: gPrev[i], to: conditions[i](te, tb)) { fire.append(i) }
      }
    }
    return (te, fire, at.filter(\.cancel).map(\.index))
  }

  /// Where event `i`'s condition, `gA` at t and `gB` at tNew, crosses in the step just
  /// taken (firing, or cancelling its scheduled executions), or nil if it does not.
  @inlinable
  func locate(_ i: Int, from gA: Double, to gB: Double, _ tNew: Double) -> (time: Double, cancel: Bool)? {
    let e = problem.stateEvents[i]
    let tb = UnsafeBufferPointer(start: tmp, count: n)
    let up = gA < 0 && gB >= 0
    let fires = crosses(e.direction, from: gA, to: gB)
    let cancel = !fires && e.cancelsWhenFalse && gA >= 0 && gB < 0 && pending.contains { $0.event == i }
    guard fires || cancel else { return nil }
    if let et = e.exactTime, et == tNew, fires { return (tNew, false) }
    // The side of zero the condition is on after the crossing.
    let after: (Double) -> Bool = cancel ? { $0 < 0 } : (up && e.direction != .down ? { $0 >= 0 } : { $0 <= 0 })
    // Illinois (modified regula falsi) on the dense output.
    var a = t, b = tNew, fa = gA, fb = gB, side = 0
    if cancel && fa == 0 { fa = 1 }
    for _ in 0..<200 {
      if b - a <= 4 * b.ulp.magnitude + 1e-14 * abs(b - t) { break }
      var m = (a * fb - b * fa) / (fb - fa)
      if !(m > a && m < b) || abs(fb - fa) < 1e-300 { m = 0.5 * (a + b) }
      interpolate(m, tmp)
      let fm = e.condition(m, tb)
      let sameAsB = after(fm) == after(fb)
      if sameAsB {
        b = m; fb = fm
        if side == -1 { fa *= 0.5 }
        side = -1
      } else {
        a = m; fa = fm
        if side == 1 { fb *= 0.5 }
        side = 1
      }
    }
    return (b, cancel)
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
          if sp.entryRow[e] != row { rho = max(rho, s); s = 0; row = sp.entryRow[e] }
          s += abs(jac[sp.entryAt[e]])
        }
        rho = max(rho, s)
      } else {
        for i in 0..<n {
          var s = 0.0
          for j in 0..<n { s += abs(jac[i * n + j]) }
          rho = max(rho, s)
        }
      }
      if h * rho < 2.5 { backCount += 1 } else { backCount = 0 }
      if backCount >= 10 {
        stiff = false; backCount = 0; stiffCount = 0; nonstiffCount = 0
        fsalValid = false; stats.methodSwitches += 1
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
        stiff = true; stiffCount = 0; stats.methodSwitches += 1
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
    if !fsalValid { f(t, u, k1); fsalValid = true }
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
    for i in 0..<n {
      let e = h * (T.e1 * k1[i] + T.e3 * k3[i] + T.e4 * k4[i] + T.e5 * k5[i] + T.e6 * k6[i] + T.e7 * k7[i])
      let sc = atol[i] + opts.rtol * max(abs(u[i]), abs(uNew[i]))
      s += (e / sc) * (e / sc)
      // Hairer's stiffness estimate ‖k7 − k6‖ / ‖y7 − y6‖, in the error weights so that small
      // components count as much as large ones (the quotient is then scale-invariant).
      let dk = (k7[i] - k6[i]) / sc, dy = (uNew[i] - tmp[i]) / sc
      stNum += dk * dk
      stDen += dy * dy
    }
    let err = (s / Double(n)).squareRoot()
    if err <= 1 {
      // Dense output for [t, t+h].
      denseIsRodas = false; denseT0 = t; denseH = h
      for i in 0..<n {
        let du = uNew[i] - u[i]
        let bspl = h * k1[i] - du
        dense[i] = u[i]
        dense[n + i] = du
        dense[2 * n + i] = bspl
        dense[3 * n + i] = du - h * k7[i] - bspl
        dense[4 * n + i] = h * (T.d1 * k1[i] + T.d3 * k3[i] + T.d4 * k4[i] + T.d5 * k5[i] + T.d6 * k6[i] + T.d7 * k7[i])
      }
      if stDen > 0 { noteStiffness(h * (stNum / stDen).squareRoot()) }
    }
    return err
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
      for i in 0..<(n * n) where !jac[i].isFinite { finite = false; break }
      if finite { return true }
    }
    let fp = k[6]
    let sq = Double.ulpOfOne.squareRoot()
    for j in 0..<n {
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

  /// One Rodas4 step of size `h`; writes `uNew`, returns the error norm (or NaN).
  @inlinable
  func rodasStep() -> Double {
    typealias R = Rodas4
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
    // The linear systems are solved in error-weighted variables (W⁻¹ E W)(W⁻¹ k) = W⁻¹ b,
    // W = diag(atol + rtol·|u|), so that pivoting compares entries on the scale that
    // matters: a row of large cell numbers cannot leak round-off into a state that is zero.
    let inv = 1 / (R.gamma * h)
    for i in 0..<n { scale[i] = atol[i] + opts.rtol * abs(u[i]) }
    stats.luDecompositions += 1
    // Along the sparsity pattern while the Jacobian is the analytic one (zero outside it)
    // and the pivots in the fixed order are large enough; else dense with partial pivoting.
    var factors = jacobianOnPattern ? sparse : nil
    if let sp = factors {
      for e in 0..<sp.entryCount {
        let p = sp.entryAt[e], i = sp.entryRow[e], j = sp.entryColumn[e]
        lu[p] = -jac[p] * scale[j] * (1 / scale[i]) + (i == j ? inv : 0)
      }
      if !sp.factor(lu) { factors = nil; stats.sparseFallbacks += 1 }
    }
    if factors == nil {
      for i in 0..<n {
        let ri = 1 / scale[i]
        for j in 0..<n { lu[i * n + j] = -jac[i * n + j] * scale[j] * ri }
        lu[i * n + i] += inv
      }
      guard luFactor(lu, n, piv) else { return .nan }
    }
    func linsolve(_ x: UnsafeMutablePointer<Double>) {
      for i in 0..<n { x[i] /= scale[i] }
      if let sp = factors { sp.solve(lu, x) } else { luSolve(lu, n, piv, x) }
      for i in 0..<n { x[i] *= scale[i] }
      stats.linearSolves += 1
    }
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
      denseIsRodas = true; denseT0 = t; denseH = h
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
