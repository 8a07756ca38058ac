import Foundation
import NLME
import TestSupport
import Testing

/// The NONMEM 7.4.2 FOCE-I fit of pheno (../shared/estimation/pheno): the objective, the
/// conditional modes and the per-subject OBJ at NONMEM's estimates.
@Suite struct PhenoTests {
  static func problem() throws -> NLMEProblem {
    let dir = try sharedDirectory().appendingPathComponent("estimation/pheno")
    return try NLMEProblem(
      controlStream: dir.appendingPathComponent("pheno_real.mod").path, dataPath: dir.appendingPathComponent("nonmem/pheno.dta").path)
  }

  /// NONMEM's final estimates at full precision (pheno_real.xml, via reference.md).
  static let estimates = PopulationParameters(
    theta: [4.6955492245309973e-3, 0.98425823566343795, 0.15892002033409747],
    omega: [2.9350766821801447e-2, 0, 0, 2.7906027070174970e-2], sigma: [1.3240960318445150e-2])

  /// pheno_real.phi: ID, ETA(1), ETA(2), OBJ.
  static func phi() throws -> [(id: Double, eta: [Double], obj: Double)] {
    let text = try String(
      contentsOf: try sharedDirectory().appendingPathComponent("estimation/pheno/nonmem/pheno_real.phi"), encoding: .utf8)
    return text.split(separator: "\n").dropFirst(2).map { line in
      let f = line.split(separator: " ").compactMap { Double($0) }
      return (f[1], [f[2], f[3]], f[7])
    }
  }

  @Test func readsTheControlStreamAndData() throws {
    let p = try Self.problem()
    #expect(p.data.subjects.count == 59)
    #expect(p.data.observationCount == 155)
    #expect(p.data.subjects.reduce(0) { $0 + $1.records.count } == 744)
    #expect(p.stream.thetas.map(\.lower) == [0, 0, -0.99])
    #expect(p.stream.estimations.first?.method == .focei)
    #expect(p.stream.covariance?.matrix == .sandwich)
  }

  @Test func objectiveAtNONMEMEstimates() throws {
    let p = try Self.problem()
    let objective = FirstOrderObjective(model: p.model, data: p.data, method: .focei)
    let phi = try Self.phi()
    let predictor = Predictor(model: p.model)
    var total = 0.0
    for (k, s) in p.data.subjects.enumerated() {
      let fit = try #require(objective.subject(s, Self.estimates, start: [], predictor: predictor))
      #expect(phi[k].id == s.id)
      #expect(abs(fit.eta[0] - phi[k].eta[0]) < 1e-4 && abs(fit.eta[1] - phi[k].eta[1]) < 1e-4, "ID \(s.id): \(fit.eta) vs \(phi[k].eta)")
      #expect(abs(fit.ofv - phi[k].obj) < 1e-5, "ID \(s.id)")
      total += fit.ofv
    }
    // pheno_real.ext, OBJ at the final estimates.
    #expect(abs(total - 586.27605628188053) < 1e-3, "OFV \(total)")
  }
}

extension PhenoTests {
  /// The FOCE-I fit from the control stream's initial estimates: OFV within 0.1 of NONMEM's,
  /// estimates within 1%, sandwich standard errors within 5% (the agreement the README of
  /// ../shared/estimation asks for).
  @Test func fitMatchesNONMEM() throws {
    let p = try Self.problem()
    var fitter = NLMEFitter(method: .focei)
    fitter.threads = 2
    let fit = fitter.fit(p)
    print("pheno FOCE-I: OFV \(fit.ofv), \(fit.evaluations) evaluations, \(fit.seconds) s, \(fit.status)")
    #expect(abs(fit.ofv - 586.27605628188053) < 0.1, "OFV \(fit.ofv)")
    let reference = [
      4.6955492245309973e-3, 0.98425823566343795, 0.15892002033409747, 2.9350766821801447e-2, 2.7906027070174970e-2,
      1.3240960318445150e-2,
    ]
    #expect(fit.names == ["THETA(1)", "THETA(2)", "THETA(3)", "OMEGA(1,1)", "OMEGA(2,2)", "SIGMA(1,1)"])
    for (k, r) in reference.enumerated() { #expect(abs(fit.estimated[k] / r - 1) < 0.01, "\(fit.names[k]): \(fit.estimated[k]) vs \(r)") }
    let se = try #require(fit.covariance?.se)
    let referenceSE = [
      2.1003603676747606e-4, 2.6895221449277876e-2, 8.3762288068976481e-2, 1.3415289361616714e-2, 7.4765093694406492e-3,
      2.2793952674170772e-3,
    ]
    for (k, r) in referenceSE.enumerated() { #expect(abs(se[k] / r - 1) < 0.05, "SE \(fit.names[k]): \(se[k]) vs \(r)") }
  }
}

extension PhenoTests {
  /// SAEM (short: 100 burn-in and 100 averaging iterations) then the importance-sampling
  /// objective: THETA near NONMEM's FOCE-I estimates (the maximum likelihood within 0.02 of
  /// objective here, see MarginalLikelihoodTests) and the objective within 1 of its minimum.
  @Test func saemReachesTheMaximumLikelihood() throws {
    let p = try Self.problem()
    var fitter = NLMEFitter(method: .saem)
    fitter.burnIn = 100
    fitter.iterations = 100
    fitter.threads = 2
    fitter.covariance = nil
    let fit = fitter.fit(p)
    let t = fit.parameters.theta
    print("pheno SAEM: OFV \(fit.ofv) ± \(fit.ofvStandardError ?? .nan), THETA \(t), \(fit.seconds) s")
    #expect(abs(t[0] / 4.6955492245309973e-3 - 1) < 0.05 && abs(t[1] / 0.98425823566343795 - 1) < 0.05, "\(t)")
    #expect(abs(t[2] - 0.15892002033409747) < 0.05, "\(t)")
    #expect(abs(fit.ofv - 586.27605628188053) < 1, "OFV \(fit.ofv)")
    // The same seed gives the same result whatever the thread count.
    fitter.threads = 1
    #expect(fitter.fit(p).parameters == fit.parameters)
  }
}

extension PhenoTests {
  /// The same model with its structure in SBML (Examples/nlme/pheno-sbml.json with
  /// one-compartment.xml, integrated by the ODE engine) has NONMEM's objective.
  @Test func sbmlMappedModelHasNONMEMsObjective() throws {
    let p = try NLMEProblem(controlStream: packageRoot.appendingPathComponent("Examples/nlme/pheno-sbml.json").path)
    let ofv = PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .focei), threads: 2).ofv(
      Self.estimates)
    #expect(abs(ofv - 586.27605628188053) < 1e-3, "OFV \(ofv)")
  }

  /// `$DATA` with an absolute path is read from there; a relative one from the control
  /// stream's folder.
  @Test func dataPathMayBeAbsolute() throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let text = try String(contentsOf: root.appendingPathComponent("pheno.mod"), encoding: .utf8)
      .replacingOccurrences(of: "$DATA pheno.csv", with: "$DATA " + root.appendingPathComponent("pheno.csv").path)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-absolute-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("pheno.mod")
    try text.write(to: file, atomically: true, encoding: .utf8)
    #expect(try NLMEProblem(controlStream: file.path).data.subjects.count == 59)
  }
}
