import Foundation
import NLME
import Testing

/// Steady state with `$DES` (the dosing interval repeated until the state repeats) against the
/// closed form's exact steady state (ADVAN4's (I − e^{K·II})⁻¹ and −K⁻¹R), on a depot, central
/// and peripheral compartment: SS=1 bolus, SS=2 infusion on top of it, SS=1 constant infusion.
@Suite struct SteadyStateTests {
  static let data = """
    1 0 100 0 1 1 1 12 0 0
    1 1 0 0 2 0 0 0 0 1
    1 11 0 0 2 0 0 0 0 1
    1 24 80 40 2 1 2 12 0 0
    1 25 0 0 2 0 0 0 0 1
    1 30 0 0 3 0 0 0 0 1
    1 48 0 20 2 1 1 0 0 0
    1 48 0 0 3 0 0 0 0 1
    1 50 0 0 2 0 0 0 0 1
    """
  static let pk = "CL = 3*EXP(ETA(1))\nV2 = 10\nQ = 2\nV3 = 20\nKA = 1.2\nS2 = V2"

  static func problem(_ subroutine: String, model: String = "", des: String = "") throws -> NLMEProblem {
    let text = """
      $PROBLEM steady state
      $INPUT ID TIME AMT RATE CMT EVID SS II ADDL DV
      $DATA data.csv
      $SUBROUTINES \(subroutine)
      \(model)
      $PK
      \(pk)
      \(des)
      $ERROR
      Y = F + EPS(1)
      $THETA 1
      $OMEGA 0.1
      $SIGMA 1
      """
    return try NLMEProblem(stream: try ControlStream(text: text, file: "ss.mod"), dataText: data, dataSource: "data.csv")
  }

  static func predictions(_ problem: NLMEProblem) throws -> [Double] {
    let s = try #require(problem.data.subjects.first)
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    #expect(Predictor(model: problem.model).predict(s, theta: [1], eta: [0.2], sigma: [1], f: &f, v: &v))
    return f
  }

  @Test(arguments: [13, 6])
  func desSteadyStateMatchesTheClosedForm(advan: Int) throws {
    let closedProblem = try Self.problem("ADVAN4 TRANS4")
    let desProblem = try Self.problem(
      "ADVAN\(advan) TOL=12", model: "$MODEL COMP=(DEPOT DEFDOSE) COMP=(CENTRAL DEFOBS) COMP=(PERIPH)",
      des: """
        $DES
        DADT(1) = -KA*A(1)
        DADT(2) = KA*A(1) - (CL/V2)*A(2) - (Q/V2)*A(2) + (Q/V3)*A(3)
        DADT(3) = (Q/V2)*A(2) - (Q/V3)*A(3)
        """)
    let (closed, des) = (try Self.predictions(closedProblem), try Self.predictions(desProblem))
    #expect(closed.allSatisfy { $0 > 0 })
    #expect(
      zip(des, closed).allSatisfy { abs($0 - $1) <= 1e-8 * max(1, abs($1)) } && des.count == closed.count,
      "ADVAN\(advan): \(des) vs \(closed)")
    // The FOCE-I objective of the subject (its η-derivatives by differences on both sides).
    func ofv(_ p: NLMEProblem) throws -> Double {
      let objective = FirstOrderObjective(model: p.model, data: p.data, method: .focei)
      let s = try #require(p.data.subjects.first)
      return try #require(objective.subject(s, p.initial, start: [], predictor: Predictor(model: p.model))).ofv
    }
    let (a, b) = (try ofv(desProblem), try ofv(closedProblem))
    #expect(a.isFinite && abs(a - b) < 1e-6, "OFV \(a) vs \(b)")
  }
}
