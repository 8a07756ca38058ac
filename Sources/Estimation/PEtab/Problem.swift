import Foundation
import SBMLDocument
import SBMLKit

/// A PEtab 1.0 problem: the SBML model and the condition, observable, measurement and
/// parameter tables (Schmiester et al. 2021, PLoS Comput. Biol. 17:e1008646,
/// doi:10.1371/journal.pcbi.1008646; format reference petab.readthedocs.io, v1).
///
/// Reading checks every cross-reference; a malformed problem throws a ``PEtabError`` that
/// names the file, the row and the column.
public struct PEtabProblem: Sendable {
  /// A cell that is a number, a parameter id, or empty/NaN (no override).
  public enum Value: Sendable, Equatable {
    case number(Double)
    case parameter(String)
    case none
  }
  public enum Scale: String, Sendable, Codable { case lin, log, log10 }
  public enum Transformation: String, Sendable { case lin, log, log10 }
  public enum NoiseDistribution: String, Sendable { case normal, laplace }

  public struct Condition: Sendable {
    public var id: String
    /// Model entity id → value, for the table's columns (NaN cells are `.none`).
    public var overrides: [String: Value]
  }
  public struct Observable: Sendable {
    public var id: String
    public var formula: Formula
    public var noise: Formula
    public var transformation: Transformation
    public var distribution: NoiseDistribution
    /// Number of `observableParameter{k}_{id}` and `noiseParameter{k}_{id}` placeholders.
    public var observablePlaceholders: Int
    public var noisePlaceholders: Int
  }
  public struct Measurement: Sendable {
    public var observable: Int
    public var condition: Int
    public var preequilibration: Int?
    public var time: Double
    public var value: Double
    public var observableParameters: [Value]
    public var noiseParameters: [Value]
    /// The row of the measurement file (for messages and output order).
    public var row: Int
  }
  public struct Prior: Sendable, Equatable {
    public var type: String
    public var parameters: [Double]
  }
  public struct Parameter: Sendable {
    public var id: String
    public var scale: Scale
    public var lower: Double
    public var upper: Double
    public var nominal: Double
    public var estimate: Bool
    public var objectivePrior: Prior?
    public var initializationPrior: Prior?
  }

  public var name: String
  public var directory: URL
  public var model: SBMLModel
  public var conditions: [Condition]
  public var observables: [Observable]
  public var measurements: [Measurement]
  public var parameters: [Parameter]
  /// Column headers of the measurement table (to write the simulation table alike).
  public var measurementColumns: [String]
  public var measurementTable: PEtabTable

  /// Indices of the estimated parameters, in table order.
  public var estimated: [Int] { parameters.indices.filter { parameters[$0].estimate } }

  public static func load(_ path: String) throws -> PEtabProblem {
    let url = URL(fileURLWithPath: path)
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw PEtabError(file: path, "cannot be read (\(error.localizedDescription))") }
    guard let text = String(data: data, encoding: .utf8) else { throw PEtabError(file: path, "is not UTF-8 text") }
    let yaml = try YAML.parse(text, file: path)
    let dir = url.deletingLastPathComponent()
    guard let version = yaml["format_version"]?.string else { throw PEtabError(file: path, column: "format_version", "is missing") }
    guard version == "1" || version == "1.0.0" || version == "1.0" else {
      throw PEtabError(file: path, column: "format_version", "'\(version)' is not supported (PEtab 1 is)")
    }
    guard let parameterFile = yaml["parameter_file"]?.strings, parameterFile.count == 1 else {
      throw PEtabError(file: path, column: "parameter_file", "one parameter file is required")
    }
    guard let problems = yaml["problems"]?.array, problems.count == 1 else {
      throw PEtabError(file: path, column: "problems", "exactly one problem is required")
    }
    let p = problems[0]
    func files(_ key: String) throws -> [String] {
      guard let f = p[key]?.strings, !f.isEmpty else {
        throw PEtabError(file: path, column: "problems[0].\(key)", "at least one file is required")
      }
      return f
    }
    let sbml = try files("sbml_files")
    guard sbml.count == 1 else { throw PEtabError(file: path, column: "problems[0].sbml_files", "exactly one SBML model is required") }
    func table(_ f: String) throws -> PEtabTable {
      guard !f.hasPrefix("/"), !f.contains("..") || FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path) else {
        throw PEtabError(file: path, "file '\(f)' not found")
      }
      return try PEtabTable(contentsOf: dir.appendingPathComponent(f), name: f)
    }
    let modelURL = dir.appendingPathComponent(sbml[0])
    let model: SBMLModel
    do { model = try SBMLModel.load(path: modelURL.path) } catch { throw PEtabError(file: sbml[0], "\(error)") }
    return try PEtabProblem(
      name: url.deletingPathExtension().lastPathComponent, directory: dir, model: model,
      conditionTables: try files("condition_files").map(table), observableTables: try files("observable_files").map(table),
      measurementTables: try files("measurement_files").map(table), parameterTable: try table(parameterFile[0]))
  }

  public init(
    name: String, directory: URL, model: SBMLModel, conditionTables: [PEtabTable], observableTables: [PEtabTable],
    measurementTables: [PEtabTable], parameterTable pt: PEtabTable
  ) throws {
    self.name = name
    self.directory = directory
    self.model = model
    let modelIDs = Set(model.parameters.map(\.id) + model.species.map(\.id) + model.compartments.map(\.id))

    // Parameters.
    for c in ["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"] { try pt.require(c) }
    var parameters: [Parameter] = []
    var parameterIndex: [String: Int] = [:]
    for r in pt.rows.indices {
      let id = try pt.identifier(r, "parameterId")
      guard parameterIndex[id] == nil else { throw pt.error(r, "parameterId", "'\(id)' appears twice") }
      let scaleText = pt.cell(r, "parameterScale")
      guard let scale = Scale(rawValue: scaleText.isEmpty ? "lin" : scaleText) else {
        throw pt.error(r, "parameterScale", "'\(scaleText)' is not lin, log or log10")
      }
      let estimateText = pt.cell(r, "estimate")
      guard estimateText == "0" || estimateText == "1" else { throw pt.error(r, "estimate", "must be 0 or 1, not '\(estimateText)'") }
      let estimate = estimateText == "1"
      let nominal = try pt.number(r, "nominalValue", allowNaN: estimate)
      var lower = -Double.infinity, upper = Double.infinity
      if estimate || !pt.cell(r, "lowerBound").isEmpty { lower = try pt.number(r, "lowerBound") }
      if estimate || !pt.cell(r, "upperBound").isEmpty { upper = try pt.number(r, "upperBound") }
      if estimate {
        guard lower.isFinite, upper.isFinite else { throw pt.error(r, "lowerBound", "estimated parameters need finite bounds") }
        guard lower < upper else { throw pt.error(r, "upperBound", "must be above lowerBound (\(lower))") }
        if scale != .lin && lower <= 0 { throw pt.error(r, "lowerBound", "must be positive on a \(scale.rawValue) scale") }
      }
      func prior(_ type: String, _ params: String) throws -> Prior? {
        let t = pt.cell(r, type)
        guard !t.isEmpty else { return nil }
        let known = [
          "uniform", "normal", "laplace", "logNormal", "logLaplace", "parameterScaleUniform", "parameterScaleNormal",
          "parameterScaleLaplace",
        ]
        guard known.contains(t) else { throw pt.error(r, type, "'\(t)' is not a PEtab prior") }
        let values = pt.cell(r, params).split(separator: ";").map { PEtabNumber.parse(String($0)) }
        guard values.count == 2, let a = values[0], let b = values[1], a.isFinite, b.isFinite else {
          throw pt.error(r, params, "two numbers separated by ';' are required for a \(t) prior")
        }
        if !t.hasSuffix("niform") && b <= 0 { throw pt.error(r, params, "the scale of a \(t) prior must be positive") }
        return Prior(type: t, parameters: [a, b])
      }
      let op = try prior("objectivePriorType", "objectivePriorParameters")
      let ip = try prior("initializationPriorType", "initializationPriorParameters")
      parameterIndex[id] = parameters.count
      parameters.append(
        Parameter(
          id: id, scale: scale, lower: lower, upper: upper, nominal: nominal, estimate: estimate,
          objectivePrior: op, initializationPrior: ip))
    }
    self.parameters = parameters

    func value(_ t: PEtabTable, _ r: Int, _ col: String, _ text: String) throws -> Value {
      if text.isEmpty { return .none }
      if let x = PEtabNumber.parse(text) { return x.isNaN ? .none : .number(x) }
      guard PEtabTable.isIdentifier(text) else { throw t.error(r, col, "'\(text)' is neither a number nor a parameter id") }
      guard parameterIndex[text] != nil else { throw t.error(r, col, "parameter '\(text)' is not in the parameter table") }
      return .parameter(text)
    }

    // Conditions.
    var conditions: [Condition] = []
    var conditionIndex: [String: Int] = [:]
    for t in conditionTables {
      try t.require("conditionId")
      let entityColumns = t.columns.filter { !$0.isEmpty && $0 != "conditionId" && $0 != "conditionName" }
      for c in entityColumns where !modelIDs.contains(c) {
        throw PEtabError(file: t.file, line: 1, column: c, "is not a parameter, species or compartment of the model")
      }
      for r in t.rows.indices {
        let id = try t.identifier(r, "conditionId")
        guard conditionIndex[id] == nil else { throw t.error(r, "conditionId", "'\(id)' appears twice") }
        var o: [String: Value] = [:]
        for c in entityColumns { o[c] = try value(t, r, c, t.cell(r, c)) }
        conditionIndex[id] = conditions.count
        conditions.append(Condition(id: id, overrides: o))
      }
    }
    self.conditions = conditions

    // Observables.
    var observables: [Observable] = []
    var observableIndex: [String: Int] = [:]
    for t in observableTables {
      for c in ["observableId", "observableFormula", "noiseFormula"] { try t.require(c) }
      for r in t.rows.indices {
        let id = try t.identifier(r, "observableId")
        guard observableIndex[id] == nil else { throw t.error(r, "observableId", "'\(id)' appears twice") }
        guard !modelIDs.contains(id) else { throw t.error(r, "observableId", "'\(id)' is also a model entity") }
        func formula(_ col: String) throws -> Formula {
          let text = t.cell(r, col)
          guard !text.isEmpty else { throw t.error(r, col, "a formula is required") }
          do { return try Formula(text) } catch { throw t.error(r, col, "\(error)") }
        }
        let f = try formula("observableFormula"), n = try formula("noiseFormula")
        let tt = t.cell(r, "observableTransformation"), nd = t.cell(r, "noiseDistribution")
        guard let transformation = Transformation(rawValue: tt.isEmpty ? "lin" : tt) else {
          throw t.error(r, "observableTransformation", "'\(tt)' is not lin, log or log10")
        }
        guard let distribution = NoiseDistribution(rawValue: nd.isEmpty ? "normal" : nd) else {
          throw t.error(r, "noiseDistribution", "'\(nd)' is not normal or laplace")
        }
        func placeholders(_ kind: String, _ symbols: Set<String>) throws -> Int {
          let prefix = "\(kind)Parameter", suffix = "_\(id)"
          var ks: [Int] = []
          for s in symbols where s.hasPrefix(prefix) && s.hasSuffix(suffix) {
            guard let k = Int(s.dropFirst(prefix.count).dropLast(suffix.count)), k >= 1, k <= 1000 else { continue }
            ks.append(k)
          }
          let n = ks.max() ?? 0
          guard Set(ks).count == n else { throw t.error(r, nil, "\(kind) placeholders of '\(id)' must be numbered 1…\(n) without gaps") }
          return n
        }
        let op = try placeholders("observable", f.symbols.union(n.symbols)), np = try placeholders("noise", n.symbols)
        observableIndex[id] = observables.count
        observables.append(
          Observable(
            id: id, formula: f, noise: n, transformation: transformation, distribution: distribution,
            observablePlaceholders: op, noisePlaceholders: np))
      }
    }
    self.observables = observables

    // Measurements.
    var measurements: [Measurement] = []
    guard measurementTables.count == 1 else {
      throw PEtabError(file: measurementTables.first?.file ?? "problem", "exactly one measurement file is supported")
    }
    let mt = measurementTables[0]
    for c in ["observableId", "simulationConditionId", "time", "measurement"] { try mt.require(c) }
    for r in mt.rows.indices {
      let oid = try mt.identifier(r, "observableId")
      guard let o = observableIndex[oid] else { throw mt.error(r, "observableId", "'\(oid)' is not in the observable table") }
      let cid = try mt.identifier(r, "simulationConditionId")
      guard let c = conditionIndex[cid] else { throw mt.error(r, "simulationConditionId", "'\(cid)' is not in the condition table") }
      var pre: Int? = nil
      let pid = mt.cell(r, "preequilibrationConditionId")
      if !pid.isEmpty && pid.lowercased() != "nan" {
        guard let p = conditionIndex[pid] else {
          throw mt.error(r, "preequilibrationConditionId", "'\(pid)' is not in the condition table")
        }
        pre = p
      }
      let time = try mt.number(r, "time")
      guard time >= 0 else { throw mt.error(r, "time", "must not be negative") }
      guard time.isFinite else { throw mt.error(r, "time", "steady-state measurements (inf) are not supported") }
      let m = try mt.number(r, "measurement")
      guard m.isFinite else { throw mt.error(r, "measurement", "must be finite") }
      if observables[o].transformation != .lin && m <= 0 {
        throw mt.error(
          r, "measurement", "must be positive for the \(observables[o].transformation.rawValue)-transformed observable '\(oid)'")
      }
      func list(_ col: String, _ n: Int) throws -> [Value] {
        let text = mt.cell(r, col)
        let parts =
          text.isEmpty ? [] : text.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == n || (parts.isEmpty && n == 0) else {
          throw mt.error(
            r, col,
            "observable '\(oid)' has \(n) placeholder\(n == 1 ? "" : "s"), the row gives \(parts.count) value\(parts.count == 1 ? "" : "s")"
          )
        }
        return try parts.map { p in
          let v = try value(mt, r, col, p)
          if case .none = v { throw mt.error(r, col, "a placeholder value must not be empty or NaN") }
          return v
        }
      }
      let op = try list("observableParameters", observables[o].observablePlaceholders)
      let np = try list("noiseParameters", observables[o].noisePlaceholders)
      measurements.append(
        Measurement(
          observable: o, condition: c, preequilibration: pre, time: time, value: m,
          observableParameters: op, noiseParameters: np, row: mt.line(r)))
    }
    guard !measurements.isEmpty else { throw PEtabError(file: mt.file, "has no measurements") }
    self.measurements = measurements
    self.measurementColumns = mt.columns
    self.measurementTable = mt

    // Symbols of formulas: model entities, parameters of the table, placeholders.
    for (k, o) in observables.enumerated() {
      for (formula, column) in [(o.formula, "observableFormula"), (o.noise, "noiseFormula")] {
        for s in formula.symbols {
          let placeholder = (s.hasPrefix("observableParameter") || s.hasPrefix("noiseParameter")) && s.hasSuffix("_\(o.id)")
          if placeholder || parameterIndex[s] != nil || modelIDs.contains(s) || model.reactions.contains(where: { $0.id == s })
            || observableIndex[s] != nil && s == o.id
          {
            continue
          }
          throw PEtabError(
            file: observableTables[0].file, column: column, "observable '\(observables[k].id)': '\(s)' is not a model entity or a parameter"
          )
        }
      }
    }
    // Every model-free table parameter that is estimated must be used somewhere.
    _ = parameterIndex
  }

  public func parameterIndex(_ id: String) -> Int? { parameters.firstIndex { $0.id == id } }
}

extension PEtabProblem.Scale {
  /// The value on this scale of a linear value.
  public func apply(_ x: Double) -> Double {
    switch self {
    case .lin: return x
    case .log: return Foundation.log(x)
    case .log10: return Foundation.log10(x)
    }
  }
  /// The linear value of a value on this scale.
  public func invert(_ y: Double) -> Double {
    switch self {
    case .lin: return y
    case .log: return Foundation.exp(y)
    case .log10: return Foundation.pow(10, y)
    }
  }
  /// d(linear)/d(scaled) at the scaled value y.
  public func derivative(_ y: Double) -> Double {
    switch self {
    case .lin: return 1
    case .log: return Foundation.exp(y)
    case .log10: return Foundation.pow(10, y) * Foundation.log(10)
    }
  }
}
