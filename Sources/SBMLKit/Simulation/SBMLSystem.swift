import Foundation
import ODEKit
import SBMLDocument

/// Scratch memory for evaluating a compiled SBML model: the value array (time, every
/// symbol, temporaries). One per simulation; not shared between threads.
public final class SBMLWorkspace: @unchecked Sendable {
  public let values: UnsafeMutablePointer<Double>
  public let count: Int
  /// The point the values were last computed for by `evaluateCached`: time, validity flag
  /// (1 = valid), then the state.
  public let cache: UnsafeMutablePointer<Double>
  let stateCount: Int
  init(_ initial: [Double], states: Int) {
    count = initial.count
    stateCount = states
    values = .allocate(capacity: count)
    values.initialize(from: initial, count: count)
    cache = .allocate(capacity: states + 2)
    cache.initialize(repeating: 0, count: states + 2)
  }
  /// The history of a model with `delay(x, τ)`.
  public var delays: DelayHistory?
  deinit { values.deallocate(); cache.deallocate() }
}

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
  public mutating func compileNative(compiler: String? = nil) throws {
    guard delays.isEmpty else { throw NativeCode.Failure(description: "the model uses delay()") }
    guard unknownSlots.isEmpty else { throw NativeCode.Failure(description: "the model has algebraic rules") }
    native = try NativeCode.compile([main] + (jacobian.map { [$0.program] } ?? []), compiler: compiler)
  }

  public init(_ model: SBMLModel) throws {

    // Symbols and slots.
    var slots: [String: Int] = ["__time": 0, "__t0": 1]
    var names: [String] = ["__time", "__t0"]
    func add(_ id: String) -> Int {
      if let s = slots[id] { return s }
      slots[id] = names.count
      names.append(id)
      return names.count - 1
    }
    for c in model.compartments { _ = add(c.id) }
    for s in model.species { _ = add(s.id) }
    for p in model.parameters { _ = add(p.id) }
    for r in model.reactions {
      _ = add(r.id)
      for sr in r.reactants + r.products { if let i = sr.id { _ = add(i) } }
      for (lp, _) in r.localParameters { _ = add("__local:\(r.id):\(lp)") }
    }
    var assignmentTargets: [String: Expr] = [:], rateTargets: [String: Expr] = [:]
    var algebraic: [Expr] = []
    for rule in model.rules {
      switch rule {
      case .assignment(let v, let e): assignmentTargets[v] = try e.inliningFunctions(model.functions)
      case .rate(let v, let e): rateTargets[v] = try e.inliningFunctions(model.functions)
      case .algebraic(let e): algebraic.append(try e.inliningFunctions(model.functions))
      }
    }
    // rateOf(x): the derivative of x, from its rate rule or its reactions.
    func derivative(of x: String, depth: Int) throws -> Expr {
      guard depth < 20 else { throw SBMLError(.unsupported, "rateOf nested too deeply") }
      if let r = rateTargets[x] { return try resolveRateOf(r, depth + 1) }
      if assignmentTargets[x] != nil { throw SBMLError(.unsupported, "rateOf of assignment-ruled '\(x)'") }
      guard let sp = model.species.first(where: { $0.id == x }), !sp.boundaryCondition, !sp.constant else { return .number(0) }
      var terms: [Expr] = []
      for r in model.reactions {
        guard r.kineticLaw != nil else { continue }
        for (k, sr) in (r.reactants + r.products).enumerated() where sr.species == x {
          // Stoichiometry math has no symbol of its own here: refuse rather than guess.
          if sr.stoichiometryMath != nil && sr.id == nil { throw SBMLError(.unsupported, "rateOf of '\(x)' with stoichiometryMath") }
          let st: Expr = sr.id.map { .symbol($0) } ?? .number(sr.stoichiometry ?? 1)
          let sign: Double = k < r.reactants.count ? -1 : 1
          terms.append(.apply(.times, [.number(sign), st, .symbol(r.id)]))
        }
      }
      var total: Expr = terms.isEmpty ? .number(0) : .apply(.plus, terms)
      if let cf = sp.conversionFactor ?? model.conversionFactor { total = .apply(.times, [total, .symbol(cf)]) }
      let zeroD = model.compartments.first { $0.id == sp.compartment }?.spatialDimensions == 0
      return sp.hasOnlySubstanceUnits || zeroD ? total : .apply(.divide, [total, .symbol(sp.compartment)])
    }
    func resolveRateOf(_ e: Expr, _ depth: Int = 0) throws -> Expr {
      switch e {
      case .rateOf(.symbol(let x)): return try derivative(of: x, depth: depth)
      case .rateOf: throw SBMLError(.unsupported, "rateOf of an expression")
      case .number, .symbol, .time, .avogadro: return e
      case .apply(let op, let args): return .apply(op, try args.map { try resolveRateOf($0, depth) })
      case .call(let f, let args): return .call(f, try args.map { try resolveRateOf($0, depth) })
      case .piecewise(let p, let o): return .piecewise(try p.map { try resolveRateOf($0, depth) }, try o.map { try resolveRateOf($0, depth) })
      case .delay(let a, let b):
        // Before the start the model was at rest: rates of change in the past are 0 there.
        guard a.usesRateOf else { return .delay(a, try resolveRateOf(b, depth)) }
        let started = Expr.apply(.geq, [.time, .symbol("__t0")])
        return .delay(.piecewise([try resolveRateOf(a, depth), started], try resolveRateOf(zeroingRateOf(a), depth)),
                      try resolveRateOf(b, depth))
      }
    }
    func zeroingRateOf(_ e: Expr) -> Expr {
      switch e {
      case .rateOf: return .number(0)
      case .number, .symbol, .time, .avogadro: return e
      case .apply(let op, let args): return .apply(op, args.map(zeroingRateOf))
      case .call(let f, let args): return .call(f, args.map(zeroingRateOf))
      case .piecewise(let p, let o): return .piecewise(p.map(zeroingRateOf), o.map(zeroingRateOf))
      case .delay(let a, let b): return .delay(zeroingRateOf(a), zeroingRateOf(b))
      }
    }
    func prep(_ e: Expr) throws -> Expr {
      let i = try e.inliningFunctions(model.functions)
      return i.usesRateOf ? try resolveRateOf(i) : i
    }
    for (k, e) in assignmentTargets where e.usesRateOf { assignmentTargets[k] = try resolveRateOf(e) }
    for (k, e) in rateTargets where e.usesRateOf { rateTargets[k] = try resolveRateOf(e) }
    algebraic = try algebraic.map { $0.usesRateOf ? try resolveRateOf($0) : $0 }
    for v in Array(assignmentTargets.keys) + Array(rateTargets.keys) where slots[v] == nil {
      throw SBMLError(.invalid, "rule for unknown symbol '\(v)'")
    }
    let speciesIndex = Dictionary(uniqueKeysWithValues: model.species.enumerated().map { ($1.id, $0) })
    let compartmentOf = Dictionary(uniqueKeysWithValues: model.species.map { ($0.id, $0.compartment) })
    for s in model.species where slots[s.compartment] == nil {
      throw SBMLError(.invalid, "species '\(s.id)' is in unknown compartment '\(s.compartment)'")
    }
    // Species in 0-dimensional compartments have no concentration: their symbols are amounts.
    var model = model
    let zeroD = Set(model.compartments.filter { $0.spatialDimensions == 0 }.map(\.id))
    for i in model.species.indices where zeroD.contains(model.species[i].compartment) { model.species[i].hasOnlySubstanceUnits = true }

    var compiler = Compiler(slots: slots, count: names.count, timeSlot: 0)
    // Species in reactions.
    var reactive = Set<String>()
    for r in model.reactions { for sr in r.reactants + r.products { reactive.insert(sr.species) } }

    // Algebraic rules: each determines one unknown that nothing else determines.
    let constantIDs = Set(model.compartments.filter(\.constant).map(\.id) + model.species.filter(\.constant).map(\.id)
                          + model.parameters.filter(\.constant).map(\.id))
    var unknowns: [String] = []
    for e in algebraic {
      let candidates = e.symbols.filter { id in
        slots[id] != nil && !constantIDs.contains(id) && assignmentTargets[id] == nil && rateTargets[id] == nil
          && !unknowns.contains(id)
          && !(reactive.contains(id) && !(model.species.first { $0.id == id }?.boundaryCondition ?? true))
      }.sorted()
      guard let x = candidates.first else { throw SBMLError(.unsupported, "algebraic rule without a free unknown") }
      unknowns.append(x)
    }

    // States.
    var states: [StateKind] = [], stateNames: [String] = [], stateOf: [String: Int] = [:]
    var conversions: [(symbolSlot: Int, amountSlot: Int, compartmentSlot: Int, id: String)] = []
    // A constant species keeps its amount: in a compartment that changes size, its
    // concentration follows, so it is an amount state that nothing changes.
    let varyingCompartments = Set(model.compartments.filter { !$0.constant }.map(\.id))
    for s in model.species where (!s.constant || (varyingCompartments.contains(s.compartment) && !s.hasOnlySubstanceUnits))
      && assignmentTargets[s.id] == nil && !unknowns.contains(s.id) {
      let sym = slots[s.id]!, comp = slots[s.compartment]!
      if rateTargets[s.id] != nil {
        stateOf[s.id] = states.count
        states.append(.symbol(slot: sym, derivativeSlot: nil))
      } else {
        let amountSlot = s.hasOnlySubstanceUnits ? sym : compiler.newSlot()
        if !s.hasOnlySubstanceUnits { conversions.append((sym, amountSlot, comp, s.id)) }
        stateOf[s.id] = states.count
        states.append(.amount(species: speciesIndex[s.id]!, amountSlot: amountSlot, symbolSlot: sym, compartmentSlot: comp,
                              onlySubstance: s.hasOnlySubstanceUnits))
      }
      stateNames.append(s.id)
    }
    var others: [String] = model.compartments.filter { !$0.constant }.map(\.id)
    others += model.parameters.filter { !$0.constant }.map(\.id)
    for r in model.reactions { for sr in r.reactants + r.products where !sr.constant && sr.stoichiometryMath == nil { if let i = sr.id { others.append(i) } } }
    for id in rateTargets.keys where !others.contains(id) && compartmentOf[id] == nil { others.append(id) }
    for id in others where assignmentTargets[id] == nil && stateOf[id] == nil && !unknowns.contains(id) {
      stateOf[id] = states.count
      states.append(.symbol(slot: slots[id]!, derivativeSlot: nil))
      stateNames.append(id)
    }
    for (id, _) in rateTargets where stateOf[id] == nil {
      throw SBMLError(.invalid, "rate rule for constant or assignment-ruled symbol '\(id)'")
    }

    // Dependency-ordered assignment phase: assignment rules, concentration conversions,
    // stoichiometry math and reaction rates (rules may read rates, rates read rules).
    struct Node { var target: Int; var expr: Expr?; var conversion: (Int, Int)?; var deps: Set<Int> }
    func deps(_ e: Expr) -> Set<Int> { Set(e.symbols.compactMap { slots[$0] }) }
    var nodes: [Node] = []
    for (v, e) in assignmentTargets.sorted(by: { $0.key < $1.key }) { nodes.append(Node(target: slots[v]!, expr: e, conversion: nil, deps: deps(e))) }
    for c in conversions { nodes.append(Node(target: c.symbolSlot, expr: nil, conversion: (c.amountSlot, c.compartmentSlot), deps: [c.compartmentSlot])) }
    // Stoichiometry math (L2) into per-reference slots.
    var stoichSlots: [[Int]] = []
    for r in model.reactions {
      var list: [Int] = []
      for sr in r.reactants + r.products {
        if let m = sr.stoichiometryMath {
          let slot = sr.id.flatMap { slots[$0] } ?? compiler.newSlot()
          let e = try prep(m)
          nodes.append(Node(target: slot, expr: e, conversion: nil, deps: deps(e)))
          list.append(slot)
        } else if let i = sr.id, let s = slots[i] {
          list.append(s)
          compiler.setInitial(s, sr.stoichiometry ?? .nan)
        } else {
          list.append(compiler.constant(sr.stoichiometry ?? 1))
        }
      }
      stoichSlots.append(list)
    }
    // Reaction rates (local parameters renamed to their own slots). A fast reaction is
    // approximated by the same law scaled by `fastReactionFactor` (quasi-steady state).
    for r in model.reactions {
      guard let law = r.kineticLaw else { continue }
      var map: [String: Expr] = [:]
      for (lp, value) in r.localParameters {
        let key = "__local:\(r.id):\(lp)"
        map[lp] = .symbol(key)
        compiler.setInitial(slots[key]!, value)
      }
      let scaled = r.fast ? Expr.apply(.times, [.number(CompiledSBML.fastReactionFactor), law]) : law
      let e = try prep(scaled).substituting(map)
      nodes.append(Node(target: slots[r.id]!, expr: e, conversion: nil, deps: deps(e)))
    }
    let ordered = try CompiledSBML.topologicalOrder(nodes.map { ($0.target, $0.deps) }, names: names)
    for k in ordered {
      let n = nodes[k]
      if let e = n.expr {
        try compiler.assign(e, to: n.target)
      } else if let (a, c) = n.conversion {
        let d = compiler.emit(.div, a, c)
        compiler.program.instructions.append(.init(code: .copy, dst: Int32(n.target), a: Int32(d), b: 0, c: 0))
      }
    }
    let assignEnd = compiler.program.instructions.count
    // Rate rules.
    for (id, e) in rateTargets.sorted(by: { $0.key < $1.key }) {
      let d = try compiler.compile(e)
      if case .symbol(let slot, _) = states[stateOf[id]!] { states[stateOf[id]!] = .symbol(slot: slot, derivativeSlot: d) }
    }
    // Fluxes.
    var fluxes: [Flux] = []
    for (ri, r) in model.reactions.enumerated() where r.kineticLaw != nil {
      for (k, sr) in (r.reactants + r.products).enumerated() {
        guard let st = stateOf[sr.species], case .amount = states[st] else { continue }
        let sp = model.species[speciesIndex[sr.species]!]
        if sp.boundaryCondition || sp.constant { continue }
        let cf = (sp.conversionFactor ?? model.conversionFactor).flatMap { slots[$0] }
        fluxes.append(Flux(state: st, rateSlot: slots[r.id]!, stoichiometrySlot: stoichSlots[ri][k],
                           sign: k < r.reactants.count ? -1 : 1, conversionSlot: cf))
      }
    }
    self.main = compiler.program
    self.assign = Program(instructions: Array(compiler.program.instructions[..<assignEnd]))
    self.rates = Program(instructions: Array(compiler.program.instructions[assignEnd...]))
    // Algebraic residuals.
    var rc = compiler
    rc.startProgram()
    var residuals: [Int] = []
    for e in algebraic { residuals.append(try rc.compile(try prep(e))) }
    compiler = Compiler(adopting: rc, keepingProgram: compiler.program)
    self.residualProgram = rc.program
    self.residualSlots = residuals
    self.unknownSlots = unknowns.map { slots[$0]! }

    // Events.
    var events: [EventSpec] = []
    var watchedAtoms: [Expr] = []
    let reactionIDs = Set(model.reactions.map(\.id))
    for ev in model.events {
      var c = compiler
      c.startProgram()
      let trigger = try prep(ev.trigger)
      let trig = try c.compile(trigger)
      var atoms: [Expr] = []
      func collect(_ e: Expr) {
        guard case .apply(let op, let args) = e else { return }
        switch op {
        case .and, .or, .xor, .not, .implies: args.forEach(collect)
        case .gt, .geq, .lt, .leq: if args.count == 2 { atoms.append(.apply(.minus, [args[0], args[1]])) }
        default: break
        }
      }
      if case .apply(let op, _) = trigger, [.and, .or, .xor, .not, .implies].contains(op) { collect(trigger) }
      // Only comparisons that change between events need watching (time, ODE states, rules,
      // rates), and each once.
      atoms = atoms.filter { a in
        guard !watchedAtoms.contains(a) else { return false }
        let continuous = a.usesTime || a.symbols.contains { id in
          rateTargets[id] != nil || assignmentTargets[id] != nil || reactionIDs.contains(id) || unknowns.contains(id)
            || (reactive.contains(id) && !(model.species.first { $0.id == id }?.boundaryCondition ?? true))
        }
        if continuous { watchedAtoms.append(a) }
        return continuous
      }
      let watch = try atoms.map { try c.compile($0) }
      var assigns: [(String, Int)] = []
      for (v, e) in ev.assignments {
        guard slots[v] != nil else { throw SBMLError(.invalid, "event '\(ev.id)' assigns unknown symbol '\(v)'") }
        guard stateOf[v] != nil else { throw SBMLError(.invalid, "event '\(ev.id)' assigns '\(v)', which is constant or set by a rule") }
        assigns.append((v, try c.compile(try prep(e))))
      }
      let delay = try ev.delay.map { try c.compile(try prep($0)) }
      let priority = try ev.priority.map { try c.compile(try prep($0)) }
      compiler = Compiler(adopting: c, keepingProgram: compiler.program)
      events.append(EventSpec(id: ev.id, triggerSlot: trig, delaySlot: delay, prioritySlot: priority, persistent: ev.persistent,
                              useValuesFromTriggerTime: ev.useValuesFromTriggerTime, initialValue: ev.initialValue,
                              assignments: assigns, program: c.program, watchSlots: watch,
                              conditionProgram: nil, triggerTimeSlot: nil))
    }

    // Initial values: attributes, then initial assignments and rules in dependency order.
    var ic = compiler
    ic.startProgram()
    var initNodes: [(target: Int, expr: Expr)] = []
    var defined = Set<String>()
    for (sym, e) in model.initialAssignments {
      guard slots[sym] != nil else { throw SBMLError(.invalid, "initialAssignment to unknown symbol '\(sym)'") }
      initNodes.append((slots[sym]!, try prep(e)))
      defined.insert(sym)
    }
    for (v, e) in assignmentTargets { initNodes.append((slots[v]!, e)); defined.insert(v) }
    for r in model.reactions {
      guard let law = r.kineticLaw else { continue }
      let map = Dictionary(uniqueKeysWithValues: r.localParameters.keys.map { ($0, Expr.symbol("__local:\(r.id):\($0)")) })
      initNodes.append((slots[r.id]!, try prep(law).substituting(map)))
    }
    for c in model.compartments where !defined.contains(c.id) { ic.setInitial(slots[c.id]!, c.size ?? .nan) }
    for p in model.parameters where !defined.contains(p.id) { ic.setInitial(slots[p.id]!, p.value ?? .nan) }
    for s in model.species where !defined.contains(s.id) {
      let comp = Expr.symbol(s.compartment)
      let e: Expr
      if let a = s.initialAmount {
        e = s.hasOnlySubstanceUnits ? .number(a) : .apply(.divide, [.number(a), comp])
      } else if let c = s.initialConcentration {
        e = s.hasOnlySubstanceUnits ? .apply(.times, [.number(c), comp]) : .number(c)
      } else { e = .number(.nan) }
      initNodes.append((slots[s.id]!, e))
    }
    let initOrder = try CompiledSBML.topologicalOrder(initNodes.map { ($0.target, deps($0.expr)) }, names: names)
    for k in initOrder { try ic.assign(initNodes[k].expr, to: initNodes[k].target) }
    // Known trigger times, computed once the parameters are initialized.
    let constantParameters = Set(model.parameters.filter(\.constant).map(\.id)).subtracting(stateOf.keys)
    for (i, ev) in model.events.enumerated() {
      if let c = CompiledSBML.triggerTime(ev.trigger, constants: constantParameters) {
        // A slot of its own (the expression's may be a symbol's, which states overwrite).
        let value = try ic.compile(try prep(c)), slot = ic.newSlot()
        ic.program.instructions.append(.init(code: .copy, dst: Int32(slot), a: Int32(value), b: 0, c: 0))
        events[i].triggerTimeSlot = slot
      }
    }
    self.initProgram = ic.program
    // Delayed expressions (compiling one may add nested delays).
    var dc = ic
    var delays: [DelaySpec] = []
    var k = 0
    while k < dc.delays.count {
      let (x, tau) = dc.delays[k]
      dc.startProgram()
      let r = try dc.compile(x)
      let now = dc.program
      let needed = now.inputs.union([r])
      let past = Program(instructions: compiler.program.slice(for: needed).instructions + now.instructions)
      let before = Program(instructions: ic.program.slice(for: needed).instructions + now.instructions)
      var tauSlot: Int? = nil
      switch tau {
      case .number(let x) where x > 0: tauSlot = dc.constant(x)
      case .symbol(let p) where constantIDs.contains(p) && assignmentTargets[p] == nil: tauSlot = slots[p]
      default: break
      }
      delays.append(DelaySpec(past: past, before: before, now: now, slot: r, constantTauSlot: tauSlot))
      k += 1
    }
    self.delays = delays
    self.fastReactionIDs = model.reactions.filter(\.fast).map(\.id)
    self.loadSlots = states.map { s in
      switch s { case .amount(_, let a, _, _, _): return a; case .symbol(let slot, _): return slot }
    }
    self.derivativeSlots = states.map { s in
      if case .symbol(_, let d?) = s { return d }
      return -1
    }
    if delays.isEmpty && unknowns.isEmpty,
       let (invariant, rest) = main.hoistingInvariants(varying: Set(loadSlots + [timeSlot])) {
      self.invariant = invariant
      self.main = rest
    }
    // Triggers alone, from the evaluation as it runs.
    if unknowns.isEmpty {
      for i in events.indices { events[i].conditionProgram = Self.conditionProgram(events[i].triggerSlot, event: events[i].program, main: main) }
    }
    if delays.isEmpty && unknowns.isEmpty {
      self.jacobian = JacobianProgram.build(main: main, loadSlots: loadSlots, derivativeSlots: derivativeSlots,
                                            fluxes: fluxes, compiler: &dc)
      self.sparsity = jacobian.flatMap { SparseLU(n: states.count, pattern: $0.entries.map(\.index)) }
      // Time read by the rates, or a rate rule or flux factor that is time itself.
      let direct = derivativeSlots + fluxes.flatMap { [$0.rateSlot, $0.stoichiometrySlot] + ($0.conversionSlot.map { [$0] } ?? []) }
      self.isAutonomous = !compiler.program.inputs.contains(0) && !direct.contains(0)
    }
    self.model = model
    self.slots = slots
    self.initial = dc.initial
    self.finalCompiler = dc
    // Before initialState(at:) runs (which runs it again after the initial program), the
    // invariant part from the initial values.
    initial.withUnsafeMutableBufferPointer { invariant.run($0.baseAddress!) }
    self.states = states
    self.stateNames = stateNames
    self.stateOfSymbol = stateOf
    self.fluxes = fluxes
    self.events = events
    self.speciesByID = Dictionary(model.species.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
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

  /// Kahn's algorithm over nodes `(target, dependencies)`; a node depends on another when it
  /// reads that node's target. Cycles are refused.
  static func topologicalOrder(_ nodes: [(target: Int, deps: Set<Int>)], names: [String]) throws -> [Int] {
    var producer: [Int: Int] = [:]
    for (i, n) in nodes.enumerated() { producer[n.target] = i }
    var indegree = Array(repeating: 0, count: nodes.count)
    var users = Array(repeating: [Int](), count: nodes.count)
    for (i, n) in nodes.enumerated() {
      for d in n.deps where d != n.target {
        if let p = producer[d] { indegree[i] += 1; users[p].append(i) }
      }
    }
    var ready = (0..<nodes.count).filter { indegree[$0] == 0 }
    var order: [Int] = []
    while !ready.isEmpty {
      let i = ready.removeFirst()
      order.append(i)
      for u in users[i] { indegree[u] -= 1; if indegree[u] == 0 { ready.append(u) } }
    }
    guard order.count == nodes.count else {
      let cyc = (0..<nodes.count).filter { !order.contains($0) }.map { names.indices.contains(nodes[$0].target) ? names[nodes[$0].target] : "?" }
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
