import CARTModels
import Foundation
import NLME
import StatKit

/// The readers of the blocks of a trial spec's `population` (``PopulationSpec/parse(_:baseDir:models:)``).
extension PopulationSpec {
  /// `covariates`: each drawn from categories or a distribution.
  mutating func readCovariates(_ r: inout FieldReader) throws {
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
          covariates.append((name, .categories(list)))
        } else {
          let d = try Distribution.parse(&cr, typical: nil, defaultKind: .lognormal)
          // Normal and uniform values can fall below 0 (lognormal and logit-normal ones cannot).
          if Self.patientCovariates.contains(name) && (d.kind == .normal || d.kind == .uniform) && (d.lower ?? -1) < 0 {
            throw cr.fail("min", "'\(name)' must stay positive: give min ≥ 0 for a \(d.kind.rawValue) distribution")
          }
          covariates.append((name, .distribution(d)))
        }
        try cr.finish()
      }
      try c.finish()
    }
  }

  /// `csv` and `sampling`: covariates read from a table, row by row or bootstrapped.
  mutating func readCSV(_ r: inout FieldReader, baseDir: String) throws {
    if r.has("csv") {
      let rel = try r.string("csv")
      let path = rel.hasPrefix("/") ? rel : (baseDir as NSString).appendingPathComponent(rel)
      let sampling = try r.string("sampling", default: "sequential", oneOf: ["sequential", "bootstrap"])
      let read = try Self.readTable(path: path, shownAs: rel, bootstrap: sampling == "bootstrap")
      table = read
      for col in read.columns where covariates.contains(where: { $0.name == col }) {
        throw r.fail("csv", "column '\(col)' is also drawn in 'covariates'; give each covariate one source")
      }
      for col in read.columns {
        if let k = Self.lookalike(col) {
          throw r.fail("csv", "column '\(col)' of \(rel) looks like '\(k)' but is not it; name it '\(k)' to set the model's patient")
        }
      }
    }
  }

  /// `fitted`: {"model": "population model (.json)", "fit": "its fit.json"}, paths relative to
  /// the spec. The model must map a built-in model's parameters (`"model": "heros"`), the
  /// trial's model, and none of them may also have `variability` or an effect.
  mutating func readFitted(_ r: inout FieldReader, baseDir: String, models: [String]) throws {
    guard var f = try r.object("fitted") else { return }
    func path(_ key: String) throws -> String {
      let rel = try f.string(key)
      return rel.hasPrefix("/") ? rel : (baseDir as NSString).appendingPathComponent(rel)
    }
    let modelPath = try path("model")
    let fitPath = try path("fit")
    do {
      let problem = try NLMEProblem(controlStream: modelPath, builtIn: NLMERun.builtIn)
      guard case .some(let source) = problem.stream.sbml?.source, source.hasPrefix("builtin:") else {
        throw f.fail("model", "the population model must map a built-in model (\"model\": \"heros\")")
      }
      for m in Set(models) where "builtin:" + m != source {
        throw f.fail("model", "maps '\(source.dropFirst(8))', but the trial runs '\(m)'")
      }
      let p = try NLMEEstimates.read(fitPath).parameters(for: problem.stream, file: (fitPath as NSString).lastPathComponent)
      let fitted = try FittedPopulation(problem: problem, parameters: p)
      let taken = Set(variability.map(\.parameter)).union(effects.map(\.parameter))
      for id in fitted.parameterIDs where taken.contains(id) {
        throw f.fail("model", "'\(id)' is set by the fit and also has variability or a covariate effect; give it one source")
      }
      self.fitted = fitted
    } catch let e as NLMEError {
      throw f.fail(e.file == (fitPath as NSString).lastPathComponent ? "fit" : "model", e.description)
    }
    try f.finish()
  }

  /// `variability`: each parameter's inter-individual distribution, sorted by name.
  mutating func readVariability(_ r: inout FieldReader, models: [String]) throws {
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
        variability.append(Variability(parameter: name, distribution: d, centerFromModel: !explicit))
      }
      try v.finish()
    }
  }

  /// `covariate_effects`: on typical parameter values (power, linear, exponential or factors).
  mutating func readEffects(_ r: inout FieldReader, models: [String]) throws {
    let numericCovariates = Set(covariates.compactMap { if case .distribution = $0.source { return $0.name } else { return nil } })
      .union(PopulationSpec.patientCovariates)
      .union(table.map { t in t.columns.enumerated().filter { i, _ in t.rows.first.map { $0[i].number != nil } ?? false }.map(\.1) } ?? [])
    let categorical = Set(covariates.compactMap { if case .categories = $0.source { return $0.name } else { return nil } })
      .union(table.map { t in t.columns.enumerated().filter { i, _ in t.rows.first.map { $0[i].number == nil } ?? false }.map(\.1) } ?? [])
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
        if e.has("power") {
          form = .power(reference: ref, exponent: try e.number("power"))
        } else if e.has("slope") {
          let kind = try e.string("form", default: "linear", oneOf: ["linear", "exponential"])
          let s = try e.number("slope")
          form = kind == "linear" ? .linear(reference: ref, slope: s) : .exponential(reference: ref, slope: s)
        } else {
          throw e.fail("power", "give power (allometric), slope (linear or exponential) or factors")
        }
      }
      try e.finish()
      effects.append(CovariateEffect(parameter: parameter, covariate: cov, form: form))
    }
  }

  /// `correlations` between continuous covariates and parameters, and the Cholesky factor of
  /// their correlation matrix (failure means it is not a correlation matrix).
  mutating func readCorrelations(_ r: inout FieldReader) throws {
    latentNames =
      covariates.compactMap { if case .distribution = $0.source { return $0.name } else { return nil } }
      + variability.map(\.parameter)
    let m = latentNames.count
    var corr = [Double](repeating: 0, count: m * m)
    for i in 0..<m { corr[i * m + i] = 1 }
    var given = Set<[Int]>()
    for var c in try r.objects("correlations") {
      guard case .array(let pair)? = c.value("between"), pair.count == 2,
        case .string(let a) = pair[0], case .string(let b) = pair[1]
      else {
        throw c.fail("between", "expected two names, e.g. [\"weight_kg\", \"height_cm\"]")
      }
      guard let i = latentNames.firstIndex(of: a) else {
        throw c.fail("between", "'\(a)' is not a drawn continuous covariate or a parameter with variability")
      }
      guard let j = latentNames.firstIndex(of: b), j != i else {
        throw c.fail("between", "'\(b)' is not another drawn continuous covariate or parameter with variability")
      }
      guard given.insert([min(i, j), max(i, j)]).inserted else { throw c.fail("between", "the pair '\(a)', '\(b)' is given twice") }
      let rho = try c.number("rho", min: -1, max: 1)
      corr[i * m + j] = rho
      corr[j * m + i] = rho
      try c.finish()
    }
    // Cholesky factorisation; failure means the matrix is not a correlation matrix.
    guard let l = StatKit.cholesky(corr, m, minimumPivot: 1e-12) else {
      throw r.fail("correlations", "the correlation matrix is not positive definite")
    }
    cholesky = l
  }
}
