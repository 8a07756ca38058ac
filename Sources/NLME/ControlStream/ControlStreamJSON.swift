import Foundation
import StatKit

/// The JSON form of a control stream, for people without NONMEM habits: the same records as
/// named fields, the code as text (a string or a list of lines), the estimates as objects.
/// Guides/Estimation.md gives the fields; an unknown field is refused by name.
///
/// ```json
/// { "problem": "…", "data": "pheno.csv", "input": ["ID", "TIME", {"name": "FA1", "drop": true}],
///   "subroutine": "ADVAN1 TRANS2", "pk": ["CL = THETA(1)*EXP(ETA(1))", "V = THETA(2)"],
///   "error": "Y = F + F*EPS(1)",
///   "theta": [{"name": "CL", "initial": 0.005, "lower": 0}, {"initial": 1, "lower": 0}],
///   "omega": [{"diagonal": [0.03]}, {"block": [0.03, 0.001, 0.03]}], "sigma": [{"diagonal": [0.013]}],
///   "estimation": [{"method": "focei"}], "covariance": "sandwich" }
/// ```
extension ControlStream {
  static let jsonFields: Set<String> = [
    "problem", "data", "ignore", "input", "subroutine", "tolerance", "compartments", "pk", "error", "pred", "des",
    "theta", "omega", "sigma", "estimation", "covariance", "tables", "sbml", "model", "parameters", "doses", "observations",
  ]

  /// Reads the JSON form.
  /// - Throws: ``NLMEError`` naming the file and the field at fault.
  public init(json text: String, file: String) throws {
    self.file = file
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let root = object as? [String: Any] else {
      throw NLMEError(file, "is not a JSON object")
    }
    for key in root.keys.sorted() where !Self.jsonFields.contains(key) {
      throw NLMEError(file, field: key, "unknown field (fields: \(Self.jsonFields.sorted().joined(separator: ", ")))")
    }
    func string(_ key: String) throws -> String? {
      guard let v = root[key] else { return nil }
      guard let s = v as? String else { throw NLMEError(file, field: key, "expected a string") }
      return s
    }
    func number(_ v: Any?, _ field: String) throws -> Double? {
      guard let v, !(v is NSNull) else { return nil }
      // Booleans arrive as NSNumber too, with the type code of a char.
      guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
        throw NLMEError(file, field: field, "expected a number")
      }
      return n.doubleValue
    }
    problem = try string("problem") ?? ""
    guard let dataPath = try string("data") else { throw NLMEError(file, field: "data", "missing: the data file, relative to this file") }
    data = DataRecord(path: dataPath, line: 0)
    if let c = try string("ignore") {
      guard c.count == 1, let ch = c.first else { throw NLMEError(file, field: "ignore", "expected one character") }
      data?.ignoreCharacter = ch
    } else {
      data?.ignoreCharacter = "@"
    }
    guard let items = root["input"] as? [Any], !items.isEmpty else {
      throw NLMEError(file, field: "input", "expected a list of column names")
    }
    input = try items.enumerated().map { k, item in
      if let name = item as? String { return InputItem(name: name.uppercased(), synonym: nil, dropped: false) }
      guard let o = item as? [String: Any], let name = o["name"] as? String else {
        throw NLMEError(file, field: "input[\(k)]", "expected a name or {\"name\": …, \"drop\": true}")
      }
      return InputItem(name: name.uppercased(), synonym: (o["synonym"] as? String)?.uppercased(), dropped: o["drop"] as? Bool ?? false)
    }
    if let sub = try string("subroutine") {
      try readSubroutines([(1, sub)], line: 1)
    }
    if let tol = root["tolerance"] {
      guard let n = tol as? Int, (1...15).contains(n) else { throw NLMEError(file, field: "tolerance", "expected an integer 1–15") }
      tolerance = n
    }
    if let comps = root["compartments"] {
      guard let list = comps as? [[String: Any]] else { throw NLMEError(file, field: "compartments", "expected a list of objects") }
      compartments = try list.enumerated().map { k, c in
        guard let name = c["name"] as? String else { throw NLMEError(file, field: "compartments[\(k)].name", "missing") }
        return Compartment(
          name: name.uppercased(), defaultDose: c["default_dose"] as? Bool ?? false,
          defaultObservation: c["default_observation"] as? Bool ?? false)
      }
    }
    var parser = CodeParser(file: file, symbols: SymbolTable())
    for (key, record) in [("pk", "$PK"), ("error", "$ERROR"), ("pred", "$PRED"), ("des", "$DES")] {
      guard let v = root[key] else { continue }
      let lines: [String]
      if let s = v as? String {
        lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      } else if let l = v as? [String] {
        lines = l
      } else {
        throw NLMEError(file, field: key, "expected the code as a string or a list of lines")
      }
      let block: CodeBlock
      do {
        block = try parser.block(record, lines: lines.enumerated().map { ($0.offset + 1, $0.element) })
      } catch let e as NLMEError {
        throw NLMEError(file, line: e.line, field: key, e.message)
      }
      switch key {
      case "pk": pk = block
      case "error": error = block
      case "pred": pred = block
      default: des = block
      }
    }
    try readSBMLMapping(root, parser: &parser)
    guard let thetaList = root["theta"] as? [[String: Any]] else { throw NLMEError(file, field: "theta", "expected a list of objects") }
    thetas = try thetaList.enumerated().map { k, t in
      let field = "theta[\(k)]"
      guard let initial = try number(t["initial"], field + ".initial") else { throw NLMEError(file, field: field + ".initial", "missing") }
      let theta = Theta(
        lower: try number(t["lower"], field + ".lower") ?? -.infinity, initial: initial,
        upper: try number(t["upper"], field + ".upper") ?? .infinity, fixed: t["fixed"] as? Bool ?? false)
      guard theta.fixed || (theta.lower < theta.initial && theta.initial < theta.upper) else {
        throw NLMEError(file, field: field, "initial value \(initial) is not strictly inside its bounds")
      }
      return theta
    }
    func blocks(_ key: String) throws -> [VarianceBlock] {
      guard let v = root[key] else { return [] }
      guard let list = v as? [[String: Any]] else {
        throw NLMEError(file, field: key, "expected a list of {\"diagonal\": […]} or {\"block\": […]}")
      }
      var out: [VarianceBlock] = []
      for (k, b) in list.enumerated() {
        let field = "\(key)[\(k)]"
        let fixed = b["fixed"] as? Bool ?? false
        if let d = b["diagonal"] as? [Any] {
          let values = try d.map { try number($0, field + ".diagonal") ?? .nan }
          guard !values.isEmpty, values.allSatisfy({ $0 >= 0 }) else {
            throw NLMEError(file, field: field, "variances must be given and not negative")
          }
          out.append(VarianceBlock(size: values.count, block: false, values: values, fixed: fixed, same: false))
        } else if let l = b["block"] as? [Any] {
          let values = try l.map { try number($0, field + ".block") ?? .nan }
          let size = Int((Double(8 * values.count + 1).squareRoot() - 1) / 2)
          guard size * (size + 1) / 2 == values.count, size >= 1 else {
            throw NLMEError(file, field: field, "a block's lower triangle has 1, 3, 6, … values, not \(values.count)")
          }
          let block = VarianceBlock(size: size, block: true, values: values, fixed: fixed, same: false)
          guard cholesky(ControlStream.matrix([block]), size) != nil else { throw NLMEError(file, field: field, "not positive definite") }
          out.append(block)
        } else if b["same"] as? Bool == true, let last = out.last, last.block {
          out.append(VarianceBlock(size: last.size, block: true, values: last.values, fixed: true, same: true))
        } else {
          throw NLMEError(file, field: field, "expected \"diagonal\", \"block\" or \"same\": true after a block")
        }
      }
      return out
    }
    omegas = try blocks("omega")
    sigmas = try blocks("sigma")
    if let steps = root["estimation"] {
      guard let list = steps as? [[String: Any]] else { throw NLMEError(file, field: "estimation", "expected a list of objects") }
      estimations = try list.enumerated().map { k, e in
        let field = "estimation[\(k)]"
        let name = (e["method"] as? String ?? "").uppercased().replacingOccurrences(of: "FOCEI", with: "FOCE-I")
        guard let method = EstimationStep.Method(rawValue: name) else {
          throw NLMEError(file, field: field + ".method", "expected fo, foce, focei, laplace, saem or imp")
        }
        var step = EstimationStep(method: method, line: 0)
        func count(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
          guard let v = e[key] else { return nil }
          guard let n = v as? Int, range.contains(n) else {
            throw NLMEError(file, field: "\(field).\(key)", "expected an integer \(range.lowerBound)–\(range.upperBound)")
          }
          return n
        }
        step.maxEvaluations = try count("maxeval", 0...1_000_000)
        step.samples = try count("isample", 1...100_000)
        step.burnIn = try count("nburn", 0...100_000)
        step.iterations = try count("niter", 1...100_000)
        step.seed = try count("seed", 0...Int(Int32.max)).map(UInt64.init)
        step.evaluateOnly = e["eonly"] as? Bool ?? false
        return step
      }
    }
    if let c = root["covariance"], !(c is NSNull) {
      guard let s = c as? String, let m = CovarianceStep.Matrix(rawValue: s == "sandwich" ? s : s.uppercased()) else {
        throw NLMEError(file, field: "covariance", "expected \"sandwich\", \"R\" or \"S\"")
      }
      covariance = CovarianceStep(matrix: m)
    }
    if let t = root["tables"] {
      guard let list = t as? [[String: Any]] else { throw NLMEError(file, field: "tables", "expected a list of objects") }
      tables = try list.enumerated().map { k, o in
        guard let items = o["items"] as? [String], let name = o["file"] as? String, !name.contains("/"), !name.isEmpty else {
          throw NLMEError(file, field: "tables[\(k)]", "expected {\"items\": […], \"file\": name}")
        }
        return TableRecord(items: items.map { $0.uppercased() }, file: name, firstOnly: false, noAppend: true)
      }
    }
    symbols = parser.symbols
    try check()
  }
}

extension ControlStream {
  /// `sbml` (a file) or `model` (a built-in model), `parameters` ({"id": "expression"}),
  /// `doses` ({"CMT": "species or rate-rule symbol"}) and `observations` ({"CMT": "symbol"},
  /// or a sum of symbols, "E_B + M_B").
  mutating func readSBMLMapping(_ root: [String: Any], parser: inout CodeParser) throws {
    let source: String
    if let f = root["sbml"] as? String {
      source = f
    } else if let m = root["model"] as? String {
      source = "builtin:" + m
    } else {
      for key in ["parameters", "doses", "observations"] where root[key] != nil {
        throw NLMEError(file, field: key, "only with \"sbml\" or \"model\"")
      }
      return
    }
    guard pred == nil, des == nil, advan == nil else {
      throw NLMEError(file, field: root["sbml"] != nil ? "sbml" : "model", "an SBML or built-in model replaces pred, des and subroutine")
    }
    guard let params = root["parameters"] as? [String: Any] else {
      throw NLMEError(file, field: "parameters", "expected {\"SBML parameter id\": \"expression\"}")
    }
    var mapped: [(String, String)] = []
    var statements: [Statement] = []
    for (k, id) in params.keys.sorted().enumerated() {
      guard let expr = params[id] as? String else { throw NLMEError(file, field: "parameters.\(id)", "expected an expression") }
      let variable = "SBML(\(k + 1))"
      let block: CodeBlock
      do {
        block = try parser.block("parameters", lines: [(1, "SBMLP\(k + 1) = " + expr)])
      } catch let e as NLMEError {
        throw NLMEError(file, field: "parameters.\(id)", e.message)
      }
      // The parser named the target SBMLP<k>; rename it to the mapping's variable.
      let target = parser.symbols.slot(variable)
      for case .assign(_, let e) in block.statements { statements.append(.assign(target, e)) }
      mapped.append((id, variable))
    }
    func compartments(_ key: String) throws -> [Int: String] {
      guard let o = root[key] as? [String: String], !o.isEmpty else {
        throw NLMEError(file, field: key, "expected {\"CMT number\": \"id\"}")
      }
      var out: [Int: String] = [:]
      for (k, v) in o {
        guard let n = Int(k), (1...NLMELimits.maxCompartments).contains(n) else {
          throw NLMEError(file, field: "\(key).\(k)", "a CMT number 1–\(NLMELimits.maxCompartments)")
        }
        out[n] = v
      }
      return out
    }
    sbml = SBMLMapping(source: source, parameters: mapped, doses: try compartments("doses"), observations: try compartments("observations"))
    var block = pk ?? CodeBlock(record: "$PK", statements: [])
    block.statements += statements
    pk = block
  }
}
