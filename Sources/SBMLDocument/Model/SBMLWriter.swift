import Foundation

extension SBMLModel {
  /// The model as an SBML Level 3 Version 2 core document.
  ///
  /// Writes compartments, species, parameters (with notes), initial assignments, rules,
  /// reactions and events; math as MathML content markup.
  public func xml() -> String {
    var x = """
      <?xml version="1.0" encoding="UTF-8"?>
      <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
        <model id="\(esc(id))"\(name.map { " name=\"\(esc($0))\"" } ?? "") timeUnits="time_day">

      """
    if let notes { x += "    <notes><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>\(esc(notes))</p></body></notes>\n" }
    x += """
          <listOfUnitDefinitions>
            <unitDefinition id="time_day"><listOfUnits><unit kind="second" exponent="1" scale="0" multiplier="86400"/></listOfUnits></unitDefinition>
          </listOfUnitDefinitions>

      """
    if !functions.isEmpty {
      x += "    <listOfFunctionDefinitions>\n"
      for f in functions.values.sorted(by: { $0.id < $1.id }) {
        x += "      <functionDefinition id=\"\(esc(f.id))\"><math xmlns=\"http://www.w3.org/1998/Math/MathML\"><lambda>"
        x +=
          f.arguments.map { "<bvar><ci>\($0)</ci></bvar>" }.joined() + MathMLWriter.write(f.body)
          + "</lambda></math></functionDefinition>\n"
      }
      x += "    </listOfFunctionDefinitions>\n"
    }
    x += "    <listOfCompartments>\n"
    for c in compartments {
      x +=
        "      <compartment id=\"\(esc(c.id))\" spatialDimensions=\"\(fmt(c.spatialDimensions))\"\(c.size.map { " size=\"\(fmt($0))\"" } ?? "") constant=\"\(c.constant)\"/>\n"
    }
    x += "    </listOfCompartments>\n"
    if !species.isEmpty {
      x += "    <listOfSpecies>\n"
      for s in species {
        let initial =
          s.initialAmount.map { " initialAmount=\"\(fmt($0))\"" } ?? s.initialConcentration.map { " initialConcentration=\"\(fmt($0))\"" }
          ?? ""
        x +=
          "      <species id=\"\(esc(s.id))\" compartment=\"\(esc(s.compartment))\"\(initial) hasOnlySubstanceUnits=\"\(s.hasOnlySubstanceUnits)\" boundaryCondition=\"\(s.boundaryCondition)\" constant=\"\(s.constant)\"/>\n"
      }
      x += "    </listOfSpecies>\n"
    }
    if !parameters.isEmpty {
      x += "    <listOfParameters>\n"
      for p in parameters {
        let open =
          "      <parameter id=\"\(esc(p.id))\"\(p.name.map { " name=\"\(esc($0))\"" } ?? "")\(p.value.map { " value=\"\(fmt($0))\"" } ?? "") constant=\"\(p.constant)\""
        if let notes = p.notes {
          x +=
            open
            + ">\n        <notes><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>\(esc(notes))</p></body></notes>\n      </parameter>\n"
        } else {
          x += open + "/>\n"
        }
      }
      x += "    </listOfParameters>\n"
    }
    if !initialAssignments.isEmpty {
      x += "    <listOfInitialAssignments>\n"
      for (s, e) in initialAssignments { x += "      <initialAssignment symbol=\"\(esc(s))\">\(math(e))</initialAssignment>\n" }
      x += "    </listOfInitialAssignments>\n"
    }
    if !rules.isEmpty {
      x += "    <listOfRules>\n"
      for r in rules {
        switch r {
        case .assignment(let v, let e): x += "      <assignmentRule variable=\"\(esc(v))\">\(math(e))</assignmentRule>\n"
        case .rate(let v, let e): x += "      <rateRule variable=\"\(esc(v))\">\(math(e))</rateRule>\n"
        case .algebraic(let e): x += "      <algebraicRule>\(math(e))</algebraicRule>\n"
        }
      }
      x += "    </listOfRules>\n"
    }
    if !reactions.isEmpty {
      x += "    <listOfReactions>\n"
      for r in reactions {
        x += "      <reaction id=\"\(esc(r.id))\" reversible=\"false\">\n"
        for (list, refs) in [("listOfReactants", r.reactants), ("listOfProducts", r.products)] where !refs.isEmpty {
          x +=
            "        <\(list)>"
            + refs.map {
              "<speciesReference species=\"\(esc($0.species))\" stoichiometry=\"\(fmt($0.stoichiometry ?? 1))\" constant=\"true\"/>"
            }.joined() + "</\(list)>\n"
        }
        // Species read by the rate law but not reactants or products are modifiers.
        let participants = Set((r.reactants + r.products).map(\.species))
        let modifiers = species.map(\.id).filter { r.kineticLaw?.symbols.contains($0) == true && !participants.contains($0) }
        if !modifiers.isEmpty {
          x +=
            "        <listOfModifiers>" + modifiers.map { "<modifierSpeciesReference species=\"\(esc($0))\"/>" }.joined()
            + "</listOfModifiers>\n"
        }
        if let law = r.kineticLaw { x += "        <kineticLaw>\(math(law))</kineticLaw>\n" }
        x += "      </reaction>\n"
      }
      x += "    </listOfReactions>\n"
    }
    if !events.isEmpty {
      x += "    <listOfEvents>\n"
      for e in events {
        x += "      <event id=\"\(esc(e.id))\" useValuesFromTriggerTime=\"\(e.useValuesFromTriggerTime)\">\n"
        x += "        <trigger initialValue=\"\(e.initialValue)\" persistent=\"\(e.persistent)\">\(math(e.trigger))</trigger>\n"
        if let p = e.priority { x += "        <priority>\(math(p))</priority>\n" }
        if let d = e.delay { x += "        <delay>\(math(d))</delay>\n" }
        x += "        <listOfEventAssignments>\n"
        for (v, m) in e.assignments { x += "          <eventAssignment variable=\"\(esc(v))\">\(math(m))</eventAssignment>\n" }
        x += "        </listOfEventAssignments>\n      </event>\n"
      }
      x += "    </listOfEvents>\n"
    }
    x += "  </model>\n</sbml>\n"
    return x
  }

  private func math(_ e: Expr) -> String { "<math xmlns=\"http://www.w3.org/1998/Math/MathML\">\(MathMLWriter.write(e))</math>" }
}

func esc(_ s: String) -> String {
  s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// Round-trippable number text (shortest representation that reads back exactly).
func fmt(_ x: Double) -> String {
  if x.isNaN { return "NaN" }
  if x.isInfinite { return x > 0 ? "INF" : "-INF" }
  return "\(x)"
}

/// Writes ``Expr`` as MathML content markup.
enum MathMLWriter {
  static func write(_ e: Expr) -> String {
    switch e {
    case .number(let x):
      if x.isNaN { return "<notanumber/>" }
      if x.isInfinite { return x > 0 ? "<infinity/>" : "<apply><minus/><infinity/></apply>" }
      return "<cn>\(x)</cn>"
    case .symbol(let s): return "<ci>\(esc(s))</ci>"
    case .time: return "<csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/time\">time</csymbol>"
    case .avogadro: return "<csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/avogadro\">avogadro</csymbol>"
    case .apply(.log, let args) where args.count == 2:
      return "<apply><log/><logbase>\(write(args[0]))</logbase>\(write(args[1]))</apply>"
    case .apply(.root, let args) where args.count == 2:
      return "<apply><root/><degree>\(write(args[0]))</degree>\(write(args[1]))</apply>"
    case .apply(let op, let args): return "<apply><\(op.rawValue)/>" + args.map(write).joined() + "</apply>"
    case .call(let f, let args): return "<apply><ci>\(esc(f))</ci>" + args.map(write).joined() + "</apply>"
    case .piecewise(let pieces, let other):
      var s = "<piecewise>"
      var i = 0
      while i + 1 < pieces.count {
        s += "<piece>\(write(pieces[i]))\(write(pieces[i + 1]))</piece>"
        i += 2
      }
      if let o = other { s += "<otherwise>\(write(o))</otherwise>" }
      return s + "</piecewise>"
    case .delay(let a, let b):
      return
        "<apply><csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/delay\">delay</csymbol>\(write(a))\(write(b))</apply>"
    case .rateOf(let a):
      return
        "<apply><csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/rateOf\">rateOf</csymbol>\(write(a))</apply>"
    }
  }
}

// MARK: Building expressions in Swift

extension Expr: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(integerLiteral value: Int) { self = .number(Double(value)) }
  /// A string literal is a symbol.
  public init(stringLiteral value: String) { self = .symbol(value) }

  public static func + (a: Expr, b: Expr) -> Expr { .apply(.plus, [a, b]) }
  public static func - (a: Expr, b: Expr) -> Expr { .apply(.minus, [a, b]) }
  public static func * (a: Expr, b: Expr) -> Expr { .apply(.times, [a, b]) }
  public static func / (a: Expr, b: Expr) -> Expr { .apply(.divide, [a, b]) }
  public static prefix func - (a: Expr) -> Expr { .apply(.minus, [a]) }
  public static func ln(_ a: Expr) -> Expr { .apply(.ln, [a]) }
  public static func pow(_ a: Expr, _ b: Expr) -> Expr { .apply(.power, [a, b]) }
  public static func max(_ a: Expr, _ b: Expr) -> Expr { .apply(.max, [a, b]) }
  public static func min(_ a: Expr, _ b: Expr) -> Expr { .apply(.min, [a, b]) }
  public static func lessEqual(_ a: Expr, _ b: Expr) -> Expr { .apply(.leq, [a, b]) }
  public static func less(_ a: Expr, _ b: Expr) -> Expr { .apply(.lt, [a, b]) }
  public static func greaterEqual(_ a: Expr, _ b: Expr) -> Expr { .apply(.geq, [a, b]) }
}
