import Foundation
import NLME
import Testing

/// Profile likelihoods and the bootstrap against the closed form of a linear random-intercept model. With n
/// subjects of m observations each, y_ij = μ + η_i + ε_ij, the subject means ȳ_i are independent
/// N(μ, τ) with τ = ω² + σ²/m, and the deviations from them do not involve μ. Holding μ and
/// estimating ω² and σ² again therefore gives τ̂(μ) = Σ(ȳ_i − μ)²/n = τ̂(μ̂) + (μ − μ̂)², and
/// ΔOFV(μ) = n·log(τ̂(μ)/τ̂(μ̂)): the 95% interval's ends are μ̂ ± √(τ̂(μ̂)·(e^{3.84/n} − 1)).
/// FOCE-I is exact for a model linear in η. The same model checks the bootstrap: in a balanced
/// design μ̂ is the mean of the subject means, whatever the variances, so each bootstrap
/// sample's μ̂ is the mean of its drawn subjects' means.
@Suite struct IntervalTests {
  static let text = """
    $PROBLEM random intercept
    $INPUT ID TIME DV
    $DATA d.csv
    $PRED
    Y = THETA(1) + ETA(1) + EPS(1)
    $THETA 10
    $OMEGA 1
    $SIGMA 0.5
    $ESTIMATION METHOD=COND INTERACTION
    """

  /// Ten subjects, three observations each: subject effects spread about ±2, residuals about ±0.6.
  static let values: [[Double]] = {
    let effects = [-2.1, 1.3, 0.4, -0.7, 2.6, -1.5, 0.9, -0.2, 1.8, -1.1]
    return effects.enumerated().map { i, b in (0..<3).map { j in 12 + b + 0.6 * Foundation.sin(1.7 * Double(i) + 2.3 * Double(j)) } }
  }()

  static func problem() throws -> NLMEProblem {
    var data = ""
    for (i, ys) in values.enumerated() { for (j, y) in ys.enumerated() { data += "\(i + 1),\(j),\(y)\n" } }
    return try NLMEProblem(stream: ControlStream(text: text, file: "ri.mod"), dataText: data, dataSource: "d.csv")
  }

  @Test func interceptProfileMatchesTheClosedForm() throws {
    let problem = try Self.problem()
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    let fit = fitter.fit(problem)
    #expect(fit.converged, "\(fit.status)")
    let means = Self.values.map { $0.reduce(0, +) / Double($0.count) }
    let n = Double(means.count)
    let muHat = means.reduce(0, +) / n
    let tau = means.reduce(0) { $0 + ($1 - muHat) * ($1 - muHat) } / n
    #expect(abs(fit.parameters.theta[0] - muHat) < 1e-4 * abs(muHat))
    let half = (tau * (Foundation.exp(NLMEProfiler.threshold / n) - 1)).squareRoot()

    var profiler = NLMEProfiler(step: ControlStream.EstimationStep(method: .focei, line: 0))
    let reference = profiler.objective(problem, at: fit.parameters)
    #expect(abs(reference - fit.ofv) < 1e-8 * abs(fit.ofv))
    profiler.tolerance = 0.01
    let p = try profiler.profile(problem, parameter: "theta(1)", estimates: fit.parameters, reference: reference, se: nil)
    #expect(p.parameter == "THETA(1)")
    let lower = try #require(p.lower, "\(p.lower_status)")
    let upper = try #require(p.upper, "\(p.upper_status)")
    // ΔOFV is within 0.01 of 3.84 at the ends found; its slope there is about 2n·half/(τ + half²).
    #expect(abs(lower - (muHat - half)) < 0.01 * half, "lower \(lower), closed form \(muHat - half)")
    #expect(abs(upper - (muHat + half)) < 0.01 * half, "upper \(upper), closed form \(muHat + half)")
    #expect(p.lower_ofv_found == nil)

    // At given values the rise is the closed form's.
    let values = [muHat - half, muHat + half / 2, muHat + 2 * half]
    let at = try profiler.points(problem, parameter: "THETA(1)", values: values, estimates: fit.parameters, reference: reference)
    for (point, v) in zip(at.points, values) {
      let exact = n * Foundation.log(1 + (v - muHat) * (v - muHat) / tau)
      #expect(abs(point.delta - exact) < 1e-3, "ΔOFV \(point.delta) at \(v), closed form \(exact)")
    }
    #expect(at.lower == nil && at.upper == nil)
  }

  @Test func bootstrapSamplesRefitTheDrawnSubjects() throws {
    let problem = try Self.problem()
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    let fit = fitter.fit(problem)
    let means = Self.values.map { $0.reduce(0, +) / Double($0.count) }
    var bootstrap = NLMEBootstrap(step: ControlStream.EstimationStep(method: .focei, line: 0))
    bootstrap.samples = 24
    bootstrap.seed = 7
    bootstrap.threads = 2
    let r = try bootstrap.run(problem, estimates: fit.parameters)
    #expect(r.names == ["THETA(1)", "OMEGA(1,1)", "SIGMA(1,1)"])
    #expect(r.successful == 24)
    var expected: [Double] = []
    for s in r.samples {
      let drawn = NLMEBootstrap.resample(means.count, sample: s.sample, seed: 7)
      let mu = drawn.reduce(0) { $0 + means[$1] } / Double(drawn.count)
      #expect(abs(s.estimates[0] - mu) < 1e-3, "sample \(s.sample): μ̂ \(s.estimates[0]), mean of the drawn subjects' means \(mu)")
      expected.append(mu)
    }
    // The intervals are the type-7 quantiles of the samples, and their reflection about μ̂.
    expected.sort()
    func quantile(_ p: Double) -> Double {
      let h = Double(expected.count - 1) * p
      let lo = Int(h)
      return expected[lo] + (h - Double(lo)) * (expected[min(lo + 1, expected.count - 1)] - expected[lo])
    }
    let mu = try #require(r.intervals.first)
    #expect(abs(mu.percentile_lower - quantile(0.025)) < 1e-3 && abs(mu.percentile_upper - quantile(0.975)) < 1e-3)
    #expect(abs(mu.basic_lower - (2 * mu.estimate - mu.percentile_upper)) < 1e-12)
    #expect(abs(mu.basic_upper - (2 * mu.estimate - mu.percentile_lower)) < 1e-12)
    // The samples depend on the seed, not on the threads.
    bootstrap.threads = 1
    let one = try bootstrap.run(problem, estimates: fit.parameters)
    #expect(one.samples.map(\.estimates) == r.samples.map(\.estimates))
    bootstrap.seed = 8
    #expect(try bootstrap.run(problem, estimates: fit.parameters).samples.map(\.estimates) != r.samples.map(\.estimates))
  }

  /// The parametric bootstrap against the closed form of the same model. Each sample is simulated
  /// from the estimates, and in a balanced design the ML estimates of a sample are closed forms of
  /// its values: μ̂ the grand mean, σ̂² = SSW/(n(m − 1)) and ω̂² = Σ(ȳ_i − μ̂)²/n − σ̂²/m. Over the
  /// samples, σ̂² is unbiased and ω̂² is biased by −(ω² + σ²/m)/n, a bias the bootstrap must show.
  @Test func parametricBootstrapRefitsTheSimulatedStudies() throws {
    let problem = try Self.problem()
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    let fit = fitter.fit(problem)
    var bootstrap = NLMEBootstrap(step: ControlStream.EstimationStep(method: .focei, line: 0))
    bootstrap.parametric = true
    bootstrap.samples = 400
    bootstrap.seed = 3
    bootstrap.threads = 2
    let r = try bootstrap.run(problem, estimates: fit.parameters)
    // A sample whose ω̂² lies at its bound of 0 may end short of "successful".
    #expect(r.successful >= 396)
    let n = Double(Self.values.count)
    let m = 3.0
    var omegas: [Double] = []
    var sigmas: [Double] = []
    for s in r.samples where s.converged {
      let data = NLMEBootstrap.simulated(problem, estimates: fit.parameters, sample: s.sample, seed: 3)
      let ys = data.subjects.map { $0.records.map(\.dv) }
      let means = ys.map { $0.reduce(0, +) / m }
      let mu = means.reduce(0, +) / n
      let ssw = zip(ys, means).reduce(0) { acc, x in acc + x.0.reduce(0) { $0 + ($1 - x.1) * ($1 - x.1) } }
      let sigma2 = ssw / (n * (m - 1))
      let omega2 = means.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / n - sigma2 / m
      #expect(abs(s.estimates[0] - mu) < 1e-3, "sample \(s.sample): μ̂ \(s.estimates[0]), closed form \(mu)")
      #expect(abs(s.estimates[2] - sigma2) < 1e-2 * sigma2, "sample \(s.sample): σ̂² \(s.estimates[2]), closed form \(sigma2)")
      if omega2 > 0.05 {
        #expect(abs(s.estimates[1] - omega2) < 1e-2 * omega2, "sample \(s.sample): ω̂² \(s.estimates[1]), closed form \(omega2)")
      }
      omegas.append(s.estimates[1])
      sigmas.append(s.estimates[2])
    }
    // The bootstrap's bias against the closed form's, within 4 Monte Carlo standard errors.
    let omega = try #require(r.intervals.first { $0.parameter == "OMEGA(1,1)" })
    let sigma = try #require(r.intervals.first { $0.parameter == "SIGMA(1,1)" })
    let tau = fit.parameters.omega[0] + fit.parameters.sigma[0] / m
    let mcOmega = omega.se / Double(omegas.count).squareRoot()
    let mcSigma = sigma.se / Double(sigmas.count).squareRoot()
    #expect(abs(omega.bias - -tau / n) < 4 * mcOmega, "ω² bias \(omega.bias), closed form \(-tau / n) ± \(mcOmega)")
    #expect(abs(sigma.bias) < 4 * mcSigma, "σ² bias \(sigma.bias), closed form 0 ± \(mcSigma)")
    // The normal interval corrects the estimate by the bias.
    #expect(abs(omega.normal_lower - max(0, omega.estimate - omega.bias - 1.959963984540054 * omega.se)) < 1e-12)
    #expect(abs(omega.normal_upper - (omega.estimate - omega.bias + 1.959963984540054 * omega.se)) < 1e-12)
    // Depends on the seed, not on the threads.
    bootstrap.threads = 1
    bootstrap.samples = 8
    let one = try bootstrap.run(problem, estimates: fit.parameters)
    #expect(one.samples.map(\.estimates) == Array(r.samples.prefix(8)).map(\.estimates))
  }

  /// Stratified resampling (PsN's `-stratify_on`): each sample keeps the study's count of
  /// subjects per stratum, each drawn subject comes from the stratum of the one it replaces, and
  /// the samples are refitted to the drawn subjects (μ̂ the mean of their means). With one
  /// stratum the draws are the unstratified ones.
  @Test func stratifiedSamplesKeepTheStrata() throws {
    let groups = [1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    var data = ""
    for (i, ys) in Self.values.enumerated() { for (j, y) in ys.enumerated() { data += "\(i + 1),\(j),\(y),\(groups[i])\n" } }
    let stream = try ControlStream(
      text: Self.text.replacingOccurrences(of: "$INPUT ID TIME DV", with: "$INPUT ID TIME DV GRP"), file: "ri.mod")
    let problem = try NLMEProblem(stream: stream, dataText: data, dataSource: "d.csv")
    #expect(try NLMEBootstrap.strata(problem.data, item: "grp") == groups.map { $0 - 1 })
    #expect(
      NLMEBootstrap.resample(strata: [Int](repeating: 4, count: 10), sample: 3, seed: 9) == NLMEBootstrap.resample(10, sample: 3, seed: 9))
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    let fit = fitter.fit(problem)
    var bootstrap = NLMEBootstrap(step: ControlStream.EstimationStep(method: .focei, line: 0))
    bootstrap.samples = 16
    bootstrap.seed = 5
    bootstrap.threads = 2
    bootstrap.stratifyOn = "GRP"
    let r = try bootstrap.run(problem, estimates: fit.parameters)
    // A sample whose ω̂² lies at its bound of 0 may end short of "successful".
    #expect(r.successful >= 14)
    let means = Self.values.map { $0.reduce(0, +) / Double($0.count) }
    var mixed = false
    for s in r.samples where s.converged {
      let drawn = NLMEBootstrap.resample(strata: groups, sample: s.sample, seed: 5)
      #expect(drawn.indices.allSatisfy { groups[drawn[$0]] == groups[$0] }, "sample \(s.sample): \(drawn)")
      let mu = drawn.reduce(0) { $0 + means[$1] } / Double(drawn.count)
      #expect(abs(s.estimates[0] - mu) < 1e-3, "sample \(s.sample): μ̂ \(s.estimates[0]), mean of the drawn subjects' means \(mu)")
      // An unstratified draw of 10 from 10 would often not keep 3 of group 1.
      mixed = mixed || NLMEBootstrap.resample(10, sample: s.sample, seed: 5).filter { groups[$0] == 1 }.count != 3
    }
    #expect(mixed)
    // A missing item, or strata with a parametric bootstrap, are refused by name.
    bootstrap.stratifyOn = "WT"
    let missing = #expect(throws: NLMEError.self) { try bootstrap.run(problem, estimates: fit.parameters) }
    #expect(missing?.field == "stratify_on" && missing?.message.contains("no data item WT") == true, "\(String(describing: missing))")
    bootstrap.stratifyOn = "GRP"
    bootstrap.parametric = true
    #expect(throws: NLMEError.self) { try bootstrap.run(problem, estimates: fit.parameters) }
  }

  /// A simulated sample takes the simulation's values, and a value below its record's limit
  /// becomes censored at the limit (M3), the limit column kept.
  @Test func simulatedSamplesCensorBelowTheLimit() throws {
    let stream = try ControlStream(
      text: Self.text.replacingOccurrences(of: "$INPUT ID TIME DV", with: "$INPUT ID TIME DV LLOQ"), file: "c.mod")
    var data = ""
    for i in 1...10 { for j in 0..<3 { data += "\(i),\(j),\(10 + Double(j)),10\n" } }
    let problem = try NLMEProblem(stream: stream, dataText: data, dataSource: "d.csv")
    let estimates = PopulationParameters(theta: [10], omega: [1], sigma: [0.5])
    let reps = NLMESimulation(problem: problem, parameters: estimates).replicates(3, seed: 5, threads: 1)
    var censored = 0
    for b in 0..<3 {
      let d = NLMEBootstrap.simulated(problem, estimates: estimates, sample: b, seed: 5)
      let records = d.subjects.flatMap { s in s.observations.map { s.records[$0] } }
      #expect(records.count == reps[b].y.count)
      for (k, record) in records.enumerated() {
        #expect(record.values[3] == 10)
        if reps[b].censored[k] {
          censored += 1
          #expect(reps[b].y[k] < 10 && record.dv == 10 && record.censoredBelow == 10 && record.values[2] == 10)
        } else {
          #expect(reps[b].y[k] >= 10 && record.dv == reps[b].y[k] && record.censoredBelow == nil && record.values[2] == reps[b].y[k])
        }
      }
    }
    // About half of 90 values lie below the mean.
    #expect((20...70).contains(censored), "\(censored) of 90 censored")
  }

  @Test func refusesWhatCannotBeProfiled() throws {
    let stream = try ControlStream(
      text: """
        $PROBLEM x
        $INPUT ID TIME DV
        $DATA d.csv
        $PRED
        Y = THETA(1) + THETA(2) + ETA(1) + ETA(2) + ETA(3) + EPS(1)
        $THETA 1 2 FIX
        $OMEGA BLOCK(2) 1 0.1 1
        $OMEGA 0.5
        $SIGMA 1
        """, file: "x.mod")
    func error(_ name: String) -> String {
      do {
        _ = try NLMEProfiler.target(name, in: stream)
        return ""
      } catch { return "\(error)" }
    }
    #expect(try NLMEProfiler.target("THETA(1)", in: stream) == .theta(0))
    #expect(try NLMEProfiler.target("omega(3,3)", in: stream) == .omega(2))
    #expect(try NLMEProfiler.target("SIGMA(1,1)", in: stream) == .sigma(0))
    #expect(error("THETA(2)").contains("parameter THETA(2): is fixed"))
    #expect(error("THETA(3)").contains("the control stream has 2 THETAs"))
    #expect(error("OMEGA(1,1)").contains("is in a BLOCK"))
    #expect(error("OMEGA(3,2)").contains("covariances cannot be profiled"))
    #expect(error("OMEGA(4,4)").contains("3×3"))
    #expect(error("CL").contains("expected THETA(k)"))
    #expect(error("THETA(0)").contains("positive integers"))
  }
}
