import CARTModels
import CSVKit
import Foundation
import NLME
import StatKit

/// A covariate value: a number or a category.
public enum CovariateValue: Sendable, Equatable, CustomStringConvertible {
  case number(Double)
  case category(String)
  public var description: String {
    switch self {
    case .number(let x): return formatNumber(x)
    case .category(let s): return s
    }
  }
  var number: Double? { if case .number(let x) = self { return x } else { return nil } }
}

/// How a population is made: covariates drawn from distributions or read from a CSV,
/// inter-individual variability on model parameters (correlated through a Cholesky factor),
/// and covariate effects on the typical parameter values.
public struct PopulationSpec: Sendable {
  /// Covariates that set the ``Patient`` of the model.
  public static let patientCovariates = PatientField.keys

  /// The patient covariate that `name`, not one itself, looks like a slip for ("weight" or
  /// "Weight_kg" for "weight_kg"): the model would silently keep the arm's value.
  static func lookalike(_ name: String) -> String? {
    let x = name.lowercased()
    guard !patientCovariates.contains(name) else { return nil }
    return patientCovariates.first { k in x == k || k.hasPrefix(x + "_") || editDistance(x, k) <= 2 }
  }

  public enum CovariateSource: Sendable {
    case distribution(Distribution)
    case categories([(name: String, probability: Double)])
  }

  public struct Variability: Sendable {
    public var parameter: String
    /// Centred on the arm's value of the parameter (or the spec's median/mean) times the
    /// covariate effects.
    public var distribution: Distribution
    /// The center is the arm's parameter value (no median/mean in the spec).
    public var centerFromModel: Bool
  }

  public struct CovariateEffect: Sendable {
    public enum Form: Sendable {
      case power(reference: Double, exponent: Double)
      case linear(reference: Double, slope: Double)
      case exponential(reference: Double, slope: Double)
      case factors([String: Double])
    }
    public var parameter: String
    public var covariate: String
    public var form: Form

    func factor(_ value: CovariateValue) -> Double {
      switch (form, value) {
      case let (.power(ref, e), .number(x)): return Foundation.pow(x / ref, e)
      case let (.linear(ref, s), .number(x)): return max(0, 1 + s * (x - ref))
      case let (.exponential(ref, s), .number(x)): return Foundation.exp(s * (x - ref))
      case let (.factors(f), .category(c)): return f[c] ?? 1
      default: preconditionFailure("covariate effect kind checked when the spec was read")
      }
    }
  }

  /// A table of patients (one row each): numeric columns are numbers, others categories.
  public struct Table: Sendable {
    public var file: String
    public var columns: [String]
    public var rows: [[CovariateValue]]
    public var bootstrap: Bool
  }

  /// Covariates by name, sorted (draws are made in this order).
  public var covariates: [(name: String, source: CovariateSource)] = []
  public var table: Table?
  public var variability: [Variability] = []
  public var effects: [CovariateEffect] = []
  /// A fitted population model (`fitted`: a JSON population model with a built-in model
  /// mapping and the fit.json of `cartsim nlme fit`) that gives each patient the parameters
  /// it maps, from ETAs drawn from the fitted Ω and the fitted THETAs.
  public var fitted: FittedPopulation?
  /// Names of the correlated normal variates: continuous covariates, then parameters.
  public var latentNames: [String] = []
  /// Lower Cholesky factor of their correlation matrix, row-major.
  public var cholesky: [Double] = []

  /// Covariate names as written to patients.csv (sorted), with `bsa_m2` derived.
  public var covariateColumns: [String] {
    var names = Set(covariates.map(\.name)).union(table?.columns ?? []).union(Self.patientCovariates)
    names.insert("bsa_m2")
    return names.sorted()
  }

  /// Reads a trial spec's `population`: one reader per block, in this order (the correlations
  /// need the covariates and the variability; the effects need the covariates).
  static func parse(_ r: inout FieldReader, baseDir: String, models: [String]) throws -> PopulationSpec {
    var spec = PopulationSpec()
    try spec.readCovariates(&r)
    try spec.readCSV(&r, baseDir: baseDir)
    try spec.readVariability(&r, models: models)
    try spec.readEffects(&r, models: models)
    try spec.readCorrelations(&r)
    try spec.readFitted(&r, baseDir: baseDir, models: models)
    try r.finish()
    return spec
  }

  static func readTable(path: String, shownAs: String, bootstrap: Bool) throws -> Table {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw InputError(file: shownAs, path: "", message: "cannot read the patient table")
    }
    return try parseTable(text, shownAs: shownAs, bootstrap: bootstrap)
  }

  /// Checks a covariate table as `population.csv` reads it; returns its columns and row
  /// count. (For the fuzz target; errors are those a spec's CSV gets.)
  public static func checkCovariateTable(_ text: String, file: String) throws -> (columns: [String], rows: Int) {
    let t = try parseTable(text, shownAs: file, bootstrap: false)
    return (t.columns, t.rows.count)
  }

  /// RFC 4180 (a quoted cell may hold commas); cells are trimmed of white space and lines of
  /// white space only skipped. Errors give the line in the file.
  static func parseTable(_ text: String, shownAs: String, bootstrap: Bool) throws -> Table {
    let table: CSVTable
    do {
      table = try CSV.parse(text, source: shownAs, skip: { $0.count == 1 && $0[0].trimmingCharacters(in: .whitespaces).isEmpty })
    } catch let e as CSVError {
      throw InputError(file: shownAs, path: e.place, message: e.message)
    }
    guard !table.header.isEmpty else { throw InputError(file: shownAs, path: "", message: "the patient table is empty") }
    let columns = table.header.map { $0.trimmingCharacters(in: .whitespaces) }
    var rows: [[CovariateValue]] = []
    for (row, line) in zip(table.rows, table.lines) {
      let cells = row.map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count == columns.count else {
        throw InputError(file: shownAs, path: "line \(line)", message: "has \(cells.count) fields; the header has \(columns.count)")
      }
      // "inf" and "nan" are no numbers here: a covariate is finite.
      rows.append(cells.map { Double($0).flatMap { $0.isFinite ? $0 : nil }.map(CovariateValue.number) ?? .category($0) })
    }
    guard !rows.isEmpty else { throw InputError(file: shownAs, path: "", message: "the patient table has no rows") }
    for (j, col) in columns.enumerated() {
      let numeric = rows[0][j].number != nil
      for (i, row) in rows.enumerated() where (row[j].number != nil) != numeric {
        throw InputError(file: shownAs, path: "line \(table.lines[i]), column '\(col)'", message: "mixes numbers and categories")
      }
      if PopulationSpec.patientCovariates.contains(col) {
        let upper = Limits.patientUpperBounds[col] ?? .greatestFiniteMagnitude
        for (i, row) in rows.enumerated() where !(row[j].number.map { $0 > 0 && $0 <= upper } ?? false) {
          throw InputError(
            file: shownAs, path: "line \(table.lines[i]), column '\(col)'", message: "must be a positive number ≤ \(fmt(upper))")
        }
      }
    }
    return Table(file: shownAs, columns: columns, rows: rows, bootstrap: bootstrap)
  }
}

/// One virtual patient: covariates, the model ``Patient`` and the sampled parameter values.
public struct VirtualPatient: Sendable {
  public var arm: Int
  public var id: Int
  public var covariates: [String: CovariateValue]
  public var patient: Patient
  public var parameters: [(name: String, value: Double)]
}

extension PopulationSpec {
  /// Patient `id` of arm `arm` for the trial seed: a pure function of (seed, arm, id) — of
  /// (seed, id) in a paired trial — so any thread or shard makes the same patient.
  public func sample(seed: UInt64, arm: Int, id: Int, paired: Bool, base: Patient, modelDefaults: ParameterSet) -> VirtualPatient {
    var rng = RandomStream(seed: seed, id: RandomStream.address(paired ? 0 : UInt64(arm) + 1, UInt64(id), 0))
    let m = latentNames.count
    let raw = (0..<m).map { _ in rng.normal() }
    var z = [Double](repeating: 0, count: m)
    for i in 0..<m { for k in 0...i { z[i] += cholesky[i * m + k] * raw[k] } }

    var cov: [String: CovariateValue] = [:]
    var latent = 0
    for (name, source) in covariates {
      switch source {
      case .distribution(let d):
        cov[name] = .number(d.value(z[latent]))
        latent += 1
      case .categories: break
      }
    }
    for (name, source) in covariates {
      if case .categories(let list) = source {
        let u = rng.uniform()
        var acc = 0.0
        var pick = list.last!.name
        for (c, p) in list {
          acc += p
          if u < acc {
            pick = c
            break
          }
        }
        cov[name] = .category(pick)
      }
    }
    if let table {
      let row = table.bootstrap ? min(Int(rng.uniform() * Double(table.rows.count)), table.rows.count - 1) : id % table.rows.count
      for (j, col) in table.columns.enumerated() { cov[col] = table.rows[row][j] }
    }
    var patient = base
    for f in PatientField.allCases {
      patient[keyPath: f.keyPath] = cov[f.rawValue]?.number ?? base[keyPath: f.keyPath]
      cov[f.rawValue] = .number(patient[keyPath: f.keyPath])
    }
    cov["bsa_m2"] = .number(patient.bsa)

    // Typical values with covariate effects, then variability.
    var parameters: [(String, Double)] = []
    var effected = Set<String>()
    for v in variability {
      var d = v.distribution
      if v.centerFromModel { d.center = modelDefaults[v.parameter] }
      for e in effects where e.parameter == v.parameter { d.center *= e.factor(cov[e.covariate]!) }
      effected.insert(v.parameter)
      parameters.append((v.parameter, d.value(z[latent])))
      latent += 1
    }
    // Effects on parameters without variability scale the model's value.
    var others: [String: Double] = [:]
    for e in effects where !effected.contains(e.parameter) {
      others[e.parameter, default: modelDefaults[e.parameter]] *= e.factor(cov[e.covariate]!)
    }
    for name in others.keys.sorted() { parameters.append((name, others[name]!)) }
    if let fitted {
      // The fitted model's parameters, from draws after all others (so adding it changes no
      // other draw); covariates reach its $PK by name (weight_kg as WEIGHT_KG).
      let z = (0..<fitted.draws).map { _ in rng.normal() }
      let numeric = cov.compactMapValues(\.number)
      let items = Dictionary(uniqueKeysWithValues: numeric.map { ($0.key.uppercased(), $0.value) })
      parameters += fitted.individual(z: z, covariates: items).map { ($0.id, $0.value) }
    }
    return VirtualPatient(arm: arm, id: id, covariates: cov, patient: patient, parameters: parameters)
  }

  /// Names of the per-patient parameter columns (variability, then effect-only parameters).
  public var parameterColumns: [String] {
    let v = variability.map(\.parameter)
    return v + Set(effects.map(\.parameter)).subtracting(v).sorted() + (fitted?.parameterIDs ?? [])
  }
}
