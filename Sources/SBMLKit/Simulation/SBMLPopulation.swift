import Foundation
import ODEKit
import SBMLDocument

/// One compiled SBML model run many times with different parameter values (a virtual
/// population): compile once, then per run only set the parameters, re-run the initial
/// assignments (which may depend on them) and reset the state.
///
/// The parameters that can be set are the *settable* global parameters: constant, and set by
/// no initial assignment, assignment rule, rate rule or algebraic rule (what libRoadRunner
/// lets you set and what changes a run). A run reports the value of every species (as its
/// symbol means in math: concentration unless `hasOnlySubstanceUnits`) and every rate-rule
/// parameter at the end time.
public struct SBMLPopulationModel: Sendable {
  public private(set) var compiled: CompiledSBML
  /// Settable parameters, in document order.
  public let parameterIDs: [String]
  /// Their values in the model.
  public let baseValues: [Double]
  /// Reported symbols: every species, then every parameter with a rate rule.
  public let outputIDs: [String]
  let parameterSlots: [Int]
  let outputSlots: [Int]

  public init(_ compiled: CompiledSBML) {
    self.compiled = compiled
    let model = compiled.model
    var setByMath = Set(model.initialAssignments.map(\.symbol))
    var rateRuled = Set<String>()
    for rule in model.rules {
      switch rule {
      case .assignment(let v, _): setByMath.insert(v)
      case .rate(let v, _):
        setByMath.insert(v)
        rateRuled.insert(v)
      case .algebraic: break
      }
    }
    // Algebraic rules determine non-constant symbols only; their unknowns are excluded too.
    let unknowns = Set(compiled.unknownSlots)
    let settable = model.parameters.filter { p in
      p.constant && !setByMath.contains(p.id) && !unknowns.contains(compiled.slots[p.id]!)
    }
    parameterIDs = settable.map(\.id)
    parameterSlots = settable.map { compiled.slots[$0.id]! }
    baseValues = parameterSlots.map { compiled.initial[$0] }
    outputIDs = model.species.map(\.id) + model.parameters.filter { rateRuled.contains($0.id) }.map(\.id)
    outputSlots = outputIDs.map { compiled.slots[$0]! }
  }

  /// Compiles the model to machine code (see ``CompiledSBML/compileNative(compiler:lanes:)``),
  /// with the right-hand side of `lanes` patients at once for ``simulate(batch:options:)``.
  public mutating func compileNative(compiler: String? = nil, lanes: Int = 1) throws {
    try compiled.compileNative(compiler: compiler, lanes: lanes)
  }

  /// How each run is integrated: from `start` for `duration` with `steps + 1` evenly spaced
  /// output points (the solver interpolates its dense output at each of them).
  public struct Options: Sendable {
    public var start = 0.0
    public var duration: Double
    public var steps: Int
    public var rtol = 1e-6
    public var atol = 1e-12
    public var method = ODEMethod.auto
    /// Caps steps at the output interval, as ``SBMLSystem/simulate(start:duration:steps:variables:rtol:atol:method:interrupt:)``
    /// does (so that a trigger true only briefly between two outputs is still seen). Off,
    /// the step size is free, triggers are located on each step's dense output and the
    /// outputs are interpolated, as CVODE does.
    public var capSteps = false
    public init(duration: Double, steps: Int) {
      self.duration = duration
      self.steps = steps
    }
  }

  /// The end of one run: how the solver ended and, on success, the final value of each of
  /// ``outputIDs`` (empty on failure).
  public struct Outcome: Sendable {
    public var returnCode: ReturnCode
    public var finalValues: [Double]
    public var stats: SolverStats
  }

  /// Runs the model with `parameters` (one value per ``parameterIDs``, in that order).
  ///
  /// The solver produces every output point (interpolated on its dense output); see
  /// ``Options/capSteps`` for the step size.
  public func simulate(parameters: [Double], options o: Options) -> Outcome {
    precondition(parameters.count == parameterSlots.count, "one value per settable parameter")
    let sys = SBMLSystem(compiled)
    let u0 = sys.initialState(at: o.start, overrides: parameterSlots.indices.map { (parameterSlots[$0], parameters[$0]) })
    guard sys.dimension > 0 else {
      [Double]().withUnsafeBufferPointer { sys.evaluate(t: o.start + o.duration, u: $0) }
      return Outcome(returnCode: .success, finalValues: read(sys), stats: SolverStats())
    }
    return integrate(sys, from: o.start, u0, options: o)
  }

  /// The output times of a run.
  func outputTimes(_ o: Options) -> [Double] {
    let steps = max(o.steps, 1)
    return (0...steps).map { o.start + o.duration * Double($0) / Double(steps) }
  }

  /// Integrates `sys` (its workspace holding the patient's values) from (`t0`, `u0`) to the
  /// end of the run with `o.method`, producing the output points from `t0` on; `prior` is
  /// solver work already done for the patient.
  func integrate(
    _ sys: SBMLSystem, from t0: Double, _ u0: [Double], options o: Options, prior: SolverStats = SolverStats(), stiff: Bool = false
  ) -> Outcome {
    let end = o.start + o.duration
    var opts = SolverOptions(
      rtol: o.rtol, atol: [o.atol], saveAt: outputTimes(o).filter { $0 >= t0 },
      maxStep: o.capSteps ? o.duration / Double(max(o.steps, 1)) : .infinity)
    opts.startStiff = stiff
    let sol = solve(
      ODEProblem(system: sys, u0: u0, tspan: (t0, end), stateEvents: sys.stateEvents(), conditionScan: sys.conditionScan()),
      method: o.method, options: opts)
    var stats = prior
    stats.add(sol.stats)
    guard sol.returnCode.isSuccessful, let last = sol.t.last else {
      return Outcome(returnCode: sol.returnCode, finalValues: [], stats: stats)
    }
    Array(sol.state(sol.t.count - 1)).withUnsafeBufferPointer { sys.evaluate(t: last, u: $0) }
    return Outcome(returnCode: sol.returnCode, finalValues: read(sys), stats: stats)
  }

  /// The number of patients ``simulate(batch:options:)`` integrates together with `options`,
  /// or 1 where each is integrated alone: lanes need the machine code's right-hand side of
  /// several patients, `auto` or `dp5` (in lock-step, see
  /// ``solveBatch(_:u0:tspan:options:method:stops:jump:)``), and events, if any,
  /// at known times (`time ≥ c` with `c` from numbers and constant parameters) without delays
  /// or compound triggers, so that every patient's events happen at steps all lanes take.
  public func batchLanes(_ o: Options) -> Int {
    guard let native = compiled.native, native.rhsLanes != nil, o.method == .auto || o.method == .dp5,
      !compiled.hasFastReactions, !compiled.states.isEmpty,
      compiled.events.allSatisfy({ $0.triggerTimeSlot != nil && $0.delaySlot == nil && $0.watchSlots.isEmpty })
    else { return 1 }
    return native.lanes
  }

  /// Rosenbrock steps a batch takes in lock-step before its patients go on alone: none. Lanes
  /// that are stiff at different times make a lock-step Rosenbrock method take many more steps than each
  /// alone, and a shared stiff transient is rarer: on the immuno-oncology BioModels (4000
  /// patients, one thread) none against 100 gave BIOMD0000000763 33,000 patients/s against
  /// 25,800, BIOMD0000001019 over 300 days 9,800 against 7,500, BIOMD0000001020 7,100 against
  /// 7,200, and BIOMD0000000733 19,900 against 29,200 (measured with Rodas4, before `auto`'s
  /// stiff method became Rodas4P2).
  static let batchStiffSteps = 0

  /// Runs one patient per row of `parameters`, ``batchLanes(_:)`` of them together when there
  /// are exactly that many, else each alone with ``simulate(parameters:options:)``.
  ///
  /// Together, the patients take the same steps (each accepted only when every patient's
  /// error is within the tolerance), so each is integrated at least as accurately as alone,
  /// and its values depend on its batch within the tolerance. Under `auto`, where a patient
  /// turns stiff (after ``batchStiffSteps`` of Rodas4P2 in lock-step), or where the batch fails,
  /// each patient goes on alone from there with `options.method`, those that are stiff there
  /// starting with Rodas4P2, so one patient's stiffness or trouble is not another's. Patients whose
  /// events fall at different times (a trigger time set by a parameter that varies), or at
  /// the start, run alone from the start. Each outcome's statistics count the batch's steps
  /// and evaluations and its own after it.
  public func simulate(batch parameters: [[Double]], options o: Options) -> [Outcome] {
    let L = batchLanes(o)
    guard L > 1, parameters.count == L, let wide = compiled.native?.rhsLanes else {
      return parameters.map { simulate(parameters: $0, options: o) }
    }
    let sys = SBMLSystem(compiled)
    let n = sys.dimension, slots = sys.workspace.count
    let lanes = UnsafeMutablePointer<Double>.allocate(capacity: slots * L)
    defer { lanes.deallocate() }
    var u0 = [Double](repeating: 0, count: n * L)
    let v = sys.workspace.values
    var triggerTimes: [Double?] = []
    for (l, p) in parameters.enumerated() {
      precondition(p.count == parameterSlots.count, "one value per settable parameter")
      let start = sys.initialState(at: o.start, overrides: parameterSlots.indices.map { (parameterSlots[$0], p[$0]) })
      let times = compiled.events.map { sys.exactTriggerTime($0) }
      if l == 0 { triggerTimes = times }
      for s in 0..<slots { lanes[s * L + l] = v[s] }
      for i in 0..<n { u0[i * L + l] = start[i] }
      guard times == triggerTimes else { return parameters.map { simulate(parameters: $0, options: o) } }
    }
    // The events inside the run, in time order; one at a time, none at the start.
    let end = o.start + o.duration
    let due = triggerTimes.enumerated().compactMap { k, c in c.flatMap { $0 <= end ? (time: $0, event: k) : nil } }.sorted {
      $0.time < $1.time
    }
    guard due.allSatisfy({ $0.time > o.start }), Set(due.map(\.time)).count == due.count else {
      return parameters.map { simulate(parameters: $0, options: o) }
    }
    let events = due.isEmpty ? [] : sys.stateEvents()
    /// Lane `l`'s values into the scalar workspace: its parameters, and what the initial
    /// assignments and events made of them.
    func load(_ l: Int) {
      for s in 0..<slots { v[s] = lanes[s * L + l] }
      sys.workspace.cache[1] = 0
    }
    let opts = SolverOptions(
      rtol: o.rtol, atol: [o.atol], saveAt: outputTimes(o), maxStep: o.capSteps ? o.duration / Double(max(o.steps, 1)) : .infinity)
    let batch = SBMLBatchSystem(dimension: n, lanes: L, values: lanes, function: wide)
    let sol = solveBatch(
      batch, u0: u0, tspan: (o.start, end), options: opts, method: o.method, maxStiffSteps: Self.batchStiffSteps, stops: due.map(\.time)
    ) { k, t, u in
      // The event's assignments, lane by lane, on the scalar workspace; then its values
      // (assigned parameters included) and state back into the lanes.
      for l in 0..<L {
        load(l)
        var state = (0..<n).map { u[$0 * L + l] }
        _ = events[due[k].event].action(t, &state)
        for s in 0..<slots { lanes[s * L + l] = v[s] }
        for i in 0..<n { u[i * L + l] = state[i] }
      }
    }
    // An event whose trigger is true at the start of a run fires there unless its initial
    // value is true: going on alone after one has fired would fire it again.
    let resumable = due.allSatisfy { $0.time > sol.finalTime || compiled.events[$0.event].initialValue }
    return (0..<L).map { l in
      load(l)
      let state = (0..<n).map { sol.finalState[$0 * L + l] }
      if !sol.returnCode.isSuccessful {
        guard resumable else {
          var alone = simulate(parameters: parameters[l], options: o)
          alone.stats.add(sol.stats)
          return alone
        }
        return integrate(sys, from: sol.finalTime, state, options: o, prior: sol.stats, stiff: sol.stiffLanes[l])
      }
      state.withUnsafeBufferPointer { sys.evaluate(t: sol.finalTime, u: $0) }
      return Outcome(returnCode: .success, finalValues: read(sys), stats: sol.stats)
    }
  }

  private func read(_ sys: SBMLSystem) -> [Double] {
    let v = sys.workspace.values
    return outputSlots.map { v[$0] }
  }
}

/// The machine code's right-hand side of several patients (``NativeCode/rhsLanes``) on their
/// lane-minor value array. It has no Jacobian: populations end a batch where a patient turns
/// stiff (``SBMLPopulationModel/batchStiffSteps``), so the batch never takes Rodas4P2 steps.
struct SBMLBatchSystem: BatchODESystem {
  let dimension: Int
  let lanes: Int
  let values: UnsafeMutablePointer<Double>
  let function: NativeCode.RHS

  func rhs(t: Double, u: UnsafePointer<Double>, du: UnsafeMutablePointer<Double>) { function(values, u, du, t) }
}
