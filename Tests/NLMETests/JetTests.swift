import CARTSimCore
import Foundation
import TestSupport
import Testing

@testable import NLME

/// The η-derivatives of the predictions on jets (forward-mode differentiation of the code, the
/// one-compartment closed form and `$DES` with its forward sensitivities) against the
/// analytic derivatives of a one-compartment bolus, against finite differences of the
/// predictions, and `$DES` against the same model in closed form.
@Suite struct JetTests {
  /// f, V and their jets, unpacked: df[j][a], d2f[j][a][b] and the same for V.
  struct Derivatives {
    var f: [Double], v: [Double]
    var df: [[Double]], dv: [[Double]]
    var d2f: [[[Double]]], d2v: [[[Double]]]
  }

  static func jets(_ predictor: Predictor, _ s: Dataset.Subject, theta: [Double], eta: [Double], sigma: [Double]) -> Derivatives? {
    let m = s.observations.count
    var f = [Double](repeating: 0, count: m)
    var v = f
    var fj: [Double] = []
    var vj: [Double] = []
    guard predictor.predictJets(s, theta: theta, eta: eta, sigma: sigma, f: &f, v: &v, fJets: &fj, vJets: &vj) == true else {
      return nil
    }
    let shape = JetShape(n: eta.count)
    let n = eta.count
    let w = shape.width
    func first(_ x: [Double]) -> [[Double]] { (0..<m).map { j in (0..<n).map { x[j * w + $0] } } }
    func second(_ x: [Double]) -> [[[Double]]] {
      (0..<m).map { j in (0..<n).map { a in (0..<n).map { b in x[j * w + shape.pair(a, b)] } } }
    }
    return Derivatives(f: f, v: v, df: first(fj), dv: first(vj), d2f: second(fj), d2v: second(vj))
  }

  static func plain(_ predictor: Predictor, _ s: Dataset.Subject, theta: [Double], eta: [Double], sigma: [Double]) -> ([Double], [Double]) {
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    #expect(predictor.predict(s, theta: theta, eta: eta, sigma: sigma, f: &f, v: &v))
    return (f, v)
  }

  /// Central differences of the plain predictions with step h: first derivatives, and second
  /// derivatives from the four points η ± h e_a ± h e_b (η ± 2h e_a on the diagonal).
  static func differences(_ predictor: Predictor, _ s: Dataset.Subject, theta: [Double], eta: [Double], sigma: [Double], h: Double)
    -> Derivatives
  {
    let n = eta.count
    func at(_ shifts: [(Int, Double)]) -> ([Double], [Double]) {
      var e = eta
      for (k, d) in shifts { e[k] += d }
      return plain(predictor, s, theta: theta, eta: e, sigma: sigma)
    }
    let (f, v) = at([])
    let m = f.count
    var d = Derivatives(
      f: f, v: v, df: Array(repeating: Array(repeating: 0, count: n), count: m),
      dv: Array(repeating: Array(repeating: 0, count: n), count: m),
      d2f: Array(repeating: Array(repeating: Array(repeating: 0, count: n), count: n), count: m),
      d2v: Array(repeating: Array(repeating: Array(repeating: 0, count: n), count: n), count: m))
    for a in 0..<n {
      let (fp, vp) = at([(a, h)])
      let (fm, vm) = at([(a, -h)])
      for j in 0..<m {
        d.df[j][a] = (fp[j] - fm[j]) / (2 * h)
        d.dv[j][a] = (vp[j] - vm[j]) / (2 * h)
      }
      for b in 0...a {
        let pp = at([(a, h), (b, h)])
        let pm = at([(a, h), (b, -h)])
        let mp = at([(a, -h), (b, h)])
        let mm = at([(a, -h), (b, -h)])
        for j in 0..<m {
          let f2 = (pp.0[j] - pm.0[j] - mp.0[j] + mm.0[j]) / (4 * h * h)
          let v2 = (pp.1[j] - pm.1[j] - mp.1[j] + mm.1[j]) / (4 * h * h)
          (d.d2f[j][a][b], d.d2f[j][b][a]) = (f2, f2)
          (d.d2v[j][a][b], d.d2v[j][b][a]) = (v2, v2)
        }
      }
    }
    return d
  }

  /// A one-compartment control stream (CL = θ₁·e^{η₁}, S1 = V) with the rest of `$PK` given.
  static func advan1(pk: String, error: String, omega: String, sigma: Double) -> String {
    """
    $PROBLEM jets
    $INPUT ID TIME AMT CMT EVID DV
    $DATA data.csv
    $SUBROUTINES ADVAN1 TRANS2
    $PK
    CL = THETA(1)*EXP(ETA(1))
    \(pk)
    S1 = V
    $ERROR
    \(error)
    $THETA 2 10
    $OMEGA \(omega)
    $SIGMA \(sigma)
    """
  }

  /// |x − y| within `tol` of the larger of |y| and `scale`.
  static func close(_ x: Double, _ y: Double, _ tol: Double, scale: Double) -> Bool { abs(x - y) <= tol * max(abs(y), scale) }

  /// One compartment, bolus D at 0, CL = θ₁·e^{η₁}, V = θ₂·e^{η₂}, F1 = e^{η₃}, proportional
  /// error: f = F1·D/V·e^{−k t}, k = CL/V, so ∂f/∂η₁ = −k t·f, ∂f/∂η₂ = (k t − 1)·f,
  /// ∂f/∂η₃ = f, ∂²f/∂η₁² = (k²t² − k t)·f, ∂²f/∂η₁∂η₂ = (2k t − k²t²)·f,
  /// ∂²f/∂η₂² = ((k t − 1)² − k t)·f, and V = σ·f² with ∂V = 2σ f ∂f.
  @Test func oneCompartmentBolusMatchesItsAnalyticDerivatives() throws {
    let text = Self.advan1(pk: "V = THETA(2)*EXP(ETA(2))\nF1 = EXP(ETA(3))", error: "Y = F*(1 + EPS(1))", omega: "0.1 0.1 0.1", sigma: 0.04)
    let times = [0.5, 2, 6, 12]
    let data = "1 0 100 1 1 0\n" + times.map { "1 \($0) 0 1 0 1" }.joined(separator: "\n")
    let problem = try NLMEProblem(stream: ControlStream(text: text, file: "jets.mod"), dataText: data, dataSource: "data.csv")
    let s = try #require(problem.data.subjects.first)
    let eta = [0.3, -0.2, 0.1]
    let d = try #require(Self.jets(Predictor(model: problem.model), s, theta: [2, 10], eta: eta, sigma: [0.04]))
    let cl = 2 * exp(eta[0])
    let v = 10 * exp(eta[1])
    let k = cl / v
    for (j, t) in times.enumerated() {
      let f = exp(eta[2]) * 100 / v * exp(-k * t)
      let kt = k * t
      let df = [-kt * f, (kt - 1) * f, f]
      let d2f = [
        [(kt * kt - kt) * f, (2 * kt - kt * kt) * f, -kt * f],
        [(2 * kt - kt * kt) * f, ((kt - 1) * (kt - 1) - kt) * f, (kt - 1) * f],
        [-kt * f, (kt - 1) * f, f],
      ]
      #expect(Self.close(d.f[j], f, 1e-13, scale: 0))
      #expect(Self.close(d.v[j], 0.04 * f * f, 1e-12, scale: 0))
      for a in 0..<3 {
        #expect(Self.close(d.df[j][a], df[a], 1e-12, scale: f), "t \(t) ∂f/∂η\(a + 1): \(d.df[j][a]) vs \(df[a])")
        #expect(Self.close(d.dv[j][a], 2 * 0.04 * f * df[a], 1e-12, scale: 0.04 * f * f))
        for b in 0..<3 {
          #expect(Self.close(d.d2f[j][a][b], d2f[a][b], 1e-12, scale: f), "t \(t) ∂²f/∂η\(a + 1)∂η\(b + 1)")
          let d2v = 2 * 0.04 * (df[a] * df[b] + f * d2f[a][b])
          #expect(Self.close(d.d2v[j][a][b], d2v, 1e-12, scale: 0.04 * f * f))
        }
      }
    }
  }

  /// Every example the jets cover, at η away from 0 (signs alternating, 0.4 SD): the values
  /// are those of the plain prediction to the bit, and the derivatives those of central
  /// differences (step 10⁻³: truncation near 10⁻⁶ relative).
  @Test(arguments: ["pheno.mod", "indometh.mod", "cart-stein-pred.mod", "cart-stein.mod", "pheno-sbml.json", "heros-ck.json"])
  func examplesMatchFiniteDifferences(_ name: String) throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let problem = try NLMEProblem(controlStream: root.appendingPathComponent(name).path, builtIn: NLMERun.builtIn)
    // $DES differences carry the integration error (relative 10⁻⁹) divided by h².
    try Self.check(problem, name, tol: name == "cart-stein.mod" ? 1e-3 : 1e-5)
  }

  /// The closed forms with several compartments (the jets of their matrix exponential) for
  /// each TRANS, with oral and intravenous boluses, an infusion, additional doses, a
  /// bioavailability with an η and a reset: against central differences, as the examples.
  @Test(arguments: [
    (2, 1, "KA = THETA(1)*EXP(ETA(1))\nK = THETA(2)*EXP(ETA(2))", "(0, 1.2) (0, 0.1)"),
    (
      2, 2, "KA = THETA(1)*EXP(ETA(1))\nCL = THETA(2)*EXP(ETA(2))\nV = THETA(3)\nS2 = V\nF1 = EXP(ETA(1))/(1 + EXP(ETA(1)))",
      "(0, 1.2) (0, 2) (0, 20)"
    ),
    (3, 4, "CL = THETA(1)*EXP(ETA(1))\nV1 = THETA(2)*EXP(ETA(2))\nQ = THETA(3)\nV2 = THETA(4)\nS1 = V1", "(0, 2) (0, 10) (0, 1) (0, 20)"),
    (
      4, 4, "CL = THETA(1)*EXP(ETA(1))\nV2 = THETA(2)*EXP(ETA(2))\nQ = THETA(3)\nV3 = THETA(4)\nKA = THETA(5)\nS2 = V2",
      "(0, 2) (0, 10) (0, 1) (0, 20) (0, 1.5)"
    ),
    (
      11, 4, "CL = THETA(1)*EXP(ETA(1))\nV1 = THETA(2)\nQ2 = THETA(3)*EXP(ETA(2))\nV2 = THETA(4)\nQ3 = THETA(5)\nV3 = THETA(6)\nS1 = V1",
      "(0, 2) (0, 10) (0, 1) (0, 20) (0, 0.5) (0, 40)"
    ),
    (
      12, 4,
      "CL = THETA(1)*EXP(ETA(1))\nV2 = THETA(2)*EXP(ETA(2))\nQ3 = THETA(3)\nV3 = THETA(4)\nQ4 = THETA(5)\nV4 = THETA(6)\nKA = THETA(7)\nS2 = V2",
      "(0, 2) (0, 10) (0, 1) (0, 20) (0, 0.5) (0, 40) (0, 1.5)"
    ),
  ])
  func closedFormsMatchFiniteDifferences(_ advan: Int, _ trans: Int, _ pk: String, _ thetas: String) throws {
    // ID TIME AMT RATE ADDL II CMT EVID DV: a bolus into compartment 1 with two more every 12 h
    // (one only where F1 has an η), an infusion
    // into the central compartment (the first for ADVAN1/3/11), a reset and a bolus again.
    let central = [3, 11].contains(advan) ? 1 : 2
    // An η in F1 makes additional doses unsupported (finite differences then serve).
    let additional = pk.contains("F1 = ") ? 0 : 2
    var rows: [String] = []
    for id in 1...3 {
      rows.append("\(id) 0 100 0 \(additional) 12 1 1 0")
      for t in [0.5, 2, 6, 13, 25] { rows.append("\(id) \(t) 0 0 0 0 \(central) 0 \(1 + 0.1 * Double(id))") }
      rows.append("\(id) 30 50 25 0 0 \(central) 1 0")
      for t in [30.5, 31, 34] { rows.append("\(id) \(t) 0 0 0 0 \(central) 0 1") }
      rows.append("\(id) 40 80 0 0 0 1 4 0")
      for t in [41.0, 44] { rows.append("\(id) \(t) 0 0 0 0 \(central) 0 1") }
    }
    let text = """
      $PROBLEM closed form
      $INPUT ID TIME AMT RATE ADDL II CMT EVID DV
      $DATA d.csv
      $SUBROUTINES ADVAN\(advan) TRANS\(trans)
      $PK
      \(pk)
      $ERROR
      Y = F + F*EPS(1)
      $THETA \(thetas)
      $OMEGA 0.1 0.2
      $SIGMA 0.04
      """
    let problem = try NLMEProblem(
      stream: ControlStream(text: text, file: "c.mod"), dataText: rows.joined(separator: "\n"), dataSource: "d.csv")
    try Self.check(problem, "ADVAN\(advan) TRANS\(trans)", tol: 1e-5)
  }

  static func check(_ problem: NLMEProblem, _ name: String, tol: Double) throws {
    let p = problem.initial
    let n = problem.model.eta.count
    let eta = (0..<n).map { (($0 % 2 == 0) ? 0.4 : -0.4) * p.omega[$0 * n + $0].squareRoot() }
    let predictor = Predictor(model: problem.model)
    for s in problem.data.subjects.prefix(6) {
      let d = try #require(Self.jets(predictor, s, theta: p.theta, eta: eta, sigma: p.sigma), "\(name) subject \(s.id)")
      let (f, v) = Self.plain(predictor, s, theta: p.theta, eta: eta, sigma: p.sigma)
      #expect(d.f == f && d.v == v, "\(name) subject \(s.id): values differ from the plain prediction")
      let fd = Self.differences(predictor, s, theta: p.theta, eta: eta, sigma: p.sigma, h: 1e-3)
      for j in f.indices {
        let scale = abs(f[j]) + 1e-3
        for a in 0..<n {
          #expect(Self.close(d.df[j][a], fd.df[j][a], tol, scale: scale), "\(name) \(s.id) obs \(j) ∂f/∂η\(a + 1)")
          #expect(Self.close(d.dv[j][a], fd.dv[j][a], tol, scale: abs(v[j])), "\(name) \(s.id) obs \(j) ∂V/∂η\(a + 1)")
          for b in 0..<n {
            #expect(Self.close(d.d2f[j][a][b], fd.d2f[j][a][b], tol, scale: scale), "\(name) \(s.id) obs \(j) ∂²f/∂η\(a + 1)∂η\(b + 1)")
            #expect(Self.close(d.d2v[j][a][b], fd.d2v[j][a][b], tol, scale: abs(v[j])))
          }
        }
      }
    }
  }

  /// The CAR T model as `$DES` integrated with its sensitivities and in closed form: the same
  /// derivatives within the integration tolerance (TOL=9), for every patient.
  @Test func desSensitivitiesMatchTheClosedForm() throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let des = try NLMEProblem(controlStream: root.appendingPathComponent("cart-stein.mod").path)
    let closed = try NLMEProblem(controlStream: root.appendingPathComponent("cart-stein-pred.mod").path)
    let p = des.initial
    let eta = [0.3, -0.25, 0.2]
    let (a, b) = (Predictor(model: des.model), Predictor(model: closed.model))
    var largest = 0.0
    for (s, t) in zip(des.data.subjects, closed.data.subjects) {
      let x = try #require(Self.jets(a, s, theta: p.theta, eta: eta, sigma: p.sigma))
      let y = try #require(Self.jets(b, t, theta: p.theta, eta: eta, sigma: p.sigma))
      for j in x.f.indices {
        largest = max(largest, abs(x.f[j] - y.f[j]))
        for k in 0..<3 {
          largest = max(largest, abs(x.df[j][k] - y.df[j][k]))
          for l in 0..<3 { largest = max(largest, abs(x.d2f[j][k][l] - y.d2f[j][k][l])) }
        }
      }
    }
    // log(E + M) and its derivatives: absolute differences on the log scale.
    #expect(largest < 1e-6, "largest difference \(largest)")
  }

  /// pheno with its structure in SBML (integrated on jets, tolerance 10⁻¹⁰) and in closed form
  /// (ADVAN1): the same predictions and derivatives for every subject, within the integration
  /// error.
  @Test func sbmlSensitivitiesMatchTheClosedForm() throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let sbml = try NLMEProblem(controlStream: root.appendingPathComponent("pheno-sbml.json").path)
    let closed = try NLMEProblem(controlStream: root.appendingPathComponent("pheno.mod").path)
    let p = closed.initial
    let eta = [0.2, -0.15]
    let (a, b) = (Predictor(model: sbml.model), Predictor(model: closed.model))
    var largest = 0.0
    for (s, t) in zip(sbml.data.subjects, closed.data.subjects) {
      let x = try #require(Self.jets(a, s, theta: p.theta, eta: eta, sigma: p.sigma))
      let y = try #require(Self.jets(b, t, theta: p.theta, eta: eta, sigma: p.sigma))
      #expect(x.f.count == y.f.count)
      for j in x.f.indices {
        let scale = abs(y.f[j])
        largest = max(largest, abs(x.f[j] - y.f[j]) / scale, abs(x.v[j] - y.v[j]) / abs(y.v[j]))
        for k in 0..<2 {
          largest = max(largest, abs(x.df[j][k] - y.df[j][k]) / scale, abs(x.dv[j][k] - y.dv[j][k]) / abs(y.v[j]))
          for l in 0..<2 {
            largest = max(largest, abs(x.d2f[j][k][l] - y.d2f[j][k][l]) / scale, abs(x.d2v[j][k][l] - y.d2v[j][k][l]) / abs(y.v[j]))
          }
        }
      }
    }
    #expect(largest < 1e-7, "largest relative difference \(largest)")
  }

  /// Where a dose's timing depends on η the jets step aside, and the objective takes finite
  /// differences: the same OFV as with jets switched off.
  @Test func lagDependingOnEtaFallsBackToDifferences() throws {
    let text = Self.advan1(pk: "V = THETA(2)\nALAG1 = 0.5*EXP(ETA(2))", error: "Y = F + EPS(1)", omega: "0.1 0.1", sigma: 0.01)
    let data = "1 0 100 1 1 0\n1 1 0 1 0 8.1\n1 3 0 1 0 5.2\n1 8 0 1 0 2.1"
    let problem = try NLMEProblem(stream: ControlStream(text: text, file: "lag.mod"), dataText: data, dataSource: "data.csv")
    let s = try #require(problem.data.subjects.first)
    let predictor = Predictor(model: problem.model)
    #expect(Self.jets(predictor, s, theta: [2, 10], eta: [0.1, 0.1], sigma: [0.01]) == nil)
    var objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .focei)
    let fit = try #require(objective.subject(s, problem.initial, start: [], predictor: predictor))
    objective.exactDerivatives = false
    let differenced = try #require(objective.subject(s, problem.initial, start: [], predictor: predictor))
    #expect(fit.converged && fit.ofv.isFinite && fit.ofv == differenced.ofv)
  }

  /// The population objective (FOCE-I, Laplace) with exact derivatives and with finite
  /// differences: the same modes, and OFV within the differences' error (Laplace's takes the
  /// log-determinant of second differences, good to about 10⁻⁵).
  @Test(arguments: [("pheno.mod", FirstOrderObjective.Method.focei), ("cart-stein.mod", .focei), ("cart-stein-pred.mod", .laplace)])
  func objectiveMatchesFiniteDifferences(_ name: String, _ method: FirstOrderObjective.Method) throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let problem = try NLMEProblem(controlStream: root.appendingPathComponent(name).path)
    var objective = FirstOrderObjective(model: problem.model, data: problem.data, method: method)
    let exact = PopulationObjective(objective: objective, threads: 2).subjects(problem.initial)
    objective.exactDerivatives = false
    let differenced = PopulationObjective(objective: objective, threads: 2).subjects(problem.initial)
    for (x, y) in zip(exact, differenced) {
      let (x, y) = (try #require(x), try #require(y))
      #expect(abs(x.ofv - y.ofv) < (method == .laplace ? 1e-4 : 1e-5), "\(name): OFV_i \(x.ofv) vs \(y.ofv)")
      #expect(zip(x.eta, y.eta).allSatisfy { abs($0 - $1) < 1e-6 }, "\(name): η̂ \(x.eta) vs \(y.eta)")
    }
  }
}

/// SBML models on jets beyond the examples: a compartment sized by an initial assignment (so
/// species in math are concentrations), absorption and elimination reactions, an effect with a
/// rate rule started by an initial assignment, a Hill term whose exponent has an ETA, a
/// piecewise rule and `max`; and an event, which makes a subject it fires in fall back to
/// finite differences.
extension JetTests {
  static let turnoverSBML = """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
      <model id="turnover">
        <listOfCompartments><compartment id="central" size="1" constant="true" spatialDimensions="3"/></listOfCompartments>
        <listOfSpecies>
          <species id="Ad" compartment="central" initialAmount="0" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
          <species id="Cc" compartment="central" initialAmount="0" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
        </listOfSpecies>
        <listOfParameters>
          <parameter id="CL" value="2" constant="true"/>
          <parameter id="Vc" value="10" constant="true"/>
          <parameter id="ka" value="1" constant="true"/>
          <parameter id="kout" value="0.2" constant="true"/>
          <parameter id="gam" value="1.5" constant="true"/>
          <parameter id="kin" value="1" constant="false"/>
          <parameter id="E" value="0" constant="false"/>
          <parameter id="shown" value="0" constant="false"/>
          <parameter id="late" value="0" constant="false"/>
        </listOfParameters>
        <listOfInitialAssignments>
          <initialAssignment symbol="central"><math xmlns="http://www.w3.org/1998/Math/MathML"><ci>Vc</ci></math></initialAssignment>
          <initialAssignment symbol="kin"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><cn>5</cn><ci>kout</ci></apply></math></initialAssignment>
          <initialAssignment symbol="E"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><divide/><ci>kin</ci><ci>kout</ci></apply></math></initialAssignment>
        </listOfInitialAssignments>
        <listOfRules>
          <rateRule variable="E"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><minus/>
              <apply><times/><ci>kin</ci><apply><plus/><cn>1</cn><apply><divide/>
                <apply><power/><ci>Cc</ci><ci>gam</ci></apply>
                <apply><plus/><apply><power/><cn>2</cn><ci>gam</ci></apply><apply><power/><ci>Cc</ci><ci>gam</ci></apply></apply>
              </apply></apply></apply>
              <apply><times/><ci>kout</ci><ci>E</ci></apply>
            </apply></math></rateRule>
          <assignmentRule variable="shown"><math xmlns="http://www.w3.org/1998/Math/MathML">
            <piecewise>
              <piece><apply><max/><ci>Cc</ci><cn>0.001</cn></apply><apply><gt/><ci>Cc</ci><cn>0</cn></apply></piece>
              <otherwise><cn>0.001</cn></otherwise>
            </piecewise></math></assignmentRule>
        </listOfRules>
        <listOfReactions>
          <reaction id="absorption" reversible="false">
            <listOfReactants><speciesReference species="Ad" stoichiometry="1" constant="true"/></listOfReactants>
            <listOfProducts><speciesReference species="Cc" stoichiometry="1" constant="true"/></listOfProducts>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>ka</ci><ci>Ad</ci></apply></math></kineticLaw>
          </reaction>
          <reaction id="elimination" reversible="false">
            <listOfReactants><speciesReference species="Cc" stoichiometry="1" constant="true"/></listOfReactants>
            <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>CL</ci><ci>Cc</ci></apply></math></kineticLaw>
          </reaction>
        </listOfReactions>
        <listOfEvents>
          <event id="late_marker" useValuesFromTriggerTime="true">
            <trigger initialValue="true" persistent="true"><math xmlns="http://www.w3.org/1998/Math/MathML">
              <apply><geq/><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>100</cn></apply></math></trigger>
            <listOfEventAssignments>
              <eventAssignment variable="E"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><divide/><ci>E</ci><cn>2</cn></apply></math></eventAssignment>
            </listOfEventAssignments>
          </event>
        </listOfEvents>
      </model>
    </sbml>
    """

  static let turnoverJSON = """
    {
      "problem": "absorption, elimination and a turnover effect in SBML",
      "data": "turnover.csv",
      "input": ["ID", "TIME", "AMT", "CMT", "EVID", "DV"],
      "sbml": "turnover.xml",
      "tolerance": 11,
      "pk": ["CL = THETA(1)*EXP(ETA(1))", "V = THETA(2)*EXP(ETA(2))", "KOUT = THETA(3)*EXP(ETA(3))", "GAM = THETA(4)*EXP(ETA(4))"],
      "parameters": {"CL": "CL", "Vc": "V", "kout": "KOUT", "gam": "GAM"},
      "doses": {"1": "Ad"},
      "observations": {"2": "shown", "3": "E"},
      "error": ["W = SQRT(0.04 + (0.1*F)**2)", "Y = F + W*EPS(1)"],
      "theta": [{"initial": 2, "lower": 0}, {"initial": 10, "lower": 0}, {"initial": 0.2, "lower": 0}, {"initial": 1.5, "lower": 0}],
      "omega": [{"diagonal": [0.1, 0.05, 0.08, 0.04]}],
      "sigma": [{"diagonal": [1], "fixed": true}],
      "estimation": [{"method": "focei"}]
    }
    """

  /// The problem with subjects sampled until `last` (the event fires at 100).
  static func turnover(last: Double) throws -> NLMEProblem {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-turnover-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    var rows = ["ID,TIME,AMT,CMT,EVID,DV"]
    for id in 1...4 {
      let times = [0.5, 1, 2, 4, 8, 12, 24, last]
      rows.append("\(id),0,\(100 + 10 * id),1,1,0")
      for (k, t) in times.enumerated() {
        let dv = 5 * Foundation.exp(-0.1 * t) + Double(id) * 0.1 + Double(k % 3) * 0.2
        rows.append("\(id),\(t),0,\(k % 2 == 0 ? 2 : 3),0,\(dv)")
      }
    }
    try rows.joined(separator: "\n").write(to: folder.appendingPathComponent("turnover.csv"), atomically: true, encoding: .utf8)
    try turnoverSBML.write(to: folder.appendingPathComponent("turnover.xml"), atomically: true, encoding: .utf8)
    let stream = folder.appendingPathComponent("turnover.json")
    try turnoverJSON.write(to: stream, atomically: true, encoding: .utf8)
    return try NLMEProblem(controlStream: stream.path)
  }

  @Test func sbmlFeaturesMatchFiniteDifferences() throws {
    try Self.check(Self.turnover(last: 48), "turnover", tol: 1e-5)
  }

  /// Subjects observed after the event at t = 100: the jets step aside, and each OFV_i is the
  /// one finite differences give.
  @Test func sbmlEventFallsBackToDifferences() throws {
    let problem = try Self.turnover(last: 120)
    let predictor = Predictor(model: problem.model)
    let p = problem.initial
    for s in problem.data.subjects {
      #expect(Self.jets(predictor, s, theta: p.theta, eta: [0.1, -0.1, 0.1, -0.1], sigma: p.sigma) == nil)
    }
    var objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .focei)
    let s = try #require(problem.data.subjects.first)
    let fit = try #require(objective.subject(s, p, start: [], predictor: predictor))
    objective.exactDerivatives = false
    let differenced = try #require(objective.subject(s, p, start: [], predictor: predictor))
    #expect(fit.converged && fit.ofv.isFinite && fit.ofv == differenced.ofv)
  }
}

extension JetTests {
  /// Infusions into an SBML model: one compartment in SBML (Examples/nlme/one-compartment.xml)
  /// against ADVAN1 TRANS2 on the same data (an infusion over 2 h, a bolus, another infusion
  /// still running at an observation): the same predictions and η-derivatives within the
  /// integration error.
  @Test func sbmlInfusionMatchesTheClosedForm() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-infusion-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    try FileManager.default.copyItem(at: root.appendingPathComponent("one-compartment.xml"), to: folder.appendingPathComponent("one.xml"))
    var rows = ["ID,TIME,AMT,RATE,EVID,DV"]
    for id in 1...3 {
      rows.append("\(id),0,100,50,1,0")
      for t in [1.0, 2, 3, 5] { rows.append("\(id),\(t),0,0,0,\(5 * Foundation.exp(-0.1 * t))") }
      rows.append("\(id),6,50,0,1,0")
      rows.append("\(id),8,0,0,0,3")
      rows.append("\(id),10,60,\(10 * id),1,0")
      for t in [11.0, 12] { rows.append("\(id),\(t),0,0,0,\(5 * Foundation.exp(-0.1 * t))") }
    }
    try rows.joined(separator: "\n").write(to: folder.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
    let json = """
      {"problem": "infusions", "data": "d.csv", "input": ["ID", "TIME", "AMT", "RATE", "EVID", "DV"], "sbml": "one.xml",
       "tolerance": 11, "pk": ["CL = THETA(1)*EXP(ETA(1))", "V = THETA(2)*EXP(ETA(2))"], "parameters": {"CL": "CL", "V": "V"},
       "doses": {"1": "A"}, "observations": {"1": "C"}, "error": ["Y = F + F*EPS(1)"],
       "theta": [{"initial": 2, "lower": 0}, {"initial": 20, "lower": 0}], "omega": [{"diagonal": [0.1, 0.1]}],
       "sigma": [{"diagonal": [0.02]}]}
      """
    let mod = """
      $PROBLEM infusions
      $INPUT ID TIME AMT RATE EVID DV
      $DATA d.csv IGNORE=@
      $SUBROUTINES ADVAN1 TRANS2
      $PK
      CL = THETA(1)*EXP(ETA(1))
      V = THETA(2)*EXP(ETA(2))
      S1 = V
      $ERROR
      Y = F + F*EPS(1)
      $THETA (0, 2) (0, 20)
      $OMEGA 0.1 0.1
      $SIGMA 0.02
      """
    try json.write(to: folder.appendingPathComponent("s.json"), atomically: true, encoding: .utf8)
    try mod.write(to: folder.appendingPathComponent("c.mod"), atomically: true, encoding: .utf8)
    let sbml = try NLMEProblem(controlStream: folder.appendingPathComponent("s.json").path)
    let closed = try NLMEProblem(controlStream: folder.appendingPathComponent("c.mod").path)
    let p = closed.initial
    let eta = [0.2, -0.15]
    let (a, b) = (Predictor(model: sbml.model), Predictor(model: closed.model))
    for (s, t) in zip(sbml.data.subjects, closed.data.subjects) {
      let x = try #require(Self.jets(a, s, theta: p.theta, eta: eta, sigma: p.sigma))
      let y = try #require(Self.jets(b, t, theta: p.theta, eta: eta, sigma: p.sigma))
      let (f, _) = Self.plain(a, s, theta: p.theta, eta: eta, sigma: p.sigma)
      #expect(f == x.f, "the jets change the values")
      #expect(x.f.count == 7)
      for j in x.f.indices {
        let scale = abs(y.f[j])
        #expect(abs(x.f[j] - y.f[j]) < 1e-8 * scale, "subject \(s.id) obs \(j): \(x.f[j]) vs \(y.f[j])")
        for k in 0..<2 {
          #expect(abs(x.df[j][k] - y.df[j][k]) < 1e-7 * scale, "subject \(s.id) obs \(j) ∂f/∂η\(k + 1)")
          for l in 0..<2 { #expect(abs(x.d2f[j][k][l] - y.d2f[j][k][l]) < 1e-7 * scale, "subject \(s.id) obs \(j) ∂²f") }
        }
      }
    }
  }
}

extension JetTests {
  /// A function without derivatives here (sec) reached by a value that depends on η makes that
  /// subject take differences, and only that subject: the next one, whose covariate takes the
  /// other branch, is on jets again.
  @Test func sbmlFunctionWithoutDerivativesFallsBackPerSubject() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-sec-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let sbml = """
      <?xml version="1.0" encoding="UTF-8"?>
      <sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
        <model id="sec">
          <listOfCompartments><compartment id="body" size="1" constant="true" spatialDimensions="3"/></listOfCompartments>
          <listOfSpecies>
            <species id="A" compartment="body" initialAmount="0" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
          </listOfSpecies>
          <listOfParameters>
            <parameter id="k" value="0.1" constant="true"/>
            <parameter id="flag" value="0" constant="true"/>
            <parameter id="kel" value="0" constant="false"/>
          </listOfParameters>
          <listOfRules>
            <assignmentRule variable="kel"><math xmlns="http://www.w3.org/1998/Math/MathML">
              <piecewise>
                <piece><apply><times/><ci>k</ci><apply><sec/><apply><times/><cn>0.1</cn><ci>k</ci></apply></apply></apply>
                  <apply><gt/><ci>flag</ci><cn>0.5</cn></apply></piece>
                <otherwise><ci>k</ci></otherwise>
              </piecewise></math></assignmentRule>
          </listOfRules>
          <listOfReactions>
            <reaction id="elimination" reversible="false">
              <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
              <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>kel</ci><ci>A</ci></apply></math></kineticLaw>
            </reaction>
          </listOfReactions>
        </model>
      </sbml>
      """
    let json = """
      {"problem": "sec", "data": "d.csv", "input": ["ID", "TIME", "AMT", "EVID", "DV", "FLAG"], "sbml": "sec.xml",
       "pk": ["K = THETA(1)*EXP(ETA(1))"], "parameters": {"k": "K", "flag": "FLAG"},
       "doses": {"1": "A"}, "observations": {"1": "A"}, "error": ["Y = F + F*EPS(1)"],
       "theta": [{"initial": 0.1, "lower": 0}], "omega": [{"diagonal": [0.1]}], "sigma": [{"diagonal": [0.02]}]}
      """
    var rows = ["ID,TIME,AMT,EVID,DV,FLAG"]
    for (id, flag) in [(1, 1), (2, 0)] {
      rows.append("\(id),0,100,1,0,\(flag)")
      for t in [1.0, 4, 8] { rows.append("\(id),\(t),0,0,\(100 * Foundation.exp(-0.1 * t)),\(flag)") }
    }
    try rows.joined(separator: "\n").write(to: folder.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
    try sbml.write(to: folder.appendingPathComponent("sec.xml"), atomically: true, encoding: .utf8)
    try json.write(to: folder.appendingPathComponent("s.json"), atomically: true, encoding: .utf8)
    let problem = try NLMEProblem(controlStream: folder.appendingPathComponent("s.json").path)
    let predictor = Predictor(model: problem.model)
    let (first, second) = (problem.data.subjects[0], problem.data.subjects[1])
    #expect(Self.jets(predictor, first, theta: [0.1], eta: [0.1], sigma: [0.02]) == nil)
    let d = try #require(Self.jets(predictor, second, theta: [0.1], eta: [0.1], sigma: [0.02]))
    // A(t) = 100·e^{−k t}, k = 0.1·e^η: ∂A/∂η = −k t A.
    let k = 0.1 * Foundation.exp(0.1)
    for (j, t) in [1.0, 4, 8].enumerated() {
      #expect(abs(d.df[j][0] - (-k * t * d.f[j])) < 1e-6 * d.f[j], "t = \(t): \(d.df[j][0])")
    }
  }
}
