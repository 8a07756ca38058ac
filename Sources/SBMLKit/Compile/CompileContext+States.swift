import SBMLDocument

extension CompileContext {
  /// Algebraic rules: each determines one unknown that nothing else determines.
  mutating func findUnknowns() throws {
    for e in algebraic {
      let candidates = e.symbols.filter { id in
        slots[id] != nil && !constantIDs.contains(id) && assignmentTargets[id] == nil && rateTargets[id] == nil
          && !unknowns.contains(id) && !isReactiveSpecies(id)
      }.sorted()
      guard let x = candidates.first else { throw SBMLError(.unsupported, "algebraic rule without a free unknown") }
      unknowns.append(x)
    }
  }

  /// The states: species amounts (or a species' own value under a rate rule), then the other
  /// symbols that change between events (non-constant compartments and parameters, variable
  /// stoichiometries, rate-rule targets).
  mutating func collectStates() throws {
    // A constant species keeps its amount: in a compartment that changes size, its
    // concentration follows, so it is an amount state that nothing changes.
    let varyingCompartments = Set(model.compartments.filter { !$0.constant }.map(\.id))
    for s in model.species
    where (!s.constant || (varyingCompartments.contains(s.compartment) && !s.hasOnlySubstanceUnits))
      && assignmentTargets[s.id] == nil && !unknowns.contains(s.id)
    {
      guard let sym = slots[s.id], let comp = slots[s.compartment], let index = speciesIndex[s.id] else {
        preconditionFailure("every species and compartment has a slot")
      }
      if rateTargets[s.id] != nil {
        stateOf[s.id] = states.count
        states.append(.symbol(slot: sym, derivativeSlot: nil))
      } else {
        let amountSlot = s.hasOnlySubstanceUnits ? sym : compiler.newSlot()
        if !s.hasOnlySubstanceUnits { conversions.append((sym, amountSlot, comp, s.id)) }
        stateOf[s.id] = states.count
        states.append(
          .amount(
            species: index, amountSlot: amountSlot, symbolSlot: sym, compartmentSlot: comp,
            onlySubstance: s.hasOnlySubstanceUnits))
      }
      stateNames.append(s.id)
    }
    var others: [String] = model.compartments.filter { !$0.constant }.map(\.id)
    others += model.parameters.filter { !$0.constant }.map(\.id)
    for r in model.reactions {
      for sr in r.reactants + r.products where !sr.constant && sr.stoichiometryMath == nil { if let i = sr.id { others.append(i) } }
    }
    for id in rateTargets.keys where !others.contains(id) && compartmentOf[id] == nil { others.append(id) }
    for id in others where assignmentTargets[id] == nil && stateOf[id] == nil && !unknowns.contains(id) {
      guard let slot = slots[id] else { preconditionFailure("every symbol has a slot") }
      stateOf[id] = states.count
      states.append(.symbol(slot: slot, derivativeSlot: nil))
      stateNames.append(id)
    }
    for (id, _) in rateTargets where stateOf[id] == nil {
      throw SBMLError(.invalid, "rate rule for constant or assignment-ruled symbol '\(id)'")
    }
  }
}
