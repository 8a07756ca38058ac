import CSVKit
import Foundation
import StatKit

/// `fit.json` of `cartsim nlme fit`: the estimates in NONMEM's shapes (THETA in order, Ω and
/// Σ as their lower triangles row by row), their standard errors where the covariance step
/// ran (null for fixed elements), the objective by NONMEM's convention and with the constant,
/// AIC/BIC, shrinkages, the individual estimates and the iteration history.
public struct NLMEDocument: Codable, Sendable {
  public var model: String
  public var data: String
  public var method: String
  /// −2 log L without n·log 2π (NONMEM's OFV).
  public var ofv: Double
  /// The Monte Carlo standard error of an importance-sampled OFV (IMP, SAEM).
  public var ofv_standard_error: Double?
  /// −2 log L (with n·log 2π), which AIC and BIC are built on.
  public var ofv_with_constant: Double
  public var aic: Double
  public var bic: Double
  public var observations: Int
  public var subjects: Int
  public var estimated_parameters: Int
  public var theta: [Double]
  public var omega: [Double]
  public var sigma: [Double]
  public var se: Shapes?
  public var rse: Shapes?
  /// Names and correlation matrix (row-major) of the estimated parameters.
  public var parameter_names: [String]
  public var correlation: [Double?]?
  public var covariance_matrix: String?
  public var covariance_status: String?
  public var condition_number: Double?
  /// SD-shrinkage of each ETA and of EPS (IWRES), in percent as NONMEM prints them.
  public var eta_shrinkage: [Double?]
  public var eps_shrinkage: Double?
  public var status: String
  public var minimization_successful: Bool
  public var evaluations: Int
  public var threads: Int
  public var seconds: Double
  public var history: [HistoryRow]
  public var individuals: [Individual]

  /// THETA, OMEGA and SIGMA shaped values (null where a parameter is fixed).
  public struct Shapes: Codable, Sendable {
    public var theta: [Double?]
    public var omega: [Double?]
    public var sigma: [Double?]
  }
  public struct HistoryRow: Codable, Sendable {
    public var evaluation: Int
    public var ofv: Double
    public var parameters: [Double]
  }
  public struct Individual: Codable, Sendable {
    public var id: Double
    public var eta: [Double]
    public var ofv: Double?
  }

  public init(problem: NLMEProblem, fit: NLMEFitResult, diagnostics: Diagnostics, threads: Int, modelName: String) {
    let n = problem.data.observationCount
    let k = fit.estimated.count
    let constant = Double(n) * Foundation.log(2 * Double.pi)
    model = modelName
    data = problem.data.source
    method = fit.method
    ofv = fit.ofv
    ofv_standard_error = fit.ofvStandardError
    ofv_with_constant = fit.ofv + constant
    aic = ofv_with_constant + 2 * Double(k)
    bic = ofv_with_constant + Double(k) * Foundation.log(Double(n))
    observations = n
    subjects = problem.data.subjects.count
    estimated_parameters = k
    theta = fit.parameters.theta
    omega = Self.lowerTriangle(fit.parameters.omega)
    sigma = Self.lowerTriangle(fit.parameters.sigma)
    parameter_names = fit.names
    if let c = fit.covariance {
      covariance_matrix = c.matrix
      covariance_status = c.status
      condition_number = c.conditionNumber
      if let se = c.se { self.se = Self.shapes(se, names: fit.names, problem: problem) }
      if let rse = c.rse { self.rse = Self.shapes(rse, names: fit.names, problem: problem) }
      correlation = c.correlation.map { $0.map { $0.isFinite ? $0 : nil } }
    }
    eta_shrinkage = diagnostics.etaShrinkage.map { $0.isFinite ? 100 * $0 : nil }
    eps_shrinkage = diagnostics.epsShrinkage.isFinite ? 100 * diagnostics.epsShrinkage : nil
    status = fit.status
    minimization_successful = fit.converged
    evaluations = fit.evaluations
    self.threads = threads
    seconds = fit.seconds
    history = fit.history.map { HistoryRow(evaluation: $0.evaluation, ofv: $0.ofv, parameters: $0.parameters) }
    individuals = fit.ids.indices.map { i in
      Individual(id: fit.ids[i], eta: fit.individuals[i], ofv: fit.subjectOFV[i].isFinite ? fit.subjectOFV[i] : nil)
    }
  }

  /// The lower triangle of a square row-major matrix, row by row: (1,1), (2,1), (2,2), …
  static func lowerTriangle(_ m: [Double]) -> [Double] {
    let n = Int(Double(m.count).squareRoot().rounded())
    var out: [Double] = []
    for i in 0..<n { for j in 0...i { out.append(m[i * n + j]) } }
    return out
  }

  /// Values per estimated parameter, put in THETA/OMEGA/SIGMA shapes by name.
  static func shapes(_ values: [Double], names: [String], problem: NLMEProblem) -> Shapes {
    var byName: [String: Double] = [:]
    for (name, v) in zip(names, values) { byName[name] = v }
    func triangle(_ prefix: String, _ n: Int) -> [Double?] {
      var out: [Double?] = []
      for i in 0..<n { for j in 0...i { out.append(byName["\(prefix)(\(i + 1),\(j + 1))"].flatMap { $0.isFinite ? $0 : nil }) } }
      return out
    }
    return Shapes(
      theta: problem.stream.thetas.indices.map { byName["THETA(\($0 + 1))"].flatMap { $0.isFinite ? $0 : nil } },
      omega: triangle("OMEGA", problem.stream.etaCount), sigma: triangle("SIGMA", problem.stream.epsCount))
  }
}

/// The tables of a fit: `sdtab.csv` and the control stream's `$TABLE` files.
public enum NLMETables {
  /// ID, TIME, DV, PRED, IPRED, RES, WRES, CWRES, IWRES, NPDE, CENS and the ETAs, one row per
  /// observation.
  public static func sdtab(problem: NLMEProblem, fit: NLMEFitResult, diagnostics: Diagnostics) -> String {
    let nEta = problem.stream.etaCount
    var out = CSV.row(
      ["ID", "TIME", "DV", "PRED", "IPRED", "RES", "WRES", "CWRES", "IWRES", "NPDE", "CENS"] + (0..<nEta).map { "ETA\($0 + 1)" })
    out += "\n"
    for r in diagnostics.rows {
      let s = problem.data.subjects[r.subject]
      let record = s.records[r.record]
      var fields = [format(s.id), format(record.time)]
      fields += [r.dv, r.pred, r.ipred, r.res, r.wres, r.cwres, r.iwres, r.npde].map(format)
      fields.append(r.censored ? "1" : "0")
      let eta = fit.individuals[r.subject]
      fields += (0..<nEta).map { format(eta.count == nEta ? eta[$0] : 0) }
      out += CSV.row(fields) + "\n"
    }
    return out
  }

  /// A `$TABLE` as NONMEM writes one (`TABLE NO. n` line, a header, one row per record in
  /// E-format), with DV, PRED, RES, WRES appended unless NOAPPEND. Items are data items,
  /// variables of the code, ETAs (ETA1 or ETA(1)), and PRED, IPRED, RES, WRES, IWRES, CWRES,
  /// NPDE; an item the model does not know is refused by name.
  public static func table(
    _ t: ControlStream.TableRecord, number: Int, problem: NLMEProblem, fit: NLMEFitResult, diagnostics: Diagnostics
  ) throws -> String {
    var items = t.items
    if !t.noAppend { items += ["DV", "PRED", "RES", "WRES"].filter { !items.contains($0) } }
    let derived = ["PRED", "IPRED", "RES", "WRES", "IWRES", "CWRES", "NPDE"]
    let nEta = problem.stream.etaCount
    func etaIndex(_ item: String) -> Int? {
      let digits = item.hasPrefix("ETA(") ? item.dropFirst(4).dropLast() : item.hasPrefix("ETA") ? item.dropFirst(3) : ""
      return Int(digits).flatMap { (1...max(1, nEta)).contains($0) ? $0 - 1 : nil }
    }
    for item in items where !derived.contains(item) && etaIndex(item) == nil && problem.model.symbols.lookup(item) == nil {
      throw NLMEError(problem.stream.file, field: "$TABLE", "\(item) is neither a data item, a variable of the code nor a table item")
    }
    var byRecord: [[Int: Diagnostics.Row]] = Array(repeating: [:], count: problem.data.subjects.count)
    for r in diagnostics.rows { byRecord[r.subject][r.record] = r }
    var out = "TABLE NO.  \(number)\n" + items.map { pad($0) }.joined() + "\n"
    let predictor = Predictor(model: problem.model)
    for (i, s) in problem.data.subjects.enumerated() {
      let eta = fit.individuals[i].count == nEta ? fit.individuals[i] : [Double](repeating: 0, count: nEta)
      var f = [Double](repeating: 0, count: s.observations.count)
      var v = f
      var rows: [String] = []
      _ = predictor.predict(s, theta: fit.parameters.theta, eta: eta, sigma: fit.parameters.sigma, f: &f, v: &v) { index, frame in
        if t.firstOnly && index > 0 { return }
        let d = byRecord[i][index]
        let values: [Double] = items.map { item in
          if let k = etaIndex(item) { return eta[k] }
          switch item {
          case "PRED": return d?.pred ?? 0
          case "IPRED" where problem.model.symbols.lookup("IPRED") == nil: return d?.ipred ?? 0
          case "RES": return d?.res ?? 0
          case "WRES": return d?.wres ?? 0
          case "IWRES" where problem.model.symbols.lookup("IWRES") == nil: return d?.iwres ?? 0
          case "CWRES": return d?.cwres ?? 0
          case "NPDE": return d?.npde ?? 0
          default: return problem.model.symbols.lookup(item).map { frame[$0] } ?? 0
          }
        }
        rows.append(values.map { pad(String(format: "%.4E", $0.isFinite ? $0 : 0)) }.joined())
      }
      for r in rows { out += r + "\n" }
    }
    return out
  }

  static func pad(_ s: String) -> String { s.count >= 13 ? " " + s : String(repeating: " ", count: 13 - s.count) + s }

  static func format(_ v: Double) -> String { v.isFinite ? String(format: "%.10g", v) : "" }
}

/// THETA, Ω and Σ as `fit.json` holds them (lower triangles): what simulations, VPCs and
/// trial populations read from a fit (other keys are ignored, so a file written by hand with
/// these three keys, e.g. from a NONMEM run, works too).
public struct NLMEEstimates: Codable, Sendable {
  public var theta: [Double]
  public var omega: [Double]
  public var sigma: [Double]
  /// Their standard errors where the covariance step ran (null for fixed elements).
  public var se: StandardErrors?

  public struct StandardErrors: Codable, Sendable {
    public var theta: [Double?]
    public var omega: [Double?]
    public var sigma: [Double?]
  }

  /// The standard error of THETA(k) (`.theta(k)`) or of a diagonal variance, if the file has it.
  public func standardError(_ t: NLMEProfiler.Target) -> Double? {
    func diagonal(_ lower: [Double?], _ i: Int) -> Double? {
      let k = i * (i + 1) / 2 + i
      return k < lower.count ? lower[k] : nil
    }
    guard let se else { return nil }
    switch t {
    case .theta(let k): return k < se.theta.count ? se.theta[k] : nil
    case .omega(let i): return diagonal(se.omega, i)
    case .sigma(let i): return diagonal(se.sigma, i)
    }
  }

  /// Reads the estimates of a `fit.json`.
  /// - Throws: ``NLMEError`` naming the file when it cannot be read or lacks them.
  public static func read(_ path: String) throws -> NLMEEstimates {
    let name = URL(fileURLWithPath: path).lastPathComponent
    guard let data = FileManager.default.contents(atPath: path) else { throw NLMEError(name, "cannot be read (\(path))") }
    do { return try JSONDecoder().decode(NLMEEstimates.self, from: data) } catch {
      throw NLMEError(name, "has no theta, omega and sigma lists as cartsim nlme fit writes them (\(error))")
    }
  }

  /// THETA, Ω and Σ for a control stream with these numbers of each.
  /// - Throws: ``NLMEError`` when the shapes do not match the control stream.
  public func parameters(for stream: ControlStream, file: String) throws -> PopulationParameters {
    let nEta = stream.etaCount
    let nEps = stream.epsCount
    guard theta.count == stream.thetas.count else {
      throw NLMEError(file, field: "theta", "\(theta.count) values; the control stream has \(stream.thetas.count) THETAs")
    }
    func full(_ lower: [Double], _ n: Int, _ field: String) throws -> [Double] {
      guard lower.count == n * (n + 1) / 2 else {
        throw NLMEError(file, field: field, "\(lower.count) values; a lower triangle of \(n)×\(n) has \(n * (n + 1) / 2)")
      }
      var m = [Double](repeating: 0, count: n * n)
      var k = 0
      for i in 0..<n {
        for j in 0...i {
          m[i * n + j] = lower[k]
          m[j * n + i] = lower[k]
          k += 1
        }
      }
      guard n == 0 || cholesky(m, n) != nil else { throw NLMEError(file, field: field, "not positive definite") }
      return m
    }
    return PopulationParameters(theta: theta, omega: try full(omega, nEta, "omega"), sigma: try full(sigma, nEps, "sigma"))
  }
}
