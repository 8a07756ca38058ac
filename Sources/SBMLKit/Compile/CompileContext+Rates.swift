import SBMLDocument

extension CompileContext {
  /// The evaluation of the rates, as ``CompiledSBML`` keeps it.
  struct RatePrograms {
    /// Assignments then rates; the assignment part alone; the rate part alone.
    var main: Program, assign: Program, rates: Program
    var fluxes: [CompiledSBML.Flux]
    /// The algebraic rules' residuals and their slots.
    var residualProgram: Program, residualSlots: [Int]
  }

  /// The dependency-ordered assignment phase (assignment rules, concentration conversions,
  /// stoichiometry math and reaction rates: rules may read rates, rates read rules), then the
  /// rate rules, the fluxes and the algebraic residuals.
  mutating func compileRates() throws -> RatePrograms {
    struct Node {
      var target: Int
      var expr: Expr?
      var conversion: (Int, Int)?
      var deps: Set<Int>
    }
    var nodes: [Node] = []
    for (v, e) in assignmentTargets.sorted(by: { $0.key < $1.key }) {
      nodes.append(Node(target: slot(v), expr: e, conversion: nil, deps: deps(e)))
    }
    for c in conversions {
      nodes.append(Node(target: c.symbolSlot, expr: nil, conversion: (c.amountSlot, c.compartmentSlot), deps: [c.compartmentSlot]))
    }
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
        compiler.setInitial(slot(key), value)
      }
      let scaled = r.fast ? Expr.apply(.times, [.number(CompiledSBML.fastReactionFactor), law]) : law
      let e = try prep(scaled).substituting(map)
      nodes.append(Node(target: slot(r.id), expr: e, conversion: nil, deps: deps(e)))
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
      guard let state = stateOf[id] else { preconditionFailure("a rate rule's target is a state") }
      if case .symbol(let slot, _) = states[state] { states[state] = .symbol(slot: slot, derivativeSlot: d) }
    }
    // Fluxes.
    var fluxes: [CompiledSBML.Flux] = []
    for (ri, r) in model.reactions.enumerated() where r.kineticLaw != nil {
      for (k, sr) in (r.reactants + r.products).enumerated() {
        guard let st = stateOf[sr.species], case .amount = states[st], let index = speciesIndex[sr.species] else { continue }
        let sp = model.species[index]
        if sp.boundaryCondition || sp.constant { continue }
        let cf = (sp.conversionFactor ?? model.conversionFactor).flatMap { slots[$0] }
        fluxes.append(
          CompiledSBML.Flux(
            state: st, rateSlot: slot(r.id), stoichiometrySlot: stoichSlots[ri][k],
            sign: k < r.reactants.count ? -1 : 1, conversionSlot: cf))
      }
    }
    let main = compiler.program
    // Algebraic residuals.
    var rc = compiler
    rc.startProgram()
    var residuals: [Int] = []
    for e in algebraic { residuals.append(try rc.compile(try prep(e))) }
    compiler = Compiler(adopting: rc, keepingProgram: compiler.program)
    return RatePrograms(
      main: main, assign: Program(instructions: Array(main.instructions[..<assignEnd])),
      rates: Program(instructions: Array(main.instructions[assignEnd...])), fluxes: fluxes,
      residualProgram: rc.program, residualSlots: residuals)
  }

  /// The slot of a symbol the model declares (every one has a slot by construction).
  func slot(_ id: String) -> Int {
    guard let s = slots[id] else { preconditionFailure("symbol '\(id)' has no slot") }
    return s
  }
}
