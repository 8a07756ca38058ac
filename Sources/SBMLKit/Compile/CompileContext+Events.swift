import SBMLDocument

extension CompileContext {
  /// The events: each trigger, delay, priority and assignments in a program of its own, and
  /// the comparisons inside a compound trigger that need watching.
  mutating func compileEvents() throws -> [CompiledSBML.EventSpec] {
    var events: [CompiledSBML.EventSpec] = []
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
      collect(trigger)
      // Every comparison's a − b (``CompiledSBML/EventSpec/rootSlots``), compiled once.
      let roots = try atoms.map { try c.compile($0) }
      // In a compound trigger, the comparisons that change between events need watching
      // (time, ODE states, rules, rates), and each once.
      var watch: [Int] = []
      if case .apply(let op, _) = trigger, [.and, .or, .xor, .not, .implies].contains(op) {
        for (a, slot) in zip(atoms, roots) where !watchedAtoms.contains(a) {
          let continuous =
            a.usesTime
            || a.symbols.contains { id in
              rateTargets[id] != nil || assignmentTargets[id] != nil || reactionIDs.contains(id) || unknowns.contains(id)
                || isReactiveSpecies(id)
            }
          if continuous {
            watchedAtoms.append(a)
            watch.append(slot)
          }
        }
      }
      var assigns: [(String, Int)] = []
      for (v, e) in ev.assignments {
        guard slots[v] != nil else { throw SBMLError(.invalid, "event '\(ev.id)' assigns unknown symbol '\(v)'") }
        guard stateOf[v] != nil else { throw SBMLError(.invalid, "event '\(ev.id)' assigns '\(v)', which is constant or set by a rule") }
        assigns.append((v, try c.compile(try prep(e))))
      }
      let delay = try ev.delay.map { try c.compile(try prep($0)) }
      let priority = try ev.priority.map { try c.compile(try prep($0)) }
      compiler = Compiler(adopting: c, keepingProgram: compiler.program)
      events.append(
        CompiledSBML.EventSpec(
          id: ev.id, triggerSlot: trig, delaySlot: delay, prioritySlot: priority, persistent: ev.persistent,
          useValuesFromTriggerTime: ev.useValuesFromTriggerTime, initialValue: ev.initialValue,
          assignments: assigns, program: c.program, watchSlots: watch, rootSlots: roots,
          conditionProgram: nil, triggerTimeSlot: nil))
    }
    return events
  }

  /// The initial program: attributes, then initial assignments, rules and rates in dependency
  /// order; then the known trigger times of `events` (computed once the parameters are set).
  /// Returns its compiler.
  func compileInitialValues(events: inout [CompiledSBML.EventSpec]) throws -> Compiler {
    var ic = compiler
    ic.startProgram()
    var initNodes: [(target: Int, expr: Expr)] = []
    var defined = Set<String>()
    for (sym, e) in model.initialAssignments {
      guard let target = slots[sym] else { throw SBMLError(.invalid, "initialAssignment to unknown symbol '\(sym)'") }
      initNodes.append((target, try prep(e)))
      defined.insert(sym)
    }
    for (v, e) in assignmentTargets {
      initNodes.append((slot(v), e))
      defined.insert(v)
    }
    for r in model.reactions {
      guard let law = r.kineticLaw else { continue }
      let map = Dictionary(uniqueKeysWithValues: r.localParameters.keys.map { ($0, Expr.symbol("__local:\(r.id):\($0)")) })
      initNodes.append((slot(r.id), try prep(law).substituting(map)))
    }
    for c in model.compartments where !defined.contains(c.id) { ic.setInitial(slot(c.id), c.size ?? .nan) }
    for p in model.parameters where !defined.contains(p.id) { ic.setInitial(slot(p.id), p.value ?? .nan) }
    for s in model.species where !defined.contains(s.id) {
      let comp = Expr.symbol(s.compartment)
      let e: Expr
      if let a = s.initialAmount {
        e = s.hasOnlySubstanceUnits ? .number(a) : .apply(.divide, [.number(a), comp])
      } else if let c = s.initialConcentration {
        e = s.hasOnlySubstanceUnits ? .apply(.times, [.number(c), comp]) : .number(c)
      } else {
        e = .number(.nan)
      }
      initNodes.append((slot(s.id), e))
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
    return ic
  }

  /// The delayed expressions found so far by `ic` (compiling one may add nested delays):
  /// their programs, and the compiler after them.
  func compileDelays(initial ic: Compiler) throws -> (delays: [CompiledSBML.DelaySpec], compiler: Compiler) {
    var dc = ic
    var delays: [CompiledSBML.DelaySpec] = []
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
      delays.append(CompiledSBML.DelaySpec(past: past, before: before, now: now, slot: r, constantTauSlot: tauSlot))
      k += 1
    }
    return (delays, dc)
  }
}
