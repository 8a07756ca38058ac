import ODEKit
import SBMLDocument

/// The state of compiling one SBML model (``CompiledSBML/init(_:)``), shared by its phases in
/// the order they run: symbols and slots, rules (with `rateOf` resolved), algebraic unknowns,
/// states (``CompileContext+States.swift``), the assignment phase, rates and fluxes
/// (``CompileContext+Rates.swift``), events, initial values and delays
/// (``CompileContext+Events.swift``). Slots are numbered in that order, so the phases must
/// keep it.
struct CompileContext {
  /// The model, with species in 0-dimensional compartments made amounts.
  var model: SBMLModel
  /// Symbol → slot; `names` by slot.
  var slots: [String: Int]
  var names: [String]
  var assignmentTargets: [String: Expr] = [:], rateTargets: [String: Expr] = [:]
  var algebraic: [Expr] = []
  let speciesIndex: [String: Int]
  let compartmentOf: [String: String]
  var compiler: Compiler
  /// Species in reactions.
  let reactive: Set<String>
  /// Constant compartments, species and parameters.
  let constantIDs: Set<String>
  /// The symbol each algebraic rule determines.
  var unknowns: [String] = []
  typealias StateKind = CompiledSBML.StateKind
  var states: [StateKind] = [], stateNames: [String] = [], stateOf: [String: Int] = [:]
  /// Species whose symbol is a concentration of an amount state.
  var conversions: [(symbolSlot: Int, amountSlot: Int, compartmentSlot: Int, id: String)] = []

  /// Symbols and slots, and the rules with functions inlined and `rateOf` resolved.
  init(_ model: SBMLModel) throws {
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
    self.slots = slots
    self.names = names
    self.model = model
    speciesIndex = Dictionary(uniqueKeysWithValues: model.species.enumerated().map { ($1.id, $0) })
    compartmentOf = Dictionary(uniqueKeysWithValues: model.species.map { ($0.id, $0.compartment) })
    compiler = Compiler(slots: slots, count: names.count, timeSlot: 0)
    var reactive = Set<String>()
    for r in model.reactions { for sr in r.reactants + r.products { reactive.insert(sr.species) } }
    self.reactive = reactive
    constantIDs = Set(
      model.compartments.filter(\.constant).map(\.id) + model.species.filter(\.constant).map(\.id)
        + model.parameters.filter(\.constant).map(\.id))
    for rule in model.rules {
      switch rule {
      case .assignment(let v, let e): assignmentTargets[v] = try e.inliningFunctions(model.functions)
      case .rate(let v, let e): rateTargets[v] = try e.inliningFunctions(model.functions)
      case .algebraic(let e): algebraic.append(try e.inliningFunctions(model.functions))
      }
    }
    for (k, e) in assignmentTargets where e.usesRateOf { assignmentTargets[k] = try resolveRateOf(e) }
    for (k, e) in rateTargets where e.usesRateOf { rateTargets[k] = try resolveRateOf(e) }
    algebraic = try algebraic.map { $0.usesRateOf ? try resolveRateOf($0) : $0 }
    for v in Array(assignmentTargets.keys) + Array(rateTargets.keys) where slots[v] == nil {
      throw SBMLError(.invalid, "rule for unknown symbol '\(v)'")
    }
    for s in model.species where slots[s.compartment] == nil {
      throw SBMLError(.invalid, "species '\(s.id)' is in unknown compartment '\(s.compartment)'")
    }
    // Species in 0-dimensional compartments have no concentration: their symbols are amounts.
    let zeroD = Set(model.compartments.filter { $0.spatialDimensions == 0 }.map(\.id))
    for i in self.model.species.indices where zeroD.contains(self.model.species[i].compartment) {
      self.model.species[i].hasOnlySubstanceUnits = true
    }
  }

  /// rateOf(x): the derivative of x, from its rate rule or its reactions.
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
      return .delay(
        .piecewise([try resolveRateOf(a, depth), started], try resolveRateOf(zeroingRateOf(a), depth)),
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

  /// Math of the model ready to compile: functions inlined, `rateOf` resolved.
  func prep(_ e: Expr) throws -> Expr {
    let i = try e.inliningFunctions(model.functions)
    return i.usesRateOf ? try resolveRateOf(i) : i
  }

  /// The slots an expression reads.
  func deps(_ e: Expr) -> Set<Int> { Set(e.symbols.compactMap { slots[$0] }) }

  /// Whether `id` is a species that reactions change (not a boundary condition).
  func isReactiveSpecies(_ id: String) -> Bool {
    reactive.contains(id) && !(model.species.first { $0.id == id }?.boundaryCondition ?? true)
  }
}
