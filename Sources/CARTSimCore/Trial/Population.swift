import CARTModels
import CSVKit
import Foundation
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

  static func parse(_ r: inout FieldReader, baseDir: String, models: [String]) throws -> PopulationSpec {
    var spec = PopulationSpec()
    if var c = try r.object("covariates") {
      for name in c.fields.keys.sorted() {
        if let k = Self.lookalike(name) { throw c.fail(name, "looks like '\(k)' but is not it; write '\(k)' to set the model's patient") }
        var cr = try FieldReader(file: c.file, path: c.sub(name), value: c.value(name)!)
        if var cats = try cr.object("categories") {
          var list: [(String, Double)] = []
          for key in cats.fields.keys.sorted() { list.append((key, try cats.number(key, min: 0, max: 1))) }
          try cats.finish()
          let total = list.reduce(0) { $0 + $1.1 }
          guard !list.isEmpty, abs(total - 1) < 1e-9 else {
            throw cr.fail("categories", "probabilities must add up to 1 (they add up to \(fmt(total)))")
          }
          spec.covariates.append((name, .categories(list)))
        } else {
          let d = try Distribution.parse(&cr, typical: nil, defaultKind: .lognormal)
          // Normal and uniform values can fall below 0 (lognormal and logit-normal ones cannot).
          if Self.patientCovariates.contains(name) && (d.kind == .normal || d.kind == .uniform) && (d.lower ?? -1) < 0 {
            throw cr.fail("min", "'\(name)' must stay positive: give min ≥ 0 for a \(d.kind.rawValue) distribution")
          }
          spec.covariates.append((name, .distribution(d)))
        }
        try cr.finish()
      }
      try c.finish()
    }
    if r.has("csv") {
      let rel = try r.string("csv")
      let path = rel.hasPrefix("/") ? rel : (baseDir as NSString).appendingPathComponent(rel)
      let sampling = try r.string("sampling", default: "sequential", oneOf: ["sequential", "bootstrap"])
      spec.table = try readTable(path: path, shownAs: rel, bootstrap: sampling == "bootstrap")
      for col in spec.table!.columns where spec.covariates.contains(where: { $0.name == col }) {
        throw r.fail("csv", "column '\(col)' is also drawn in 'covariates'; give each covariate one source")
      }
      for col in spec.table!.columns {
        if let k = Self.lookalike(col) { throw r.fail("csv", "column '\(col)' of \(rel) looks like '\(k)' but is not it; name it '\(k)' to set the model's patient") }
      }
    }
    // Variability, sorted by parameter name.
    if var v = try r.object("variability") {
      for name in v.fields.keys.sorted() {
        var vr = try FieldReader(file: v.file, path: v.sub(name), value: v.value(name)!)
        var typical: Double? = nil
        for model in Set(models) {
          let params = ModelCatalog.describe(model)!.parameters
          guard params.contains(name) else {
            throw vr.fail("", "unknown parameter of model '\(model)'")
          }
          typical = params[name]
        }
        let explicit = vr.has("median") || vr.has("mean")
        let d = try Distribution.parse(&vr, typical: typical, defaultKind: .lognormal)
        if d.kind == .normal && (d.lower ?? -1) < 0 {
          throw vr.fail("min", "a normal distribution can make '\(name)' negative; give min ≥ 0")
        }
        if d.kind == .logitnormal && !(d.center > 0 && d.center < 1) {
          throw vr.fail("distribution", "logit-normal needs a value in (0, 1); '\(name)' is \(fmt(d.center))")
        }
        try vr.finish()
        spec.variability.append(Variability(parameter: name, distribution: d, centerFromModel: !explicit))
      }
      try v.finish()
    }
    let numericCovariates = Set(spec.covariates.compactMap { if case .distribution = $0.source { return $0.name } else { return nil } })
      .union(PopulationSpec.patientCovariates)
      .union(spec.table.map { t in t.columns.enumerated().filter { i, _ in t.rows.first.map { $0[i].number != nil } ?? false }.map(\.1) } ?? [])
    let categorical = Set(spec.covariates.compactMap { if case .categories = $0.source { return $0.name } else { return nil } })
      .union(spec.table.map { t in t.columns.enumerated().filter { i, _ in t.rows.first.map { $0[i].number == nil } ?? false }.map(\.1) } ?? [])
    for var e in try r.objects("covariate_effects") {
      let parameter = try e.string("parameter")
      for model in Set(models) where !ModelCatalog.describe(model)!.parameters.contains(parameter) {
        throw e.fail("parameter", "unknown parameter of model '\(model)'")
      }
      let cov = try e.string("covariate")
      let form: CovariateEffect.Form
      if e.has("factors") {
        guard categorical.contains(cov) else { throw e.fail("covariate", "'\(cov)' is not a categorical covariate of the population") }
        var f = try e.object("factors")!
        var map: [String: Double] = [:]
        for key in f.fields.keys { map[key] = try f.number(key, min: 0) }
        try f.finish()
        form = .factors(map)
      } else {
        guard numericCovariates.contains(cov) else { throw e.fail("covariate", "'\(cov)' is not a numeric covariate of the population") }
        let ref = try e.number("reference", min: 0, exclusiveMin: true)
        if e.has("power") { form = .power(reference: ref, exponent: try e.number("power")) }
        else if e.has("slope") {
          let kind = try e.string("form", default: "linear", oneOf: ["linear", "exponential"])
          let s = try e.number("slope")
          form = kind == "linear" ? .linear(reference: ref, slope: s) : .exponential(reference: ref, slope: s)
        } else { throw e.fail("power", "give power (allometric), slope (linear or exponential) or factors") }
      }
      try e.finish()
      spec.effects.append(CovariateEffect(parameter: parameter, covariate: cov, form: form))
    }
    // Correlations between continuous covariates and parameters.
    spec.latentNames = spec.covariates.compactMap { if case .distribution = $0.source { return $0.name } else { return nil } }
      + spec.variability.map(\.parameter)
    let m = spec.latentNames.count
    var corr = [Double](repeating: 0, count: m * m)
    for i in 0..<m { corr[i * m + i] = 1 }
    var given = Set<[Int]>()
    for var c in try r.objects("correlations") {
      guard case .array(let pair)? = c.value("between"), pair.count == 2,
            case .string(let a) = pair[0], case .string(let b) = pair[1] else {
        throw c.fail("between", "expected two names, e.g. [\"weight_kg\", \"height_cm\"]")
      }
      guard let i = spec.latentNames.firstIndex(of: a) else { throw c.fail("between", "'\(a)' is not a drawn continuous covariate or a parameter with variability") }
      guard let j = spec.latentNames.firstIndex(of: b), j != i else { throw c.fail("between", "'\(b)' is not another drawn continuous covariate or parameter with variability") }
      guard given.insert([min(i, j), max(i, j)]).inserted else { throw c.fail("between", "the pair '\(a)', '\(b)' is given twice") }
      let rho = try c.number("rho", min: -1, max: 1)
      corr[i * m + j] = rho
      corr[j * m + i] = rho
      try c.finish()
    }
    // Cholesky factorisation; failure means the matrix is not a correlation matrix.
    var l = [Double](repeating: 0, count: m * m)
    for i in 0..<m {
      for j in 0...i {
        var s = corr[i * m + j]
        for k in 0..<j { s -= l[i * m + k] * l[j * m + k] }
        if i == j {
          guard s > 1e-12 else { throw r.fail("correlations", "the correlation matrix is not positive definite") }
          l[i * m + i] = s.squareRoot()
        } else {
          l[i * m + j] = s / l[j * m + j]
        }
      }
    }
    spec.cholesky = l
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
          throw InputError(file: shownAs, path: "line \(table.lines[i]), column '\(col)'", message: "must be a positive number ≤ \(fmt(upper))")
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
        for (c, p) in list { acc += p; if u < acc { pick = c; break } }
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
    return VirtualPatient(arm: arm, id: id, covariates: cov, patient: patient, parameters: parameters)
  }

  /// Names of the per-patient parameter columns (variability, then effect-only parameters).
  public var parameterColumns: [String] {
    let v = variability.map(\.parameter)
    return v + Set(effects.map(\.parameter)).subtracting(v).sorted()
  }
}
