import Foundation
import ODEKit
import SBMLDocument

/// An SBML model compiled for simulation: state layout, programs and events.
///
/// States are species amounts (for species changed by reactions or events) and the values
/// of every other non-constant symbol not set by an assignment rule (rate-rule targets and
/// symbols that only events change). Species symbols in math mean concentrations unless
/// `hasOnlySubstanceUnits`; assignment rules and these conversions run in dependency order
/// before reaction rates and rate rules.
public struct CompiledSBML: Sendable {
  package enum StateKind: Sendable {
    /// A species amount; `symbolSlot` = amount (hOSU) or amount / compartment.
    case amount(species: Int, amountSlot: Int, symbolSlot: Int, compartmentSlot: Int, onlySubstance: Bool)
    /// The value of a symbol itself; `derivativeSlot` is its rate rule (or nil: constant between events).
    case symbol(slot: Int, derivativeSlot: Int?)
  }
  package struct Flux: Sendable {
    package var state: Int
    package var rateSlot: Int
    package var stoichiometrySlot: Int
    package var sign: Double
    package var conversionSlot: Int?
  }
  package struct EventSpec: Sendable {
    package var id: String
    package var triggerSlot: Int
    package var delaySlot: Int?
    package var prioritySlot: Int?
    package var persistent: Bool
    package var useValuesFromTriggerTime: Bool
    package var initialValue: Bool
    package var assignments: [(target: String, valueSlot: Int)]
    package var program: Program
    /// For a trigger combining comparisons with and/or/not: each comparison's `a − b`,
    /// watched for sign changes so that a trigger true only briefly is still seen.
    package var watchSlots: [Int] = []
    /// Each comparison of the trigger (the trigger itself if it is one) as `a − b`: its
    /// zero is where the trigger can switch, and its derivatives give the trigger time's
    /// derivatives by the implicit function theorem (for sensitivities through events).
    package var rootSlots: [Int] = []
    /// The trigger alone from the states: the part of `main` it reads, then its own
    /// instructions (nil with algebraic rules, whose unknowns need the full evaluation).
    package var conditionProgram: Program?
    /// For a trigger `time ≥ c` (or `c ≤ time`, `time == c`) whose `c` is made of numbers
    /// and constant parameters: the slot holding `c` after the initial program.
    package var triggerTimeSlot: Int?
  }

  public let model: SBMLModel
  package var slots: [String: Int]
  package var initial: [Double]
  package var states: [StateKind] = []
  public var stateNames: [String] = []
  package var stateOfSymbol: [String: Int] = [:]
  /// Assignment rules, concentration conversions, reaction rates, rate rules, in order.
  @usableFromInline package var main = Program()
  /// Initial assignments and rules at t0.
  package var initProgram = Program()
  /// The instructions of the evaluation that read no state and no time (rules and rate
  /// factors made of parameters, such as allometric scalings): they run once, after the
  /// initial program, and `main` no longer has them.
  package var invariant = Program()
  /// `main` split into the assignment phase and the rates phase (algebraic rules are
  /// solved between them).
  @usableFromInline package var assign = Program()
  @usableFromInline package var rates = Program()
  package var residualProgram = Program()
  package var residualSlots: [Int] = []
  @usableFromInline package var unknownSlots: [Int] = []
  /// Scale of a fast reaction's rate relative to its kinetic law.
  public static let fastReactionFactor = 1e8
  package var fluxes: [Flux] = []
  package var events: [EventSpec] = []
  /// The triggers of all events at once (``SBMLSystem/conditionScan()``): the part of
  /// `main` they read, then each event's own instructions. Nil where an event has no
  /// ``EventSpec/conditionProgram``.
  package var conditionScan: Program?
  /// The index of `conditionScan` among the ``NativeCode/functions``, once compiled.
  package private(set) var nativeConditionScan: Int?
  /// Per state: the slot its value is loaded into, and its rate-rule slot (−1: none).
  @usableFromInline package var loadSlots: [Int] = []
  package var derivativeSlots: [Int] = []
  /// Species by id (after 0-D compartments made their species amounts).
  package var speciesByID: [String: SBMLModel.Species] = [:]
  package let timeSlot = 0
  /// Holds the start time of the run.
  package let startSlot = 1
  /// `delay(x, τ)` uses: x's program on a value array at time t − τ after the history's
  /// state is loaded (`past`: the slice of `main` it needs; `before`: the slice of the
  /// initial program, for t − τ before the start) or on the current values (`now`, τ ≤ 0);
  /// its result slot; and τ's slot if τ is constant.
  package struct DelaySpec: Sendable {
    package var past: Program
    package var before: Program
    package var now: Program
    package var slot: Int
    package var constantTauSlot: Int?
  }
  package var delays: [DelaySpec] = []
  /// The Jacobian of `main` (nil with delays, algebraic rules or math it cannot
  /// differentiate: the solver then uses finite differences).
  package var jacobian: JacobianProgram?
  /// How the stiff solver factorises along the Jacobian's pattern (nil: dense LU).
  package private(set) var sparsity: SparseLU?
  /// Whether the rates between events read no time (the solver then skips `∂f/∂t`).
  package var isAutonomous = false
  /// The compiler as the last program left it (slots, constants), for programs added later
  /// (``sensitivityProgram(parameterSlots:)``).
  var finalCompiler: Compiler?
  /// `main` and the Jacobian program as machine code, once ``compileNative(compiler:)``
  /// has run: bit for bit the interpreter's results, several times faster.
  package private(set) var native: NativeCode?
  /// Whether any reaction is fast (equilibrated at the start).
  public var hasFastReactions: Bool { !fastReactionIDs.isEmpty }
  var fastReactionIDs: [String] = []

  /// Compiles `main` and the Jacobian program to machine code with the system C compiler
  /// (see ``NativeCode``). Throws, leaving the interpreter in use, for models with delays or
  /// algebraic rules or when no compiler works.
  ///
  /// With `lanes` > 1 it also compiles the right-hand side of that many patients at once
  /// (``NativeCode/rhsLanes``), for ``SBMLPopulationModel/simulate(batch:options:)``.
  public mutating func compileNative(compiler: String? = nil, lanes: Int = 1) throws {
    guard delays.isEmpty else { throw NativeCode.Failure(description: "the model uses delay()") }
    guard unknownSlots.isEmpty else { throw NativeCode.Failure(description: "the model has algebraic rules") }
    let rhs = NativeCode.RightHandSide(
      loadSlots: loadSlots, derivativeSlots: derivativeSlots,
      terms: fluxes.map {
        .init(state: $0.state, rate: $0.rateSlot, stoichiometry: $0.stoichiometrySlot, sign: $0.sign, conversion: $0.conversionSlot)
      })
    let programs = [main] + (jacobian.map { [$0.program] } ?? [])
    native = try NativeCode.compile(programs + (conditionScan.map { [$0] } ?? []), rhs: rhs, lanes: lanes, compiler: compiler)
    nativeConditionScan = conditionScan == nil ? nil : programs.count
  }

  /// Compiles `model`, in the phases of ``CompileContext`` (the order numbers the slots).
  public init(_ model: SBMLModel) throws {
    var c = try CompileContext(model)
    try c.findUnknowns()
    try c.collectStates()
    let r = try c.compileRates()
    self.main = r.main
    self.assign = r.assign
    self.rates = r.rates
    self.residualProgram = r.residualProgram
    self.residualSlots = r.residualSlots
    self.unknownSlots = c.unknowns.map { c.slot($0) }
    var events = try c.compileEvents()
    let ic = try c.compileInitialValues(events: &events)
    self.initProgram = ic.program
    var (delays, dc) = try c.compileDelays(initial: ic)
    self.delays = delays
    let states = c.states, fluxes = r.fluxes
    self.fastReactionIDs = c.model.reactions.filter(\.fast).map(\.id)
    self.loadSlots = states.map { s in
      switch s {
      case .amount(_, let a, _, _, _): return a
      case .symbol(let slot, _): return slot
      }
    }
    self.derivativeSlots = states.map { s in
      if case .symbol(_, let d?) = s { return d }
      return -1
    }
    if delays.isEmpty && c.unknowns.isEmpty,
      let (invariant, rest) = main.hoistingInvariants(varying: Set(loadSlots + [timeSlot]))
    {
      self.invariant = invariant
      self.main = rest
    }
    // Triggers alone, from the evaluation as it runs.
    if c.unknowns.isEmpty {
      for i in events.indices {
        events[i].conditionProgram = Self.conditionProgram(events[i].triggerSlot, event: events[i].program, main: main)
      }
      conditionScan = Self.conditionScan(events, main: main)
    }
    if delays.isEmpty && c.unknowns.isEmpty {
      self.jacobian = JacobianProgram.build(
        main: main, loadSlots: loadSlots, derivativeSlots: derivativeSlots,
        fluxes: fluxes, compiler: &dc)
      self.sparsity = jacobian.flatMap { SparseLU(n: states.count, pattern: $0.entries.map(\.index)) }
      // Time read by the rates, or a rate rule or flux factor that is time itself.
      let direct = derivativeSlots + fluxes.flatMap { [$0.rateSlot, $0.stoichiometrySlot] + ($0.conversionSlot.map { [$0] } ?? []) }
      self.isAutonomous = !c.compiler.program.inputs.contains(0) && !direct.contains(0)
    }
    self.model = c.model
    self.slots = c.slots
    self.initial = dc.initial
    self.finalCompiler = dc
    // Before initialState(at:) runs (which runs it again after the initial program), the
    // invariant part from the initial values.
    initial.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      invariant.run(base)
    }
    self.states = states
    self.stateNames = c.stateNames
    self.stateOfSymbol = c.stateOf
    self.fluxes = fluxes
    self.events = events
    self.speciesByID = Dictionary(c.model.species.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
  }

  /// `c` of a trigger `time ≥ c`, `c ≤ time` or `time == c` (true at one instant: the
  /// solver lands there, and after it `time ≥ c` never fires again) when `c` is made of
  /// numbers and `constants` with + and −.
  static func triggerTime(_ trigger: Expr, constants: Set<String>) -> Expr? {
    func isConstant(_ x: Expr) -> Bool {
      switch x {
      case .number: return true
      case .symbol(let s): return constants.contains(s)
      case .apply(.minus, let a) where a.count == 2: return isConstant(a[0]) && isConstant(a[1])
      case .apply(.plus, let a) where a.count == 2: return isConstant(a[0]) && isConstant(a[1])
      default: return false
      }
    }
    switch trigger {
    case .apply(.geq, let a) where a.count == 2 && a[0] == .time && isConstant(a[1]): return a[1]
    case .apply(.leq, let a) where a.count == 2 && a[1] == .time && isConstant(a[0]): return a[0]
    case .apply(.eq, let a) where a.count == 2 && a[0] == .time && isConstant(a[1]): return a[1]
    case .apply(.eq, let a) where a.count == 2 && a[1] == .time && isConstant(a[0]): return a[0]
    default: return nil
    }
  }

  /// The instructions computing `trigger` from the states: the slice of `main` it needs,
  /// then the slice of the event's program.
  /// Nil if the slice has a `delay` (whose current value may need the rest of `main`).
  static func conditionProgram(_ trigger: Int, event: Program, main: Program) -> Program? {
    let own = event.slice(for: [trigger])
    let before = main.slice(for: own.inputs.union([trigger]))
    let program = Program(instructions: before.instructions + own.instructions)
    return program.instructions.contains { $0.code == .delay } ? nil : program
  }

  /// The instructions computing every event's trigger from the states: the slice of `main`
  /// they need, then each event's own slice. Nil without events, or if an event has no
  /// condition program.
  static func conditionScan(_ events: [EventSpec], main: Program) -> Program? {
    guard !events.isEmpty, events.allSatisfy({ $0.conditionProgram != nil }) else { return nil }
    let own = events.map { $0.program.slice(for: [$0.triggerSlot]) }
    let needed = own.reduce(into: Set(events.map(\.triggerSlot))) { $0.formUnion($1.inputs) }
    return Program(instructions: main.slice(for: needed).instructions + own.flatMap(\.instructions))
  }

  /// Kahn's algorithm over nodes `(target, dependencies)`; a node depends on another when it
  /// reads that node's target. Cycles are refused.
  static func topologicalOrder(_ nodes: [(target: Int, deps: Set<Int>)], names: [String]) throws -> [Int] {
    var producer: [Int: Int] = [:]
    for (i, n) in nodes.enumerated() { producer[n.target] = i }
    var indegree = Array(repeating: 0, count: nodes.count)
    var users = Array(repeating: [Int](), count: nodes.count)
    for (i, n) in nodes.enumerated() {
      for d in n.deps where d != n.target {
        if let p = producer[d] {
          indegree[i] += 1
          users[p].append(i)
        }
      }
    }
    var ready = (0..<nodes.count).filter { indegree[$0] == 0 }
    var order: [Int] = []
    while !ready.isEmpty {
      let i = ready.removeFirst()
      order.append(i)
      for u in users[i] {
        indegree[u] -= 1
        if indegree[u] == 0 { ready.append(u) }
      }
    }
    guard order.count == nodes.count else {
      let cyc = (0..<nodes.count).filter { !order.contains($0) }.map {
        names.indices.contains(nodes[$0].target) ? names[nodes[$0].target] : "?"
      }
      throw SBMLError(.unsupported, "rules form a cycle (algebraic loop) through \(cyc.joined(separator: ", "))")
    }
    return order
  }
}

extension Compiler {
  mutating func setInitial(_ slot: Int, _ value: Double) { initialValue(slot, value) }
  /// A compiler continuing from `other`'s slots and constants, with `program` as its program.
  init(adopting other: Compiler, keepingProgram program: Program) {
    self = other
    self.program = program
  }
}
