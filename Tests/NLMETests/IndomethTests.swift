import Foundation
import NLME
import TestSupport
import Testing

/// R nlme's Indometh fits (../shared/estimation/indometh): the FOCE objective at nlme's ML
/// estimates, and the FOCE maximum on the boundary sd(lrc1) = 0 that the README of the
/// reference derives and checks against the exact likelihood.
@Suite struct IndomethTests {
  static func problem() throws -> NLMEProblem {
    try NLMEProblem(
      controlStream: packageRoot.appendingPathComponent("Examples/nlme/indometh.mod").path,
      dataPath: try sharedDirectory().appendingPathComponent("estimation/indometh/indometh.csv").path)
  }

  @Test func objectiveAtNlmeEstimates() throws {
    let p = try Self.problem()
    #expect(p.data.subjects.count == 6 && p.data.observationCount == 66)
    // nlme-results.json, ML: fixed effects, SDs of the random effects, residual SD.
    let sd = [0.571350015873763, 0.1581214454396379, 0.11152834430844262]
    let estimates = PopulationParameters(
      theta: [2.8276029262134204, 0.773252928590777, 0.4610196555313048, -1.3450040737420021],
      omega: [sd[0] * sd[0], 0, 0, 0, sd[1] * sd[1], 0, 0, 0, sd[2] * sd[2]], sigma: [0.0814963112922103 * 0.0814963112922103])
    let population = PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .foce), threads: 1)
    let ofv = population.ofv(estimates)
    // −2·logLik − n·log 2π = −230.48460147 (nlme); the independent FOCE evaluation −230.484400.
    #expect(abs(ofv - -230.48460147182368) < 0.01, "OFV \(ofv)")
    #expect(abs(ofv - -230.484400) < 1e-3, "OFV \(ofv)")
  }

  @Test func fitReachesTheBoundaryMaximum() throws {
    let p = try Self.problem()
    let fit = NLMEFitter(method: .foce).fit(p)
    // logLik 56.114751 ⇔ OFV −233.529389; A1, lrc1, A2, lrc2, sd_A1, sd_A2, σ of reference.md.
    #expect(abs(fit.ofv - -233.529389) < 0.01, "OFV \(fit.ofv)")
    let t = fit.parameters.theta
    for (k, r) in [2.773623, 1.034330, 0.786532, -0.869342].enumerated() { #expect(abs(t[k] / r - 1) < 0.01, "THETA(\(k + 1)) \(t[k])") }
    let o = fit.parameters.omega
    #expect(abs(o[0].squareRoot() / 0.577441 - 1) < 0.01 && abs(o[8].squareRoot() / 0.209130 - 1) < 0.01, "\(o)")
    #expect(o[4].squareRoot() < 0.01, "sd(lrc1) \(o[4].squareRoot()) should be at the boundary 0")
    #expect(abs(fit.parameters.sigma[0].squareRoot() / 0.082104 - 1) < 0.01)
  }
}
