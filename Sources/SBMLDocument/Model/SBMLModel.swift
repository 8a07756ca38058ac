import Foundation

/// An SBML Level 2/3 core model, as read from the document.
public struct SBMLModel: Sendable {
  public struct Compartment: Sendable {
    public var id: String
    public var size: Double?
    public var constant: Bool
    public var spatialDimensions: Double
    public init(id: String, size: Double?, constant: Bool = true, spatialDimensions: Double = 3) {
      self.id = id
      self.size = size
      self.constant = constant
      self.spatialDimensions = spatialDimensions
    }
  }
  public struct Species: Sendable {
    public var id: String
    public var compartment: String
    public var initialAmount: Double?
    public var initialConcentration: Double?
    public var hasOnlySubstanceUnits: Bool
    public var boundaryCondition: Bool
    public var constant: Bool
    public var conversionFactor: String?
    public init(
      id: String, compartment: String, initialAmount: Double?, initialConcentration: Double?, hasOnlySubstanceUnits: Bool,
      boundaryCondition: Bool, constant: Bool, conversionFactor: String?
    ) {
      self.id = id
      self.compartment = compartment
      self.initialAmount = initialAmount
      self.initialConcentration = initialConcentration
      self.hasOnlySubstanceUnits = hasOnlySubstanceUnits
      self.boundaryCondition = boundaryCondition
      self.constant = constant
      self.conversionFactor = conversionFactor
    }
  }
  public struct Parameter: Sendable {
    public var id: String
    public var value: Double?
    public var constant: Bool
    /// Free text written as the parameter's notes (unit, source, evidence).
    public var notes: String?
    public var name: String?
    public init(id: String, value: Double?, constant: Bool, notes: String? = nil, name: String? = nil) {
      self.id = id
      self.value = value
      self.constant = constant
      self.notes = notes
      self.name = name
    }
  }
  public struct SpeciesReference: Sendable {
    public var species: String
    public var id: String?
    public var stoichiometry: Double?
    public var constant: Bool
    public var stoichiometryMath: Expr?
    public init(species: String, id: String?, stoichiometry: Double?, constant: Bool, stoichiometryMath: Expr?) {
      self.species = species
      self.id = id
      self.stoichiometry = stoichiometry
      self.constant = constant
      self.stoichiometryMath = stoichiometryMath
    }
  }
  public struct Reaction: Sendable {
    public var id: String
    public var reactants: [SpeciesReference]
    public var products: [SpeciesReference]
    public var kineticLaw: Expr?
    public var localParameters: [String: Double]
    public var fast: Bool
    public init(
      id: String, reactants: [SpeciesReference], products: [SpeciesReference], kineticLaw: Expr?,
      localParameters: [String: Double], fast: Bool
    ) {
      self.id = id
      self.reactants = reactants
      self.products = products
      self.kineticLaw = kineticLaw
      self.localParameters = localParameters
      self.fast = fast
    }
  }
  public enum Rule: Sendable {
    case assignment(variable: String, math: Expr)
    case rate(variable: String, math: Expr)
    case algebraic(math: Expr)
  }
  public struct Event: Sendable {
    public var id: String
    public var trigger: Expr
    public var initialValue: Bool
    public var persistent: Bool
    public var delay: Expr?
    public var priority: Expr?
    public var useValuesFromTriggerTime: Bool
    public var assignments: [(variable: String, math: Expr)]
    public init(
      id: String, trigger: Expr, initialValue: Bool = true, persistent: Bool = true, delay: Expr? = nil,
      priority: Expr? = nil, useValuesFromTriggerTime: Bool = true, assignments: [(variable: String, math: Expr)]
    ) {
      self.id = id
      self.trigger = trigger
      self.initialValue = initialValue
      self.persistent = persistent
      self.delay = delay
      self.priority = priority
      self.useValuesFromTriggerTime = useValuesFromTriggerTime
      self.assignments = assignments
    }
  }

  public var level: Int
  public var version: Int
  public var functions: [String: FunctionDefinition] = [:]
  public var compartments: [Compartment] = []
  public var species: [Species] = []
  public var parameters: [Parameter] = []
  public var initialAssignments: [(symbol: String, math: Expr)] = []
  public var rules: [Rule] = []
  public var reactions: [Reaction] = []
  public var events: [Event] = []
  public var conversionFactor: String?
  /// Model id and name, and free-text notes (written on export).
  public var id = "model"
  public var name: String?
  public var notes: String?

  public init(level: Int, version: Int) {
    self.level = level
    self.version = version
  }
}

extension SBMLModel {
  /// Reads an SBML file.
  public static func load(path: String) throws -> SBMLModel {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw SBMLError(.invalid, "cannot read \(path)")
    }
    return try parse(data, baseURL: URL(fileURLWithPath: path).deletingLastPathComponent())
  }

  /// Parses an SBML document.
  /// Hierarchical models (`comp`) are flattened first; external model definitions are read
  /// relative to `baseURL`.
  public static func parse(_ data: Data, baseURL: URL? = nil) throws -> SBMLModel {
    let root = try XMLTreeBuilder.parse(data)
    guard root.name == "sbml" else { throw SBMLError(.invalid, "root element is <\(root.name)>, not <sbml>", line: root.line) }
    let level = Int(root["level"] ?? "") ?? 0, version = Int(root["version"] ?? "") ?? 0
    guard level == 2 || level == 3 else { throw SBMLError(.unsupported, "SBML Level \(level)", line: root.line) }
    for (k, v) in root.attributes where k.hasPrefix("xmlns:") && root["\(k.dropFirst(6)):required"] == "true" && !v.contains("/comp/") {
      throw SBMLError(.unsupported, "required package '\(k.dropFirst(6))' (\(v))", line: root.line)
    }
    guard root.child("model") != nil else { throw SBMLError(.invalid, "no <model>", line: root.line) }
    let m = CompFlattener.usesComp(root) ? try CompFlattener.flatten(root: root, baseURL: baseURL) : root.child("model")!
    var model = SBMLModel(level: level, version: version)
    model.id = m["id"] ?? "model"
    model.name = m["name"]
    model.conversionFactor = m["conversionFactor"]
    let l3 = level == 3

    func bool(_ node: XMLNode, _ key: String, default def: Bool) throws -> Bool {
      guard let v = node[key] else { return def }
      switch v {
      case "true", "1": return true
      case "false", "0": return false
      default: throw SBMLError(.invalid, "\(node.name) '\(node["id"] ?? "")': \(key)=\"\(v)\" is not a boolean", line: node.line)
      }
    }
    func double(_ node: XMLNode, _ key: String) throws -> Double? {
      guard let v = node[key] else { return nil }
      if let d = Double(v) { return d }
      switch v.uppercased() {
      case "INF": return .infinity
      case "-INF": return -.infinity
      case "NAN": return .nan
      default: break
      }
      throw SBMLError(.invalid, "\(node.name) '\(node["id"] ?? "")': \(key)=\"\(v)\" is not a number", line: node.line)
    }
    func math(_ node: XMLNode?, what: String) throws -> Expr? {
      guard let node, let mm = node.child("math") else { return nil }
      do { return try MathMLReader.read(math: mm) } catch var e as SBMLError {
        e.message = "\(what): \(e.message)"
        throw e
      }
    }
    func id(_ node: XMLNode) throws -> String {
      guard let i = node["id"] else { throw SBMLError(.invalid, "<\(node.name)> without id", line: node.line) }
      return i
    }

    for f in m.list("listOfFunctionDefinitions", "functionDefinition") {
      let fid = try id(f)
      guard let mm = f.child("math"), let lambda = mm.children.first(where: { $0.name == "lambda" || $0.name == "semantics" }) else {
        // L3V2 allows a function without a body; calling it gives NaN.
        model.functions[fid] = FunctionDefinition(id: fid, arguments: [], body: .number(.nan))
        continue
      }
      guard let lam = lambda.name == "semantics" ? lambda.children.first(where: { $0.name == "lambda" }) : lambda else {
        throw SBMLError(.invalid, "functionDefinition '\(fid)': <semantics> without a <lambda>", line: f.line)
      }
      let args = lam.children("bvar").compactMap { $0.child("ci").map(MathMLReader.text) }
      guard Set(args).count == args.count else {
        throw SBMLError(.invalid, "functionDefinition '\(fid)' names an argument twice", line: f.line)
      }
      guard model.functions[fid] == nil else { throw SBMLError(.invalid, "the id '\(fid)' is used twice", line: f.line) }
      guard let bodyNode = lam.children.last(where: { $0.name != "bvar" }) else {
        throw SBMLError(.invalid, "functionDefinition '\(fid)' has no body", line: f.line)
      }
      model.functions[fid] = FunctionDefinition(id: fid, arguments: args, body: try MathMLReader.read(bodyNode))
    }
    for c in m.list("listOfCompartments", "compartment") {
      model.compartments.append(
        Compartment(
          id: try id(c), size: try double(c, "size") ?? (l3 ? nil : (try double(c, "volume")) ?? 1),
          constant: try bool(c, "constant", default: !l3 || true), spatialDimensions: try double(c, "spatialDimensions") ?? 3))
    }
    for s in m.list("listOfSpecies", "species") {
      guard let comp = s["compartment"] else { throw SBMLError(.invalid, "species '\(s["id"] ?? "")' has no compartment", line: s.line) }
      model.species.append(
        Species(
          id: try id(s), compartment: comp, initialAmount: try double(s, "initialAmount"),
          initialConcentration: try double(s, "initialConcentration"),
          hasOnlySubstanceUnits: try bool(s, "hasOnlySubstanceUnits", default: false),
          boundaryCondition: try bool(s, "boundaryCondition", default: false), constant: try bool(s, "constant", default: false),
          conversionFactor: s["conversionFactor"]))
    }
    for p in m.list("listOfParameters", "parameter") {
      model.parameters.append(Parameter(id: try id(p), value: try double(p, "value"), constant: try bool(p, "constant", default: true)))
    }
    for a in m.list("listOfInitialAssignments", "initialAssignment") {
      guard let sym = a["symbol"], let e = try math(a, what: "initialAssignment '\(a["symbol"] ?? "")'") else { continue }
      model.initialAssignments.append((sym, e))
    }
    if let rules = m.child("listOfRules") {
      for r in rules.children {
        let v = r["variable"] ?? ""
        guard let e = try math(r, what: "\(r.name) '\(v)'") else { continue }
        switch r.name {
        case "assignmentRule": model.rules.append(.assignment(variable: v, math: e))
        case "rateRule": model.rules.append(.rate(variable: v, math: e))
        case "algebraicRule": model.rules.append(.algebraic(math: e))
        default: break
        }
      }
    }
    for r in m.list("listOfReactions", "reaction") {
      let rid = try id(r)
      func refs(_ list: String) throws -> [SpeciesReference] {
        try r.list(list, "speciesReference").map { sr in
          guard let sp = sr["species"] else {
            throw SBMLError(.invalid, "reaction '\(rid)': speciesReference without species", line: sr.line)
          }
          let sm = try sr.child("stoichiometryMath").flatMap { try math($0, what: "stoichiometryMath of '\(sp)' in '\(rid)'") }
          return SpeciesReference(
            species: sp, id: sr["id"], stoichiometry: try double(sr, "stoichiometry") ?? (l3 ? nil : 1),
            constant: try bool(sr, "constant", default: !l3 || false), stoichiometryMath: sm)
        }
      }
      let kl = r.child("kineticLaw")
      var locals: [String: Double] = [:]
      for lp in (kl?.list("listOfLocalParameters", "localParameter") ?? []) + (kl?.list("listOfParameters", "parameter") ?? []) {
        locals[try id(lp)] = try double(lp, "value") ?? .nan
      }
      model.reactions.append(
        Reaction(
          id: rid, reactants: try refs("listOfReactants"), products: try refs("listOfProducts"),
          kineticLaw: try math(kl, what: "kineticLaw of '\(rid)'"), localParameters: locals, fast: try bool(r, "fast", default: false)))
    }
    for ev in m.list("listOfEvents", "event") {
      let eid = ev["id"] ?? "event\(model.events.count + 1)"
      // L3V2: an event without a trigger never fires.
      guard let tr = ev.child("trigger"), let trig = try math(tr, what: "trigger of event '\(eid)'") else { continue }
      var assigns: [(String, Expr)] = []
      for a in ev.list("listOfEventAssignments", "eventAssignment") {
        if let v = a["variable"], let e = try math(a, what: "eventAssignment '\(a["variable"] ?? "")' of '\(eid)'") {
          assigns.append((v, e))
        }
      }
      model.events.append(
        Event(
          id: eid, trigger: trig, initialValue: try bool(tr, "initialValue", default: true),
          persistent: try bool(tr, "persistent", default: true), delay: try math(ev.child("delay"), what: "delay of '\(eid)'"),
          priority: try math(ev.child("priority"), what: "priority of '\(eid)'"),
          useValuesFromTriggerTime: try bool(ev, "useValuesFromTriggerTime", default: true), assignments: assigns))
    }
    // Ids share one namespace (SBML L3V2 §3.3); the compiler indexes them by id.
    var seen = Set(model.functions.keys)
    for id in model.compartments.map(\.id) + model.species.map(\.id) + model.parameters.map(\.id) + model.reactions.map(\.id)
    where !seen.insert(id).inserted {
      throw SBMLError(
        .invalid, "the id '\(id)' is used twice (ids of compartments, species, parameters, reactions and functions must differ)")
    }
    return model
  }
}
