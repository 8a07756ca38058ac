import Foundation
import NLME
import ODEKit
import TestSupport
import Testing

/// PREDPP's record semantics and the closed forms against the textbook solutions (Gibaldi &
/// Perrier, Pharmacokinetics, 2nd ed.): bolus, zero-order infusion, first-order absorption,
/// two compartments, steady state, additional doses, lag, bioavailability, modelled duration,
/// resets.
@Suite struct KineticsTests {
  /// The individual predictions at THETA's initial values, η = 0.
  static func predictions(_ subroutine: String, pk: String, data: String, input: String = "ID TIME AMT RATE CMT EVID SS II ADDL DV")
    throws -> [Double]
  {
    let text = """
      $PROBLEM test
      $INPUT \(input)
      $DATA data.csv
      $SUBROUTINES \(subroutine)
      $PK
      \(pk)
      $ERROR
      Y = F + EPS(1)
      $THETA 1
      $OMEGA 0.1
      $SIGMA 1
      """
    let stream = try ControlStream(text: text, file: "test.mod")
    let problem = try NLMEProblem(stream: stream, dataText: data, dataSource: "data.csv")
    let s = try #require(problem.data.subjects.first)
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    let predictor = Predictor(model: problem.model)
    #expect(predictor.predict(s, theta: [1], eta: [0], sigma: [1], f: &f, v: &v))
    return f
  }

  static func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-9) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
  }

  @Test func bolusAndInfusionOneCompartment() throws {
    let (cl, v) = (2.0, 10.0)
    let k = cl / v
    let times = [0.5, 1, 2, 5, 8]
    // 100 by bolus at 0; obs.
    var data = "1 0 100 0 1 1 0 0 0 0\n" + times.map { "1 \($0) 0 0 1 0 0 0 0 1" }.joined(separator: "\n")
    var f = try Self.predictions("ADVAN1 TRANS2", pk: "CL = 2*EXP(ETA(1))\nV = 10\nS1 = V", data: data)
    #expect(Self.close(f, times.map { 100 / v * Foundation.exp(-k * $0) }))
    // 100 at rate 50 (two hours).
    data = "1 0 100 50 1 1 0 0 0 0\n" + times.map { "1 \($0) 0 0 1 0 0 0 0 1" }.joined(separator: "\n")
    f = try Self.predictions("ADVAN1 TRANS2", pk: "CL = 2*EXP(ETA(1))\nV = 10\nS1 = V", data: data)
    let expected = times.map { t in
      t <= 2 ? 50 / cl * (1 - Foundation.exp(-k * t)) : 50 / cl * (1 - Foundation.exp(-k * 2)) * Foundation.exp(-k * (t - 2))
    }
    #expect(Self.close(f, expected), "\(f) vs \(expected)")
    // The same infusion with its duration modelled (RATE = −2, D1 = 2).
    data = "1 0 100 -2 1 1 0 0 0 0\n" + times.map { "1 \($0) 0 0 1 0 0 0 0 1" }.joined(separator: "\n")
    let modelled = try Self.predictions("ADVAN1 TRANS2", pk: "CL = 2*EXP(ETA(1))\nV = 10\nS1 = V\nD1 = 2", data: data)
    #expect(Self.close(modelled, f))
  }

  @Test func firstOrderAbsorptionWithLagAndBioavailability() throws {
    let (ka, cl, v, bio, lag) = (1.5, 2.0, 10.0, 0.6, 0.25)
    let k = cl / v
    let times = [0.1, 0.5, 1, 2, 6, 12]
    let data = "1 0 100 0 1 1 0 0 0 0\n" + times.map { "1 \($0) 0 0 2 0 0 0 0 1" }.joined(separator: "\n")
    let f = try Self.predictions(
      "ADVAN2 TRANS2", pk: "KA = 1.5*EXP(ETA(1))\nCL = 2\nV = 10\nS2 = V\nF1 = 0.6\nALAG1 = 0.25", data: data)
    let expected = times.map { t -> Double in
      let u = t - lag
      return u <= 0 ? 0 : bio * 100 * ka / (v * (ka - k)) * (Foundation.exp(-k * u) - Foundation.exp(-ka * u))
    }
    #expect(Self.close(f, expected), "\(f) vs \(expected)")
  }

  @Test func twoCompartmentBolus() throws {
    let (cl, v1, q, v2) = (3.0, 10.0, 2.0, 20.0)
    let (k10, k12, k21) = (cl / v1, q / v1, q / v2)
    let sum = k10 + k12 + k21
    let disc = (sum * sum - 4 * k10 * k21).squareRoot()
    let (alpha, beta) = ((sum + disc) / 2, (sum - disc) / 2)
    let times = [0.25, 1, 3, 10, 24]
    let data = "1 0 100 0 1 1 0 0 0 0\n" + times.map { "1 \($0) 0 0 1 0 0 0 0 1" }.joined(separator: "\n")
    let f = try Self.predictions("ADVAN3 TRANS4", pk: "CL = 3*EXP(ETA(1))\nV1 = 10\nQ = 2\nV2 = 20\nS1 = V1", data: data)
    let expected = times.map { t in
      100 / v1 * ((alpha - k21) / (alpha - beta) * Foundation.exp(-alpha * t) + (k21 - beta) / (alpha - beta) * Foundation.exp(-beta * t))
    }
    #expect(Self.close(f, expected, 1e-8), "\(f) vs \(expected)")
  }

  @Test func steadyStateAdditionalDosesAndReset() throws {
    let (cl, v, tau) = (2.0, 10.0, 12.0)
    let k = cl / v
    // SS=1 bolus every 12 h at time 0: after the dose C = D/V e^{−kt}/(1 − e^{−kτ}).
    var data = "1 0 100 0 1 1 1 12 0 0\n1 1 0 0 1 0 0 0 0 1\n1 11.9 0 0 1 0 0 0 0 1"
    var f = try Self.predictions("ADVAN1 TRANS2", pk: "CL = 2*EXP(ETA(1))\nV = 10\nS1 = V", data: data)
    #expect(Self.close(f, [1, 11.9].map { 100 / v * Foundation.exp(-k * $0) / (1 - Foundation.exp(-k * tau)) }), "\(f)")
    // ADDL=3, II=12 is four doses; then EVID 3 resets, and a new dose starts from zero.
    data = "1 0 100 0 1 1 0 12 3 0\n1 40 0 0 1 0 0 0 0 1\n1 50 0 0 1 3 0 0 0 0\n1 50 100 0 1 1 0 0 0 0\n1 52 0 0 1 0 0 0 0 1"
    f = try Self.predictions("ADVAN1 TRANS2", pk: "CL = 2*EXP(ETA(1))\nV = 10\nS1 = V", data: data)
    let four = [0.0, 12, 24, 36].reduce(0) { $0 + 100 / v * Foundation.exp(-k * (40 - $1)) }
    #expect(Self.close(f, [four, 100 / v * Foundation.exp(-k * 2)]), "\(f)")
  }

  @Test func abbreviatedCodeSemantics() throws {
    // IF/ELSE IF/ELSE, single-line IF, Fortran operators, ** (right-associative, above unary
    // minus), a variable carried from record to record (BTIME).
    let pk = """
      IF (AMT.GT.0) BTIME = TIME
      TAD = TIME - BTIME
      IF (TAD.LT.1) THEN
        X = 1
      ELSE IF (TAD.GE.1 .AND. TAD.LE.3) THEN
        X = 2
      ELSE
        X = -2**2 + 2**3**2/64
      ENDIF
      CL = 1.D0*EXP(ETA(1))
      V = 1
      S1 = 1/X
      """
    let data = "1 0 1 0 1 1 0 0 0 0\n1 0.5 0 0 1 0 0 0 0 1\n1 2 0 0 1 0 0 0 0 1\n1 5 0 0 1 0 0 0 0 1"
    let f = try Self.predictions("ADVAN1 TRANS2", pk: pk, data: data)
    // S1 = 1/X: F = A·X with A = e^{−t}; X = 1, 2, −4 + 8 = 4.
    #expect(Self.close(f, [Foundation.exp(-0.5), 2 * Foundation.exp(-2), 4 * Foundation.exp(-5)]), "\(f)")
  }

  @Test func refusalsNameTheLineAndField() throws {
    func error(_ text: String) -> String {
      do {
        _ = try ControlStream(text: text, file: "bad.mod")
        return ""
      } catch { return "\(error)" }
    }
    let base = "$PROBLEM x\n$INPUT ID TIME DV\n$DATA d.csv\n"
    #expect(
      error(base + "$PRED\nY = THETA(1) + EPS(1)\n$THETA 1\n$SIGMA 1\n$MIX\n") == "bad.mod: line 8, $MIX: this record is not supported")
    #expect(error(base + "$PRED\nCALL SUPP(1)\n").hasPrefix("bad.mod: line 5: CALL statements are not supported"))
    #expect(error(base + "$PRED\nY = FOO(THETA(1))\n").hasPrefix("bad.mod: line 5: unknown function FOO"))
    #expect(error(base + "$PRED\nIF (TIME.GT.1) THEN\nY=1\n").contains("IF (…) THEN without ENDIF"))
    #expect(error(base + "$PRED\nY = THETA(2) + EPS(1)\n$THETA 1\n$SIGMA 1\n").contains("$THETA: THETA(2) is used but only 1 are declared"))
    #expect(
      error(base + "$PRED\nY = THETA(1) + EPS(1)\n$THETA (0, -1)\n$SIGMA 1\n").contains(
        "line 6, $THETA: THETA(1) initial value -1.0 is not strictly inside"))
    #expect(
      error(base + "$PRED\nY = THETA(1) + EPS(1)\n$THETA 1\n$SIGMA 1\n$ESTIMATION METHOD=ITS\n").contains(
        "$ESTIMATION METHOD: ITS is not supported"))
    #expect(
      error(base + "$PRED\nY = THETA(1) + ETA(1) + EPS(1)\n$THETA 1\n$OMEGA BLOCK(2) 1 2 1\n$SIGMA 1\n").contains("not positive definite"))
  }

  /// NM-TRAN's `$OMEGA` (form 1): in a diagonal record FIX holds only the value before it, or the
  /// value in its own parentheses; in a BLOCK it holds the whole block.
  @Test func fixInADiagonalRecordHoldsOneValue() throws {
    let base = "$PROBLEM x\n$INPUT ID TIME DV\n$DATA d.csv\n$PRED\nY = THETA(1) + ETA(1) + ETA(2) + ETA(3) + ETA(4) + EPS(1)\n"
    let diagonal = try ControlStream(text: base + "$THETA 1\n$OMEGA 0.1 0.2 FIX (FIX 0.3) 0.4\n$SIGMA 1\n", file: "x.mod")
    #expect(diagonal.omegas.map(\.values) == [[0.1], [0.2], [0.3], [0.4]])
    #expect(diagonal.omegas.map(\.fixed) == [false, true, true, false])
    var diag = [Double](repeating: 0, count: 16)
    for i in 0..<4 { diag[i * 5] = [0.1, 0.2, 0.3, 0.4][i] }
    #expect(ControlStream.matrix(diagonal.omegas) == diag)
    // One THETA, OMEGA(1,1) and OMEGA(4,4), SIGMA: four estimated parameters.
    #expect(Parameterization(diagonal).count == 4)
    let free = try ControlStream(text: base + "$THETA 1\n$OMEGA 0.1 0.2 0.3 0.4\n$SIGMA 1\n", file: "x.mod")
    #expect(Parameterization(free).count == 6)
    let block = try ControlStream(text: base + "$THETA 1\n$OMEGA BLOCK(2) 0.1 0.01 0.2 FIX\n$OMEGA 0.3 0.4\n$SIGMA 1 FIX\n", file: "x.mod")
    #expect(Parameterization(block).count == 3)
    do {
      _ = try ControlStream(text: base + "$THETA 1\n$OMEGA FIX 0.1\n$SIGMA 1\n", file: "x.mod")
      Issue.record("FIX before any value was accepted")
    } catch { #expect("\(error)".contains("$OMEGA: FIX before any value")) }
  }

  @Test func badDataRowsAreRefusedWithRowAndColumn() throws {
    let text = "$PROBLEM x\n$INPUT ID TIME AMT EVID DV\n$DATA d.csv\n$PRED\nY = THETA(1) + EPS(1)\n$THETA 1\n$SIGMA 1\n"
    let stream = try ControlStream(text: text, file: "x.mod")
    func error(_ data: String) -> String {
      do {
        _ = try NLMEProblem(stream: stream, dataText: data, dataSource: "d.csv")
        return ""
      } catch { return "\(error)" }
    }
    #expect(error("1,0,10,1,0\n1,abc,0,0,3") == "d.csv: line 2, TIME: 'abc' is not a number")
    #expect(error("1,0,10,7,0") == "d.csv: line 1, EVID: 7 is not an integer in 0–4")
    #expect(error("1,5,10,1,0\n1,2,0,0,3") == "d.csv: line 2, TIME: time goes back from 5 to 2 within ID 1")
    #expect(error("1,0,10") == "d.csv: line 1: 3 fields where $INPUT names 5")
  }
}

extension KineticsTests {
  /// `$DES` written as the two-compartment model with first-order absorption (ADVAN4
  /// TRANS4), with an infusion, additional doses, a reset and a model event time, against the
  /// closed form: under ADVAN13 (`auto`) and under ADVAN6 (DOP853, the non-stiff method).
  @Test(arguments: [13, 6])
  func desMatchesTheClosedForm(advan: Int) throws {
    let data = """
      1 0 100 0 1 1 0 12 2 0
      1 0.5 0 0 3 0 0 0 0 1
      1 3 0 0 2 0 0 0 0 1
      1 30 0 0 2 0 0 0 0 1
      1 30.5 80 40 2 1 0 0 0 0
      1 31 0 0 2 0 0 0 0 1
      1 50 0 0 2 0 0 0 0 1
      """
    let pk = "CL = 3*EXP(ETA(1))\nV2 = 10\nQ = 2\nV3 = 20\nKA = 1.2\nS2 = V2"
    let closed = try Self.predictions("ADVAN4 TRANS4", pk: pk, data: data)
    let text = """
      $PROBLEM des
      $INPUT ID TIME AMT RATE CMT EVID SS II ADDL DV
      $DATA data.csv
      $SUBROUTINES ADVAN\(advan) TOL=12
      $MODEL COMP=(DEPOT DEFDOSE) COMP=(CENTRAL DEFOBS) COMP=(PERIPH)
      $PK
      \(pk)
      MTIME(1) = 7.3
      $DES
      KICK = 0
      IF (T.GE.7.3) KICK = 0
      DADT(1) = -KA*A(1)
      DADT(2) = KA*A(1) - (CL/V2)*A(2) - (Q/V2)*A(2) + (Q/V3)*A(3) + KICK
      DADT(3) = (Q/V2)*A(2) - (Q/V3)*A(3)
      $ERROR
      Y = F + EPS(1)
      $THETA 1
      $OMEGA 0.1
      $SIGMA 1
      """
    let problem = try NLMEProblem(stream: try ControlStream(text: text, file: "des.mod"), dataText: data, dataSource: "data.csv")
    #expect(problem.model.kinetics?.method == (advan == 6 ? .dop853 : .auto))
    let s = try #require(problem.data.subjects.first)
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    #expect(Predictor(model: problem.model).predict(s, theta: [1], eta: [0], sigma: [1], f: &f, v: &v))
    #expect(Self.close(f, closed, 1e-8), "ADVAN\(advan): \(f) vs \(closed)")
    // Observed in the peripheral compartment (CMT 3 on the first observation).
    #expect(closed[0] > 0)
  }
}

extension KineticsTests {
  /// The JSON form reads into the same control stream as the NM-TRAN text, and its refusals
  /// name the field.
  @Test func jsonFormMatchesTheControlStream() throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let json = try NLMEProblem(controlStream: root.appendingPathComponent("pheno.json").path)
    let mod = try NLMEProblem(controlStream: root.appendingPathComponent("pheno.mod").path)
    #expect(json.stream.thetas == mod.stream.thetas && json.stream.omegas == mod.stream.omegas && json.stream.sigmas == mod.stream.sigmas)
    let objective = { (p: NLMEProblem) in
      PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .focei), threads: 1).ofv(p.initial)
    }
    #expect(abs(objective(json) - objective(mod)) < 1e-9)
    func error(_ text: String) -> String {
      do {
        _ = try ControlStream(json: text, file: "m.json")
        return ""
      } catch { return "\(error)" }
    }
    #expect(
      error(#"{"data": "d.csv", "input": ["ID"], "theta": [{"initial": 1}], "thetas": 1}"#).hasPrefix("m.json, thetas: unknown field"))
    #expect(error(#"{"data": "d.csv", "input": ["ID"], "theta": [{"initial": "1"}]}"#) == "m.json, theta[0].initial: expected a number")
    #expect(
      error(#"{"data": "d.csv", "input": ["ID"], "pred": ["Y = 1 +"], "theta": [{"initial": 1}]}"#).hasPrefix("m.json: line 1, pred:"))
    #expect(error(#"{"data": "d.csv", "input": ["ID"], "theta": [{"initial": 1}], "omega": [{"block": [1, 2]}]}"#).contains("omega[0]"))
  }
}

extension KineticsTests {
  /// M3 written in the code as NONMEM users write it (F_FLAG = 1, Y = PHI(…)) gives the
  /// objective of the built-in M3 of a CENS column, at the mode and after Laplace.
  /// Twelve subjects of a one-compartment bolus (ID TIME AMT DV CENS), values below 1.5 censored.
  static func censoredData() -> String {
    var rows: [String] = []
    for id in 1...12 {
      rows.append("\(id) 0 100 0 0")
      for t in [1.0, 4, 8, 16, 24] {
        let c = 100 / 10 * Foundation.exp(-0.2 * t) * (1 + 0.1 * Foundation.sin(Double(id) * t))
        rows.append(c < 1.5 ? "\(id) \(t) 0 1.5 1" : "\(id) \(t) 0 \(c) 0")
      }
    }
    return rows.joined(separator: "\n")
  }

  @Test func likelihoodWrittenWithFFlagMatchesBuiltInM3() throws {
    let data = Self.censoredData()
    func ofv(_ error: String) throws -> Double {
      let text = """
        $PROBLEM m3
        $INPUT ID TIME AMT DV CENS
        $DATA d.csv
        $SUBROUTINES ADVAN1 TRANS2
        $PK
        CL = THETA(1)*EXP(ETA(1))
        V = THETA(2)
        S1 = V
        $ERROR
        \(error)
        $THETA (0, 2) (0, 10)
        $OMEGA 0.1
        $SIGMA 0.04
        """
      let p = try NLMEProblem(stream: try ControlStream(text: text, file: "m3.mod"), dataText: data, dataSource: "d.csv")
      return PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .laplace), threads: 1).ofv(p.initial)
    }
    let builtIn = try ofv("IPRED = F\nW = 0.2*F\nY = IPRED + W*EPS(1)/0.2")
    let written = try ofv(
      """
      IPRED = F
      W = SQRT(SIGMA(1,1))*F
      IF (CENS.EQ.1) THEN
        F_FLAG = 1
        Y = PHI((DV - IPRED)/W)
      ELSE
        F_FLAG = 0
        Y = IPRED + F*EPS(1)
      ENDIF
      """.replacingOccurrences(of: "SQRT(SIGMA(1,1))", with: "0.2"))
    #expect(builtIn.isFinite && abs(builtIn - written) < 1e-6, "\(builtIn) vs \(written)")
  }
}

extension KineticsTests {
  /// The CAR T example (Stein et al. 2019 cellular kinetics, M3 below the limit): its `$DES`
  /// form (ADVAN6 with A_0 and MTIME) has the objective of its closed form in `$PRED`.
  @Test func carTExampleDESMatchesItsClosedForm() throws {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    func ofv(_ name: String) throws -> Double {
      let p = try NLMEProblem(controlStream: root.appendingPathComponent(name).path)
      #expect(p.data.subjects.count == 60)
      return PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .focei), threads: 2).ofv(p.initial)
    }
    let des = try ofv("cart-stein.mod")
    let closed = try ofv("cart-stein-pred.mod")
    #expect(des.isFinite && abs(des - closed) < 1e-3, "$DES \(des) vs $PRED \(closed)")
  }
}

extension KineticsTests {
  /// Abbreviated code with every construct the register machine translates (a value
  /// stored over itself, unary minus and .NOT., powers, calls, the logical operators,
  /// IF/ELSE IF/ELSE and a one-line IF, a value carried from record to record) gives what
  /// the same formulas give in Swift, record by record.
  @Test func abbreviatedCodeMatchesItsFormulas() throws {
    let rows: [(x1: Double, x2: Double)] = [(3, 0.5), (0.5, 2), (1.5, 5), (1.5, 2), (4, 3), (2.5, -0.25)]
    let data = rows.enumerated().map { "1 \($0.offset) \($0.element.x1) \($0.element.x2) 0" }.joined(separator: "\n")
    let text = """
      $PROBLEM code
      $INPUT ID TIME X1 X2 DV
      $DATA data.csv
      $PRED
      AA = X1*2 + 1
      AA = AA*AA - X2
      BB = -AA/4 + X2**2
      IF (X1.GT.2.AND.X2.LE.1) THEN
        CC = EXP(-X1/3)*LOG(X2+3)
      ELSE IF (.NOT.(X1.GE.1).OR.X2.EQ.5) THEN
        CC = SQRT(ABS(BB)) + 10
      ELSE
        CC = BB
      ENDIF
      IF (CC.LT.0) CC = -CC
      NN = NN + 1
      Y = AA + BB*CC + NN*THETA(1) + EPS(1)
      $THETA 0.5
      $OMEGA 0.1
      $SIGMA 1
      """
    let problem = try NLMEProblem(stream: try ControlStream(text: text, file: "code.mod"), dataText: data, dataSource: "data.csv")
    let s = try #require(problem.data.subjects.first)
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    #expect(Predictor(model: problem.model).predict(s, theta: [0.5], eta: [0], sigma: [1], f: &f, v: &v))
    var expected: [Double] = []
    for (k, r) in rows.enumerated() {
      var a = r.x1 * 2 + 1
      a = a * a - r.x2
      let b = -a / 4 + r.x2 * r.x2
      var c: Double
      if r.x1 > 2 && r.x2 <= 1 {
        c = exp(-r.x1 / 3) * log(r.x2 + 3)
      } else if !(r.x1 >= 1) || r.x2 == 5 {
        c = abs(b).squareRoot() + 10
      } else {
        c = b
      }
      if c < 0 { c = -c }
      expected.append(a + b * c + Double(k + 1) * 0.5)
    }
    #expect(f.count == rows.count)
    #expect(Self.close(f, expected, 1e-13), "\(f) vs \(expected)")
    // Every branch was taken: the rows cover the IF, the ELSE IF (both ways) and the ELSE.
    #expect(Set(rows.map { $0.x1 > 2 && $0.x2 <= 1 ? 0 : (!($0.x1 >= 1) || $0.x2 == 5 ? 1 : 2) }) == [0, 1, 2])
  }
}

extension KineticsTests {
  /// M4 written in the code as NONMEM users write it (Beal 2001; Ahn et al. 2008): a value
  /// below the limit has the likelihood P(0 < y < LLOQ)/P(y > 0). The predictor gives that
  /// likelihood for every censored record, against Φ from erfc, and the FOCE-I objective is
  /// finite with its modes found.
  @Test func m4WrittenWithFFlagGivesTheConditionalLikelihood() throws {
    let text = """
      $PROBLEM m4
      $INPUT ID TIME AMT DV CENS
      $DATA d.csv
      $SUBROUTINES ADVAN1 TRANS2
      $PK
      CL = THETA(1)*EXP(ETA(1))
      V = THETA(2)
      S1 = V
      $ERROR
      IPRED = F
      W = 0.2*F
      IF (CENS.EQ.1) THEN
        F_FLAG = 1
        CUMD = PHI((DV - IPRED)/W)
        CUMDZ = PHI(-IPRED/W)
        Y = (CUMD - CUMDZ)/(1 - CUMDZ)
      ELSE
        F_FLAG = 0
        Y = IPRED + W*EPS(1)
      ENDIF
      $THETA (0, 2) (0, 10)
      $OMEGA 0.1
      $SIGMA 1 FIX
      """
    let p = try NLMEProblem(stream: try ControlStream(text: text, file: "m4.mod"), dataText: Self.censoredData(), dataSource: "d.csv")
    func phi(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }
    let predictor = Predictor(model: p.model)
    let eta = 0.1
    var censored = 0
    for s in p.data.subjects {
      var f = [Double](repeating: 0, count: s.observations.count)
      var v = f
      #expect(predictor.predict(s, theta: [2, 10], eta: [eta], sigma: [1], f: &f, v: &v))
      for (j, r) in s.observations.enumerated() {
        let record = s.records[r]
        let ipred = 10 * Foundation.exp(-2 * Foundation.exp(eta) / 10 * record.time)
        let w = 0.2 * ipred
        if record.values[4] == 1 {
          censored += 1
          let expected = (phi((record.dv - ipred) / w) - phi(-ipred / w)) / (1 - phi(-ipred / w))
          #expect(v[j] == Predictor.likelihoodValued)
          #expect(abs(f[j] - expected) < 1e-12, "subject \(s.id) t = \(record.time): \(f[j]) vs \(expected)")
        } else {
          #expect(abs(f[j] - ipred) < 1e-12 * ipred && abs(v[j] - w * w) < 1e-12 * w * w)
        }
      }
    }
    #expect(censored > 5)
    let fits = PopulationObjective(objective: FirstOrderObjective(model: p.model, data: p.data, method: .focei), threads: 1).subjects(
      p.initial)
    #expect(fits.allSatisfy { $0.map { $0.converged && $0.ofv.isFinite } ?? false })
  }
}
