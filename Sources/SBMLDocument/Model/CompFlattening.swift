import Foundation

/// Flattens an SBML Level 3 document that uses Hierarchical Model Composition (`comp` v1)
/// into a plain core `<model>`, following the comp specification's flattening semantics (and
/// libSBML's `CompFlatteningConverter` where the specification leaves details open):
///
/// - every `submodel` becomes a copy of its model definition (itself flattened first), with
///   every SId and metaid prefixed by `submodelId__` (nested: `A__B__x`);
/// - `deletion`s remove the referenced element (or a whole nested submodel);
/// - `timeConversionFactor` t and `extentConversionFactor` x: kinetic laws are multiplied by
///   x/t, references to reactions divided by x/t, `time` becomes `time/t`, delays (event and
///   csymbol) are multiplied by t, rate rules divided by t;
/// - a `replacedElement` removes the submodel element and points the submodel's references to
///   the replacing element (with `conversionFactor` f: references become `id/f`, assignments to
///   it are multiplied by f); a `replacedBy` removes the parent element and gives its id to
///   the submodel element;
/// - references go by `idRef`, `metaIdRef`, `portRef` or `unitRef` (units are not simulated,
///   so unit replacements are no-ops), through nested `sBaseRef`s.
///
/// Anything else (e.g. an external file that cannot be read) is an error naming the element.
enum CompFlattener {
  /// A comp reference resolved to a path key in an instance's maps.
  enum RefKey { case id(String), meta(String), unit, none }

  /// A flattened model instance: the model node and look-up tables keyed by the original
  /// (unprefixed) path of each element relative to this model (`x`, `B__x`, …).
  final class Instance {
    let model: XMLNode
    var ids: [String: XMLNode] = [:]
    var metaids: [String: XMLNode] = [:]
    var ports: [String: RefKey] = [:]
    /// Top-level list items merged from each (nested) submodel, by path.
    var submodels: [String: [XMLNode]] = [:]
    init(model: XMLNode) { self.model = model }
  }

  /// Model definitions visible in one document.
  struct Scope {
    var definitions: [String: XMLNode] = [:]
    var external: [String: XMLNode] = [:]
    var baseURL: URL?
    var mainModel: XMLNode?
  }

  static let listNames = [
    "listOfFunctionDefinitions", "listOfUnitDefinitions", "listOfCompartments", "listOfSpecies", "listOfParameters",
    "listOfInitialAssignments", "listOfRules", "listOfConstraints", "listOfReactions", "listOfEvents",
  ]
  static let sidRefAttributes: Set<String> = ["compartment", "species", "variable", "symbol", "conversionFactor", "outside"]
  static let compChildren: Set<String> = ["listOfSubmodels", "listOfPorts", "listOfReplacedElements", "replacedBy", "listOfDeletions"]

  /// Whether the document declares the comp namespace.
  static func usesComp(_ root: XMLNode) -> Bool {
    root.attributes.contains { $0.key.hasPrefix("xmlns:") && $0.value.contains("/comp/") }
  }

  /// The flattened top-level `<model>` of the document.
  static func flatten(root: XMLNode, baseURL: URL?) throws -> XMLNode {
    let scope = scope(of: root, baseURL: baseURL)
    guard let model = root.child("model") else { throw SBMLError(.invalid, "no <model>", line: root.line) }
    var removed = Set<ObjectIdentifier>()
    var instances = 0
    let inst = try instantiate(model, scope: scope, depth: 0, removed: &removed, instances: &instances)
    prune(inst.model, removed)
    return inst.model
  }

  static func scope(of root: XMLNode, baseURL: URL?) -> Scope {
    var s = Scope(baseURL: baseURL, mainModel: root.child("model"))
    for d in root.list("listOfModelDefinitions", "modelDefinition") { if let id = attr(d, "id") { s.definitions[id] = d } }
    for d in root.list("listOfExternalModelDefinitions", "externalModelDefinition") { if let id = attr(d, "id") { s.external[id] = d } }
    return s
  }

  /// An attribute by local name, with or without a namespace prefix (`comp:idRef`, `idRef`).
  static func attr(_ n: XMLNode, _ name: String) -> String? {
    if let v = n[name] { return v }
    return n.attributes.first { $0.key.hasSuffix(":" + name) }?.value
  }

  static func definition(_ ref: String, scope: Scope, line: Int, depth: Int) throws -> (XMLNode, Scope) {
    if let d = scope.definitions[ref] { return (d, scope) }
    if let e = scope.external[ref] {
      guard let source = attr(e, "source") else {
        throw SBMLError(.invalid, "externalModelDefinition '\(ref)' has no source", line: e.line)
      }
      let url = URL(fileURLWithPath: source, relativeTo: scope.baseURL)
      guard let data = FileManager.default.contents(atPath: url.path) else {
        throw SBMLError(.invalid, "externalModelDefinition '\(ref)': cannot read '\(source)'", line: e.line)
      }
      let root = try XMLTreeBuilder.parse(data)
      let inner = Self.scope(of: root, baseURL: url.deletingLastPathComponent())
      let target = attr(e, "modelRef")
      if target == nil || target == inner.mainModel.flatMap({ attr($0, "id") }), let m = inner.mainModel { return (m, inner) }
      guard depth < 20 else { throw SBMLError(.invalid, "external model definitions nest too deeply at '\(ref)'", line: e.line) }
      return try definition(target!, scope: inner, line: e.line, depth: depth + 1)
    }
    if let m = scope.mainModel, attr(m, "id") == ref { return (m, scope) }
    throw SBMLError(.invalid, "submodel refers to unknown model definition '\(ref)'", line: line)
  }

  /// The most submodel instances one document may expand to (each submodel can hold several
  /// of the one before, so nesting alone could expand exponentially).
  static let maxInstances = 10_000

  static func instantiate(
    _ def: XMLNode, scope: Scope, depth: Int, removed: inout Set<ObjectIdentifier>,
    instances: inout Int
  ) throws -> Instance {
    guard depth < 30 else {
      throw SBMLError(.invalid, "submodels nest too deeply (a cycle?) at '\(attr(def, "id") ?? "")'", line: def.line)
    }
    instances += 1
    guard instances <= maxInstances else {
      throw SBMLError(.invalid, "the submodels expand to more than \(maxInstances) model instances", line: def.line)
    }
    let model = deepCopy(def)
    let inst = Instance(model: model)
    // The model's own elements (before any submodel is merged).
    walkElements(model) { n in
      if let id = n["id"], n.name != "model", n.name != "modelDefinition", inst.ids[id] == nil { inst.ids[id] = n }
      if let m = n["metaid"], inst.metaids[m] == nil { inst.metaids[m] = n }
    }
    var subs: [String: Instance] = [:]
    var subOrder: [String] = []
    for sm in model.list("listOfSubmodels", "submodel") {
      guard let sid = attr(sm, "id"), let ref = attr(sm, "modelRef") else {
        throw SBMLError(.invalid, "submodel without id or modelRef", line: sm.line)
      }
      let (d, s) = try definition(ref, scope: scope, line: sm.line, depth: 0)
      let sub = try instantiate(d, scope: s, depth: depth + 1, removed: &removed, instances: &instances)
      prefix(sub.model, with: sid + "__")
      // Deletions.
      for del in sm.list("listOfDeletions", "deletion") {
        for n in try targets(resolve(del, in: sub, what: "deletion in submodel '\(sid)'"), in: sub, ref: del) {
          removed.insert(ObjectIdentifier(n))
        }
      }
      subs[sid] = sub
      subOrder.append(sid)
    }

    // Replacements by the model's own elements, grouped by submodel.
    struct Replacement {
      var parent: XMLNode
      var target: XMLNode
      var by: Bool
      var factor: String?
    }
    var replacements: [String: [Replacement]] = [:]
    var ownElements: [XMLNode] = []
    walkElements(model) { ownElements.append($0) }
    for p in ownElements {
      var refs: [(XMLNode, Bool)] = p.list("listOfReplacedElements", "replacedElement").map { ($0, false) }
      if let rb = p.child("replacedBy") { refs.append((rb, true)) }
      for (r, by) in refs {
        let what = "\(by ? "replacedBy" : "replacedElement") of \(p.name) '\(p["id"] ?? p["metaid"] ?? "")'"
        guard let sref = attr(r, "submodelRef"), let sub = subs[sref] else {
          throw SBMLError(.invalid, "\(what): unknown submodelRef '\(attr(r, "submodelRef") ?? "")'", line: r.line)
        }
        if !by, attr(r, "deletion") != nil { continue }  // replaces a deletion: nothing left to replace
        let key = try resolve(r, in: sub, what: what)
        if case .unit = key { continue }
        let nodes = try targets(key, in: sub, ref: r)
        guard nodes.count == 1, let t = nodes.first else {
          throw SBMLError(.unsupported, "\(what): replacing a whole submodel", line: r.line)
        }
        replacements[sref, default: []].append(Replacement(parent: p, target: t, by: by, factor: by ? nil : attr(r, "conversionFactor")))
      }
    }

    for sid in subOrder {
      let sub = subs[sid]!, sm = model.list("listOfSubmodels", "submodel").first { attr($0, "id") == sid }!
      let reps = replacements[sid] ?? []
      // Time and extent conversion (references to replaced reactions keep their replacement's units).
      let replacedIds = Set(reps.compactMap { $0.target["id"] })
      convertTimeAndExtent(
        sub.model, time: attr(sm, "timeConversionFactor"), extent: attr(sm, "extentConversionFactor"),
        skipping: replacedIds)
      for r in reps {
        if let old = r.target["id"], let new = r.parent["id"] {
          if r.target.name == "localParameter" || (r.target.name == "parameter" && isLocal(r.target, in: sub.model)) {
            // A local parameter is only visible in its kinetic law.
            var law: XMLNode?
            walkElements(sub.model) { n in
              if n.name == "kineticLaw", n.children.contains(where: { $0.children.contains { $0 === r.target } }) { law = n }
            }
            if let law { rename(law, from: old, to: new, factor: r.factor, inLocalScope: true) }
          } else {
            rename(sub.model, from: old, to: new, factor: r.factor)
          }
        } else if r.target["id"] != nil {
          throw SBMLError(.unsupported, "replacement of '\(r.target["id"]!)' by an element without an id", line: r.parent.line)
        }
        if r.by {
          if let id = r.parent["id"] { r.target.attributes["id"] = id }
          if let m = r.parent["metaid"] { r.target.attributes["metaid"] = m }
          removed.insert(ObjectIdentifier(r.parent))
          // Outer references to the parent now mean the submodel element.
          for (k, v) in inst.ids where v === r.parent { inst.ids[k] = r.target }
          for (k, v) in inst.metaids where v === r.parent { inst.metaids[k] = r.target }
        } else {
          removed.insert(ObjectIdentifier(r.target))
          for (k, v) in sub.ids where v === r.target { sub.ids[k] = r.parent }
          for (k, v) in sub.metaids where v === r.target { sub.metaids[k] = r.parent }
        }
      }
      // Merge the instance's lists into the model and its tables into ours.
      var merged: [XMLNode] = []
      for name in listNames {
        guard let list = sub.model.child(name), !list.children.isEmpty else { continue }
        let dest: XMLNode
        if let d = model.child(name) {
          dest = d
        } else {
          dest = XMLNode(name: name, attributes: [:], line: list.line)
          model.children.append(dest)
        }
        dest.children.append(contentsOf: list.children)
        merged.append(contentsOf: list.children)
      }
      inst.submodels[sid] = merged
      let p = sid + "__"
      for (k, v) in sub.ids { inst.ids[p + k] = v }
      for (k, v) in sub.metaids { inst.metaids[p + k] = v }
      for (k, v) in sub.submodels { inst.submodels[p + k] = v }
      for (k, v) in sub.ports {
        switch v {
        case .id(let key): inst.ports[p + k] = .id(p + key)
        case .meta(let key): inst.ports[p + k] = .meta(p + key)
        default: inst.ports[p + k] = v
        }
      }
    }
    // This model's ports, as path keys.
    for port in model.list("listOfPorts", "port") {
      guard let pid = attr(port, "id") else { throw SBMLError(.invalid, "port without id", line: port.line) }
      inst.ports[pid] = try refKey(port, in: inst, prefix: "", what: "port '\(pid)'")
    }
    stripComp(model)
    return inst
  }

  /// The path key an SBaseRef chain points at.
  static func refKey(_ ref: XMLNode, in inst: Instance, prefix: String, what: String) throws -> RefKey {
    var key: RefKey
    if let p = attr(ref, "portRef") {
      guard let k = inst.ports[prefix + p] else { throw SBMLError(.invalid, "\(what): unknown port '\(p)'", line: ref.line) }
      key = k
    } else if let i = attr(ref, "idRef") {
      key = .id(prefix + i)
    } else if let m = attr(ref, "metaIdRef") {
      key = .meta(prefix + m)
    } else if attr(ref, "unitRef") != nil {
      key = .unit
    } else if attr(ref, "deletion") != nil {
      key = .none
    } else {
      throw SBMLError(.invalid, "\(what): no idRef, metaIdRef, portRef or unitRef", line: ref.line)
    }
    if let child = ref.child("sBaseRef") {
      guard case .id(let sub) = key, inst.submodels[sub] != nil else {
        throw SBMLError(.invalid, "\(what): sBaseRef inside something that is not a submodel", line: child.line)
      }
      key = try refKey(child, in: inst, prefix: sub + "__", what: what)
    }
    return key
  }

  static func resolve(_ ref: XMLNode, in inst: Instance, what: String) throws -> RefKey {
    try refKey(ref, in: inst, prefix: "", what: what)
  }

  /// The element nodes a key denotes (a whole submodel gives all of its elements).
  static func targets(_ key: RefKey, in inst: Instance, ref: XMLNode) throws -> [XMLNode] {
    switch key {
    case .id(let k):
      if let n = inst.ids[k] { return [n] }
      if let s = inst.submodels[k] { return s }
      throw SBMLError(.invalid, "comp reference to unknown id '\(k)'", line: ref.line)
    case .meta(let k):
      if let n = inst.metaids[k] { return [n] }
      throw SBMLError(.invalid, "comp reference to unknown metaid '\(k)'", line: ref.line)
    case .unit, .none: return []
    }
  }

  // MARK: Tree helpers

  static func deepCopy(_ n: XMLNode) -> XMLNode {
    let c = XMLNode(name: n.name, attributes: n.attributes, line: n.line)
    c.text = n.text
    c.children = n.children.map(deepCopy)
    return c
  }

  /// Visits every non-math element below `n` (and `n`), skipping comp lists.
  static func walkElements(_ n: XMLNode, _ f: (XMLNode) -> Void) {
    f(n)
    for c in n.children where c.name != "math" && !compChildren.contains(c.name) && c.name != "annotation" && c.name != "notes" {
      walkElements(c, f)
    }
  }

  /// Visits every node, math included.
  static func walkAll(_ n: XMLNode, _ f: (XMLNode) -> Void) {
    f(n)
    for c in n.children where c.name != "annotation" && c.name != "notes" { walkAll(c, f) }
  }

  static func prune(_ n: XMLNode, _ removed: Set<ObjectIdentifier>) {
    n.children.removeAll { removed.contains(ObjectIdentifier($0)) }
    for c in n.children { prune(c, removed) }
    // An emptied list would be invalid SBML; drop it.
    n.children.removeAll { $0.name.hasPrefix("listOf") && $0.children.isEmpty }
  }

  static func stripComp(_ n: XMLNode) {
    n.children.removeAll { compChildren.contains($0.name) }
    for c in n.children where c.name != "math" { stripComp(c) }
  }

  static func ci(_ id: String) -> XMLNode {
    let n = XMLNode(name: "ci", attributes: [:], line: 0)
    n.text = " \(id) "
    return n
  }

  static func apply(_ op: String, _ args: [XMLNode]) -> XMLNode {
    let n = XMLNode(name: "apply", attributes: [:], line: 0)
    n.children = [XMLNode(name: op, attributes: [:], line: 0)] + args
    return n
  }

  /// Rewrites a `<math>` node's expression.
  static func mapMath(_ math: XMLNode?, _ f: (XMLNode) -> XMLNode) {
    guard let math, let i = math.children.firstIndex(where: { $0.name != "annotation" && $0.name != "annotation-xml" }) else { return }
    math.children[i] = f(math.children[i])
  }

  /// Replaces math nodes bottom-up.
  static func rewrite(_ n: XMLNode, _ f: (XMLNode) -> XMLNode?) -> XMLNode {
    n.children = n.children.map { rewrite($0, f) }
    return f(n) ?? n
  }

  static func ciText(_ n: XMLNode) -> String { MathMLReader.text(n) }

  /// Prefixes every SId, SIdRef, metaid and `ci` below the instance model.
  static func prefix(_ model: XMLNode, with p: String) {
    walkAll(model) { n in
      guard n !== model else { return }
      if n.name == "ci" {
        n.text = " " + p + ciText(n) + " "
        return
      }
      for (k, v) in n.attributes where k == "id" || k == "metaid" || sidRefAttributes.contains(k) {
        n.attributes[k] = p + v
      }
    }
  }

  /// Renames `old` to `new` in SIdRefs and math below `model`; with a conversion factor f,
  /// references become `new/f` and assignments to it are multiplied by f.
  static func isLocal(_ node: XMLNode, in model: XMLNode) -> Bool {
    var found = false
    walkElements(model) { n in
      if n.name == "kineticLaw", n.list("listOfParameters", "parameter").contains(where: { $0 === node }) { found = true }
    }
    return found
  }

  static func rename(_ model: XMLNode, from old: String, to new: String, factor: String?, inLocalScope: Bool = false) {
    func visit(_ n: XMLNode, shadowed: Bool) {
      var shadowed = shadowed
      if n.name == "kineticLaw" && !inLocalScope {
        let locals = n.list("listOfLocalParameters", "localParameter") + n.list("listOfParameters", "parameter")
        if locals.contains(where: { $0["id"] == old }) { shadowed = true }
      }
      for k in sidRefAttributes where n[k] == old { n.attributes[k] = new }
      if let f = factor, ["assignmentRule", "rateRule", "eventAssignment", "initialAssignment"].contains(n.name),
        (n["variable"] ?? n["symbol"]) == new
      {
        mapMath(n.child("math")) { apply("times", [$0, ci(f)]) }
      }
      for (i, c) in n.children.enumerated() {
        if c.name == "math" {
          if shadowed { continue }
          n.children[i] = rewrite(c) { m in
            guard m.name == "ci", ciText(m) == old else { return nil }
            if let f = factor { return apply("divide", [ci(new), ci(f)]) }
            return ci(new)
          }
        } else {
          visit(c, shadowed: shadowed)
        }
      }
    }
    visit(model, shadowed: false)
  }

  /// Applies a submodel's time and extent conversion factors to its instance.
  static func convertTimeAndExtent(_ model: XMLNode, time t: String?, extent x: String?, skipping replaced: Set<String>) {
    guard t != nil || x != nil else { return }
    // The kinetic-law modifier x/t (or x, or 1/t).
    func klmod() -> XMLNode {
      switch (x, t) {
      case (let x?, let t?): return apply("divide", [ci(x), ci(t)])
      case (let x?, nil): return ci(x)
      case (nil, let t?): return apply("divide", [cnOne(), ci(t)])
      default: return cnOne()
      }
    }
    func cnOne() -> XMLNode {
      let n = XMLNode(name: "cn", attributes: ["type": "integer"], line: 0)
      n.text = " 1 "
      return n
    }
    // Reaction ids referenced in math are divided by klmod (unless replaced).
    let reactions = model.list("listOfReactions", "reaction").compactMap { $0["id"] }.filter { !replaced.contains($0) }
    let rxnSet = Set(reactions)
    func convertMath(_ e: XMLNode) -> XMLNode {
      rewrite(e) { m in
        if m.name == "ci", rxnSet.contains(ciText(m)) { return apply("divide", [ci(ciText(m)), klmod()]) }
        guard let t else { return nil }
        if m.name == "csymbol", (m["definitionURL"] ?? "").hasSuffix("/time") { return apply("divide", [m, ci(t)]) }
        if m.name == "apply", let h = m.children.first, h.name == "csymbol", (h["definitionURL"] ?? "").hasSuffix("/delay"),
          m.children.count == 3
        {
          m.children[2] = apply("times", [ci(t), m.children[2]])
        }
        return nil
      }
    }
    func visit(_ n: XMLNode) {
      for c in n.children {
        if c.name == "math" {
          mapMath(c, convertMath)
          switch n.name {
          case "kineticLaw": mapMath(c) { apply("times", [klmod(), $0]) }
          case "delay": if let t { mapMath(c) { apply("times", [ci(t), $0]) } }
          case "rateRule": if let t { mapMath(c) { apply("divide", [$0, ci(t)]) } }
          default: break
          }
        } else {
          visit(c)
        }
      }
    }
    visit(model)
  }
}
