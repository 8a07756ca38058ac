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
/// - Complexity: DP5 costs 6 RHS evaluations per accepted step (FSAL); Rodas4 and Rodas4P2 cost 6
///   RHS evaluations, one Jacobian (analytic, or `n` RHS evaluations by forward
///   differences), one LU (`n³/3`) and 6 triangular solves per step.
@inlinable
public func solve<S: ODESystem>(
  _ problem: ODEProblem<S>, method: ODEMethod = .auto, options: SolverOptions = SolverOptions()
) -> ODESolution {
  let integrator = _Integrator(problem: problem, method: method, options: options)
  return integrator.run()
}

/// Which interpolant the dense output holds.
@usableFromInline
enum _DenseKind { case dp5, rodas, bdf, dop853 }

@usableFromInline
final class _Integrator<S: ODESystem> {
  @usableFromInline let sys: S
  @usableFromInline let n: Int
  /// The components in the error norms (``SolverOptions/errorControlled``).
  @usableFromInline let controlled: Int
  @usableFromInline let problem: ODEProblem<S>
  @usableFromInline let requested: ODEMethod
  @usableFromInline let opts: SolverOptions
  @usableFromInline var stiff: Bool
  /// Whether the explicit steps are DOP853's (else DP5's).
  @usableFromInline let eighthOrder: Bool
  /// The Rosenbrock method's tableau: Rodas4 for `.rodas4`, Rodas4P2 for `.rodas4p2` and in
  /// `auto`'s stiff phases.
  @usableFromInline let rosenbrock: RosenbrockTableau
  @usableFromInline var stats = SolverStats()

  @usableFromInline var t: Double
  @usableFromInline var h: Double = 0
  /// log of the last accepted step's error (at least ``StepControl/logErrFloor``; 0 at a start).
  @usableFromInline var logErrOld: Double = 0
  @usableFromInline var fsalValid = false
  /// Set when events at one time exceeded the cascade limit; the run ends with `.eventCascade`.
  @usableFromInline var eventCascade = false
  @usableFromInline var stiffCount = 0, nonstiffCount = 0, backCount = 0

  // Work storage (n each, unless noted).
  @usableFromInline let storage: UnsafeMutablePointer<Double>
  /// The state at `t` and the step's result; an accepted step swaps them (no copy).
  @usableFromInline var u, uNew: UnsafeMutablePointer<Double>
  @usableFromInline let tmp, atol, rate, scale: UnsafeMutablePointer<Double>
  /// 1/`scale` at the last factorisation, so that the solves multiply.
  @usableFromInline let inverseScale: UnsafeMutablePointer<Double>
  /// ``SolverOptions/nonNegative``, read once.
  @usableFromInline let nonNegative: [Int]
  /// 7 stage vectors (DOP853: 16); the first-same-as-last reuse swaps two of them.
  @usableFromInline var k: [UnsafeMutablePointer<Double>]
  @usableFromInline let dense: UnsafeMutablePointer<Double>  // 5n (DOP853: 8n)
  @usableFromInline let jac, lu: UnsafeMutablePointer<Double>  // n*n
  @usableFromInline let piv: UnsafeMutablePointer<Int>
  /// The system's sparse factorisation plan, used while its Jacobian is the analytic one.
  @usableFromInline let sparse: SparseLU?
  /// Whether `jac` holds the analytic Jacobian (zero outside the sparsity pattern).
  @usableFromInline var jacobianOnPattern = false
  /// The columns of `jac` an analytic Jacobian writes: all, or the first block column of a
  /// block layout (``ODESystem/blockLayout``).
  @usableFromInline let jacobianColumns: Int
  /// How `lu` holds the iteration matrix's factors: the first diagonal block (the others
  /// equal it; after it, the packed first block column and the block solve's scratch), along the sparsity pattern,
  /// or (both nil) dense.
  @usableFromInline var linearBlocks: (size: Int, count: Int)?
  @usableFromInline var linearSparse: SparseLU?
  @usableFromInline var denseT0 = 0.0, denseH = 0.0, denseKind = _DenseKind.dp5
  /// The dense output of DP5 and DOP853 (which costs three more stages) is formed at the
  /// first interpolation inside the step (while the step's stages are still there), not at
  /// every step. Interpolation happens only inside the step's acceptance, before the stages
  /// are reused.
  @usableFromInline var denseReady = true

  // BDF (``ODEMethod/bdf``): the differences and work rows (`Solve+BDF.swift`), allocated
  // only for that method, and the state of its step-size and order control.
  @usableFromInline let bdfStorage: UnsafeMutablePointer<Double>?
  @usableFromInline var bdfOrder = 1, bdfDenseOrder = 1, bdfEqualSteps = 0
  /// The step the differences are scaled to, and the factor for the next step.
  @usableFromInline var bdfH = 0.0, bdfNextFactor = 1.0
  /// The `c = h/α_k` of the factorised iteration matrix `I − cJ`.
  @usableFromInline var bdfFactorC = 0.0
  @usableFromInline var bdfHaveJacobian = false, bdfJacobianCurrent = false, bdfFactorised = false

  // Output.
  @usableFromInline var outT: [Double] = []
  @usableFromInline var outU: [Double] = []
  @usableFromInline var saveAt: [Double]
  @usableFromInline var nextOut = 0
  @usableFromInline var eventLog: [(time: Double, label: String)] = []

  // State events.
  /// Each state event's condition at `t` and at the end of the step being tested.
  @usableFromInline let gPrev, gNew: UnsafeMutablePointer<Double>
  /// ``ODEProblem/conditionScan``, read once.
  @usableFromInline let scan: StateEvent.Scan?
  /// Per state event, read once (the scan at every step must not copy the events):
  /// its condition and its direction.
  @usableFromInline let conditions: [(Double, UnsafeBufferPointer<Double>) -> Double]
  /// Each event's known trigger time (``StateEvent/exactTime``), NaN where it has none.
  @usableFromInline let exactTimes: [Double]
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
    controlled = min(n, max(1, options.errorControlled ?? n))
    self.requested = method
    self.opts = options
    self.stiff = method == .rodas4 || method == .rodas4p2 || (method == .auto && options.startStiff)
    rosenbrock = .of(method)
    eighthOrder = method == .dop853
    self.t = problem.tspan.start
    // One block for all the work vectors and matrices (one allocation per solve).
    let stageVectors = eighthOrder ? 16 : 7
    let denseRows = eighthOrder ? 8 : 5
    let total = (7 + stageVectors + denseRows) * n + 2 * n * n
    storage = .allocate(capacity: total)
    storage.initialize(repeating: 0, count: total)
    var next = storage
    func alloc(_ m: Int) -> UnsafeMutablePointer<Double> {
      defer { next += m }
      return next
    }
    u = alloc(n)
    uNew = alloc(n)
    tmp = alloc(n)
    atol = alloc(n)
    rate = alloc(n)
    scale = alloc(n)
    inverseScale = alloc(n)
    k = (0..<stageVectors).map { _ in alloc(n) }
    dense = alloc(denseRows * n)
    jac = alloc(n * n)
    lu = alloc(n * n)
    nonNegative = options.nonNegative
    sparse = problem.system.sparsity
    precondition(sparse.map { $0.n == n } ?? true, "the sparsity plan is for another dimension")
    precondition(problem.system.blockLayout.map { $0.size * $0.count == n } ?? true, "the block layout is for another dimension")
    jacobianColumns = problem.system.blockLayout.map { $0.count > 1 ? $0.size : n } ?? n
    piv = .allocate(capacity: n)
    piv.initialize(repeating: 0, count: n)
    if method == .bdf {
      let rows = UnsafeMutablePointer<Double>.allocate(capacity: 20 * n)
      rows.initialize(repeating: 0, count: 20 * n)
      bdfStorage = rows
    } else {
      bdfStorage = nil
    }
    for i in 0..<n {
      u[i] = problem.u0[i]
      atol[i] = options.atol.count == n ? options.atol[i] : (options.atol.first ?? 1e-10)
    }
    precondition(options.atol.count == 1 || options.atol.count == n, "atol needs one value or one per state")
    precondition(options.rtol > 0 && options.rtol.isFinite, "rtol must be positive")
    let (t0, t1) = problem.tspan
    saveAt = options.saveAt.isEmpty ? [t0, t1] : options.saveAt.filter { $0 >= t0 && $0 <= t1 }
    for i in 1..<max(saveAt.count, 1) { precondition(saveAt[i] >= saveAt[i - 1], "saveAt must be sorted") }
    let events = max(problem.stateEvents.count, 1)
    gPrev = .allocate(capacity: 2 * events)
    gPrev.initialize(repeating: 0, count: 2 * events)
    gNew = gPrev + events
    scan = problem.stateEvents.isEmpty ? nil : problem.conditionScan
    conditions = problem.stateEvents.map(\.condition)
    exactTimes = problem.stateEvents.map { $0.exactTime ?? .nan }
    directions = problem.stateEvents.map(\.direction)
    conditionIndices = problem.stateEvents.indices.filter { problem.stateEvents[$0].exactTime == nil }
    exactSorted = problem.stateEvents.indices.compactMap { i in problem.stateEvents[i].exactTime.map { ($0, i) } }
      .sorted { ($0.time, $0.index) < ($1.time, $1.index) }
    outT.reserveCapacity(saveAt.count)
    outU.reserveCapacity(saveAt.count * n)
  }

  deinit {
    storage.deallocate()
    piv.deallocate()
    gPrev.deallocate()
    bdfStorage?.deallocate()
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
      self.time = time
      self.kind = kind
      self.index = index
      self.order = order
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
    while di < discs.count && discs[di].time == t0 {
      apply(discs[di], doses)
      di += 1
    }
    if problem.stateEvents.contains(where: \.fireIfTrueAtStart) {
      let ub = UnsafeBufferPointer(start: u, count: n)
      var due: [Int] = []
      for (i, e) in problem.stateEvents.enumerated() where e.fireIfTrueAtStart && condition(i, t0, ub) >= 0 { due.append(i) }
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
        logErrOld = 0
        code = integrate(to: target)
        if code != .success { break }
      }
      // t is now `target`, or an earlier scheduled execution time.
      while di < discs.count && discs[di].time <= t {
        apply(discs[di], doses)
        di += 1
      }
      if runDuePending(at: t) == .terminate {
        code = .terminated
        break
      }
      resetStateEvents()
      recordOutputs(upTo: t)
      if t >= tEnd && di >= discs.count { break }
    }
    return finish(code)
  }

  @inlinable
  func finish(_ code: ReturnCode) -> ODESolution {
    ODESolution(
      t: outT, values: outU, dimension: n, returnCode: eventCascade ? .eventCascade : code, stats: stats, method: requested,
      finalTime: t, finalState: Array(UnsafeBufferPointer(start: u, count: n)), eventLog: eventLog)
  }
}
