import CARTSimCore
import Foundation
import TestSupport
import Testing

@testable import NLME

/// The outer gradient of FOCE and FOCE-I from the sensitivities on jets (the mode's movement by
/// the implicit function theorem, log det A by its trace) against central differences of the
/// objective, every subject's OFV_i re-optimised at each shifted point: closed forms, `$PRED`,
/// `$DES`, censored values (M3), a likelihood written with F_FLAG, BLOCK Ω and Σ.
@Suite struct GradientTests {
  /// Compares ∂OFV_i/∂x of every subject with central differences of OFV_i at x = start + shift
  /// (alternating signs), step h·max(1, |x_k|): relative error within `tolerance` of
  /// max(1, |difference|).
  static func compare(
    _ problem: NLMEProblem, _ method: FirstOrderObjective.Method, subjects: Int? = nil, h: Double = 1e-5, tolerance: Double = 1e-5
  ) throws {
    var data = problem.data
    if let subjects { data.subjects = Array(data.subjects.prefix(subjects)) }
    var objective = FirstOrderObjective(model: problem.model, data: data, method: method)
    objective.etaTolerance = 1e-11
    let population = PopulationObjective(objective: objective, threads: 2)
    let param = Parameterization(problem.stream)
    let x = param.start.enumerated().map { $1 + ($0 % 2 == 0 ? 0.05 : -0.05) }
    let fits = population.subjects(param.parameters(x))
    population.accept(fits)
    let gradients = population.gradients(param.parameters(x), directions: param.jetDirections, fits: fits) { param.chain(x, $0) }
    let exact = try #require(gradients, "no analytic gradient")
    #expect(exact.count == data.subjects.count)
    var worst = 0.0
    for k in x.indices {
      let step = h * max(1, abs(x[k]))
      var xp = x
      xp[k] += step
      var xm = x
      xm[k] -= step
      let plus = population.subjects(param.parameters(xp))
      let minus = population.subjects(param.parameters(xm))
      var total = (0.0, 0.0)
      for i in exact.indices {
        let (p, m) = (try #require(plus[i]), try #require(minus[i]))
        let difference = (p.ofv - m.ofv) / (2 * step)
        total.0 += exact[i][k]
        total.1 += difference
        let error = abs(exact[i][k] - difference) / max(1, abs(difference))
        worst = max(worst, error)
        #expect(error < tolerance, "\(param.names[k]) subject \(data.subjects[i].id): \(exact[i][k]) vs \(difference)")
      }
      #expect(abs(total.0 - total.1) < tolerance * max(1, abs(total.1)), "\(param.names[k]): Σ \(total.0) vs \(total.1)")
    }
    #expect(worst < tolerance)
  }

  static let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")

  @Test(arguments: [
    ("pheno.mod", FirstOrderObjective.Method.focei), ("pheno.mod", .foce), ("indometh.mod", .focei), ("cart-stein-pred.mod", .focei),
  ])
  func examplesMatchDifferences(_ name: String, _ method: FirstOrderObjective.Method) throws {
    try Self.compare(NLMEProblem(controlStream: Self.root.appendingPathComponent(name).path), method)
  }

  /// SBML models with their sensitivities on jets (SBMLJets.swift): pheno with its structure
  /// in SBML (ODE tolerance 10⁻¹⁰), and the built-in HEROS model with two ETAs (rules,
  /// initial assignments, piecewise rates, watched extinction events; tolerance 10⁻⁸, hence
  /// the larger step and bound).
  @Test func sbmlMatchesDifferences() throws {
    let pheno = try NLMEProblem(controlStream: Self.root.appendingPathComponent("pheno-sbml.json").path)
    try Self.compare(pheno, .focei, subjects: 12, h: 1e-4, tolerance: 1e-4)
    let heros = try NLMEProblem(controlStream: Self.root.appendingPathComponent("heros-ck.json").path, builtIn: NLMERun.builtIn)
    try Self.compare(heros, .focei, h: 1e-3, tolerance: 2e-3)
  }

  /// `$DES` with its sensitivities in the parameters: the differences carry the integration
  /// error (TOL=9, relative 10⁻⁹ of OFV_i over 2h), hence the larger step and bound.
  @Test func desMatchesDifferences() throws {
    let problem = try NLMEProblem(controlStream: Self.root.appendingPathComponent("cart-stein.mod").path)
    try Self.compare(problem, .focei, subjects: 8, h: 1e-3, tolerance: 2e-3)
  }

  /// Eight subjects of a one-compartment bolus in `$PRED` with correlated ETAs (Ω BLOCK(2)),
  /// proportional and additive error with correlated EPS (Σ BLOCK(2)), a third ETA in a SAME
  /// block and a FIXED THETA.
  @Test func blocksMatchDifferences() throws {
    var rows: [String] = []
    for id in 1...8 {
      for t in [0.5, 1, 2, 4, 8, 12] {
        let c = 100 / (9 + Double(id)) * Foundation.exp(-0.15 * (1 + 0.05 * Double(id)) * t) * (1 + 0.08 * Foundation.sin(Double(id) * t))
        rows.append("\(id),\(t),\(c),\(id % 2)")
      }
    }
    let text = """
      $PROBLEM blocks
      $INPUT ID TIME DV SEX
      $DATA d.csv
      $PRED
      CL = THETA(1)*EXP(ETA(1))*(1 + THETA(4)*SEX)
      V = THETA(2)*EXP(ETA(2))
      B = THETA(3)*EXP(ETA(3) + ETA(4))
      IPRED = 100/V*EXP(-CL/V*TIME) + 0.1*B*EXP(-0.05*TIME)
      Y = IPRED + IPRED*EPS(1) + EPS(2)
      $THETA (0, 1.5) (0, 10) 1 FIX 0.1
      $OMEGA BLOCK(2) 0.1 0.03 0.15
      $OMEGA BLOCK(1) 0.05
      $OMEGA BLOCK(1) SAME
      $SIGMA BLOCK(2) 0.01 0.001 0.02
      """
    let problem = try NLMEProblem(
      stream: ControlStream(text: text, file: "b.mod"), dataText: rows.joined(separator: "\n"), dataSource: "d.csv")
    try Self.compare(problem, .focei)
    try Self.compare(problem, .foce)
  }

  /// A two-compartment model with first-order absorption (ADVAN4 TRANS4, the jets of its
  /// matrix exponential): oral doses with additional doses, an infusion, FOCE-I and FOCE.
  @Test func closedFormWithSeveralCompartmentsMatchesDifferences() throws {
    let problem = try NLMEProblem(
      stream: ControlStream(text: Self.twoCompartment, file: "advan4.mod"), dataText: Self.twoCompartmentData(subjects: 10),
      dataSource: "d.csv")
    try Self.compare(problem, .focei)
    try Self.compare(problem, .foce)
  }

  static let twoCompartment = """
    $PROBLEM two compartments, first-order absorption
    $INPUT ID TIME AMT RATE ADDL II CMT EVID DV WT
    $DATA d.csv
    $SUBROUTINES ADVAN4 TRANS4
    $PK
    CL = THETA(1)*EXP(ETA(1))*(WT/70)**0.75
    V2 = THETA(2)*EXP(ETA(2))
    Q = THETA(3)
    V3 = THETA(4)
    KA = THETA(5)*EXP(ETA(3))
    S2 = V2
    $ERROR
    Y = F + F*EPS(1) + EPS(2)
    $THETA (0, 4) (0, 30) (0, 2) (0, 60) (0, 1.2)
    $OMEGA 0.1 0.08 0.2
    $SIGMA 0.02 0.01
    """

  /// Oral doses every 12 h (three), samples after the first and the last, an infusion later.
  static func twoCompartmentData(subjects: Int) -> String {
    var rows: [String] = []
    for id in 1...subjects {
      let wt = 50 + 4 * Double(id % 7)
      let cl = 4 * (wt / 70) * (1 + 0.2 * Foundation.sin(Double(id)))
      rows.append("\(id) 0 500 0 2 12 1 1 0 \(wt)")
      for t in [0.5, 1, 2, 4, 8, 12.5, 26, 30, 36] {
        let c = 500 / 30 * Foundation.exp(-cl / 30 * t) * (1 + 0.1 * Foundation.cos(Double(id) + t))
        rows.append("\(id) \(t) 0 0 0 0 2 0 \(c) \(wt)")
      }
      rows.append("\(id) 48 200 100 0 0 2 1 0 \(wt)")
      for t in [49.0, 50, 54] { rows.append("\(id) \(t) 0 0 0 0 2 0 \(5 + Foundation.sin(t)) \(wt)") }
    }
    return rows.joined(separator: "\n")
  }

  /// Values below a limit written as their likelihood (F_FLAG = 1, Y = PHI(…)) beside normal ones.
  @Test func likelihoodWrittenWithFFlagMatchesDifferences() throws {
    let text = """
      $PROBLEM m3
      $INPUT ID TIME AMT DV CENS
      $DATA d.csv
      $SUBROUTINES ADVAN1 TRANS2
      $PK
      CL = THETA(1)*EXP(ETA(1))
      V = THETA(2)*EXP(ETA(2))
      S1 = V
      $ERROR
      IPRED = F
      W = 0.2*F
      IF (CENS.EQ.1) THEN
        F_FLAG = 1
        Y = PHI((DV - IPRED)/W)
      ELSE
        F_FLAG = 0
        Y = IPRED + F*EPS(1)
      ENDIF
      $THETA (0, 2) (0, 10)
      $OMEGA 0.1 0.05
      $SIGMA 0.04
      """
    let problem = try NLMEProblem(
      stream: ControlStream(text: text, file: "m3.mod"), dataText: KineticsTests.censoredData(), dataSource: "d.csv")
    try Self.compare(problem, .focei)
  }

  /// A fit on the analytic gradient reaches the optimum of one on differences of the objective.
  @Test func fitsAgreeWithDifferencedGradient() throws {
    let problem = try NLMEProblem(controlStream: Self.root.appendingPathComponent("pheno.mod").path)
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    let exact = fitter.fit(problem)
    fitter.analyticGradient = false
    let differenced = fitter.fit(problem)
    #expect(exact.converged && differenced.converged)
    #expect(abs(exact.ofv - differenced.ofv) < 1e-5, "\(exact.ofv) vs \(differenced.ofv)")
    for (a, b) in zip(exact.estimated, differenced.estimated) { #expect(abs(a - b) < 1e-3 * abs(b), "\(a) vs \(b)") }
  }

  /// The covariance step from exact gradients (S exact, R by differences of the gradient) and
  /// from differences of the objective alone: S within 10⁻³, the standard errors within 0.5%,
  /// on pheno (FOCE-I) and the CAR T example in closed form (M3).
  @Test(arguments: ["pheno.mod", "cart-stein-pred.mod"])
  func covarianceStepAgreesWithDifferences(_ name: String) throws {
    let problem = try NLMEProblem(controlStream: Self.root.appendingPathComponent(name).path)
    var fitter = NLMEFitter(method: .focei)
    fitter.covariance = nil
    fitter.threads = 2
    let fit = fitter.fit(problem)
    let population = PopulationObjective(
      objective: FirstOrderObjective(model: problem.model, data: problem.data, method: .focei), threads: 2)
    population.accept(population.settled(fit.parameters))
    var step = CovarianceStep(population: population, parameterization: Parameterization(problem.stream), estimates: fit.parameters)
    let exact = step.run(.sandwich)
    step.analyticGradient = false
    let differenced = step.run(.sandwich)
    let (a, b) = (try #require(exact.se, "\(exact.status)"), try #require(differenced.se, "\(differenced.status)"))
    // Both R's are central differences with relative steps of 10⁻³ (error O(h²)); the
    // objective's second differences also carry the modes' tolerance over h², about 0.3% here.
    for k in a.indices { #expect(abs(a[k] - b[k]) < 5e-3 * b[k], "\(exact.names[k]): SE \(a[k]) vs \(b[k])") }
    for k in exact.s.indices { #expect(abs(exact.s[k] - differenced.s[k]) < 1e-3 * max(1, abs(differenced.s[k]))) }
  }
}
