import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import SBMLTestSuite
import TestSupport
import Testing

/// The compiled Jacobian (symbolic differentiation of the model's program) against
/// derivatives worked out by hand, and against central differences on every SBML Test
/// Suite model it applies to.
struct JacobianTests {
  func jacobian(_ sys: SBMLSystem, t: Double, u: [Double]) -> [Double] {
    var J = Array(repeating: Double.nan, count: u.count * u.count)
    u.withUnsafeBufferPointer { ub in J.withUnsafeMutableBufferPointer { sys.jacobian(t: t, u: ub, J: $0) } }
    return J
  }

  func rhs(_ sys: SBMLSystem, t: Double, u: [Double]) -> [Double] {
    var du = Array(repeating: 0.0, count: u.count)
    u.withUnsafeBufferPointer { ub in du.withUnsafeMutableBufferPointer { sys.rhs(t: t, u: ub, du: $0) } }
    return du
  }

  /// Column j by central differences with step h.
  func centralColumn(_ sys: SBMLSystem, t: Double, u: [Double], j: Int, h: Double) -> [Double] {
    var up = u, dn = u
    up[j] += h
    dn[j] -= h
    let fp = rhs(sys, t: t, u: up), fm = rhs(sys, t: t, u: dn)
    return zip(fp, fm).map { ($0 - $1) / (2 * h) }
  }

  @Test func matchesHandDerivedJacobian() throws {
    // S → P by Michaelis–Menten (compartment 2, concentrations in the law), P decays by a
    // Hill term, z follows a rate rule with exp, sin, a power with a state exponent and a
    // piecewise branch.
    let xml = """
      <?xml version="1.0" encoding="UTF-8"?>
      <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
        <model id="m">
          <listOfCompartments><compartment id="c" size="2" constant="true" spatialDimensions="3"/></listOfCompartments>
          <listOfSpecies>
            <species id="S" compartment="c" initialConcentration="3" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
            <species id="P" compartment="c" initialConcentration="0.5" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
          </listOfSpecies>
          <listOfParameters>
            <parameter id="Vmax" value="1.5" constant="true"/><parameter id="Km" value="0.7" constant="true"/>
            <parameter id="k" value="0.9" constant="true"/><parameter id="K" value="0.4" constant="true"/>
            <parameter id="z" value="0.3" constant="false"/>
          </listOfParameters>
          <listOfRules>
            <rateRule variable="z"><math xmlns="http://www.w3.org/1998/Math/MathML">
              <apply><plus/>
                <apply><times/><cn>-0.5</cn><apply><exp/><ci>z</ci></apply><apply><sin/><ci>S</ci></apply></apply>
                <apply><power/><ci>P</ci><ci>z</ci></apply>
                <piecewise><piece><apply><times/><cn>2</cn><ci>S</ci></apply><apply><gt/><ci>S</ci><cn>1</cn></apply></piece>
                  <otherwise><cn>0</cn></otherwise></piecewise>
              </apply></math></rateRule>
          </listOfRules>
          <listOfReactions>
            <reaction id="r1" reversible="false">
              <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
              <listOfProducts><speciesReference species="P" stoichiometry="2" constant="true"/></listOfProducts>
              <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
                <apply><divide/><apply><times/><ci>c</ci><ci>Vmax</ci><ci>S</ci></apply><apply><plus/><ci>Km</ci><ci>S</ci></apply></apply>
              </math></kineticLaw>
            </reaction>
            <reaction id="r2" reversible="false">
              <listOfReactants><speciesReference species="P" stoichiometry="1" constant="true"/></listOfReactants>
              <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
                <apply><divide/><apply><times/><ci>c</ci><ci>k</ci><apply><power/><ci>P</ci><cn>3</cn></apply></apply>
                  <apply><plus/><apply><power/><ci>K</ci><cn>3</cn></apply><apply><power/><ci>P</ci><cn>3</cn></apply></apply></apply>
              </math></kineticLaw>
            </reaction>
          </listOfReactions>
        </model>
      </sbml>
      """
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
    #expect(compiled.jacobian != nil)
    #expect(compiled.isAutonomous)
    let sys = SBMLSystem(compiled)
    #expect(sys.hasAnalyticJacobian)
    let names = compiled.stateNames
    let iS = try #require(names.firstIndex(of: "S")), iP = try #require(names.firstIndex(of: "P")),
      iz = try #require(names.firstIndex(of: "z"))
    // States are amounts: S = 2·[S]; pick a point away from the piecewise switch.
    var u = Array(repeating: 0.0, count: names.count)
    u[iS] = 5.0
    u[iP] = 1.2
    u[iz] = 0.3
    let c = 2.0, Vmax = 1.5, Km = 0.7, k = 0.9, K = 0.4
    let s = u[iS] / c, p = u[iP] / c, z = u[iz]
    // d(amount S)/dt = −c·Vmax·s/(Km+s); ∂/∂S_amount = −c·Vmax·Km/(Km+s)² · (1/c).
    let dr1ds = c * Vmax * Km / ((Km + s) * (Km + s))
    let dr2dp = c * k * 3 * p * p * K * K * K / ((K * K * K + p * p * p) * (K * K * K + p * p * p))
    var expected = Array(repeating: 0.0, count: names.count * names.count)
    let n = names.count
    expected[iS * n + iS] = -dr1ds / c
    expected[iP * n + iS] = 2 * dr1ds / c
    expected[iP * n + iP] = -dr2dp / c
    // dz/dt = −0.5·e^z·sin(s) + p^z + 2s (s > 1).
    expected[iz * n + iS] = (-0.5 * exp(z) * cos(s) + 2) / c
    expected[iz * n + iP] = z * pow(p, z - 1) / c
    expected[iz * n + iz] = -0.5 * exp(z) * sin(s) + pow(p, z) * log(p)
    let J = jacobian(sys, t: 0, u: u)
    for i in 0..<J.count {
      #expect(abs(J[i] - expected[i]) <= 1e-13 * max(abs(expected[i]), 1), "entry \(i / n),\(i % n): \(J[i]) vs \(expected[i])")
    }
  }

  /// Every Test Suite model with a compiled Jacobian, at its initial state and at a
  /// perturbed state: each entry agrees with central differences wherever two step sizes
  /// agree with each other (where they do not, the entry sits on a kink or in rounding
  /// noise and differences say nothing).
  @Test func agreesWithCentralDifferencesOnTheTestSuite() throws {
    let dir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/sbml-test-suite/cases")
    guard FileManager.default.fileExists(atPath: dir.path) else {
      Issue.record("shared suite not found at \(dir.path) (../shared must be next to the package)")
      return
    }
    var models = 0, checked = 0
    var mismatches: [String] = []
    for c in ConformanceCase.discover(dir) {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: c.directory.path)) ?? []
      guard
        let file = files.filter({ $0.hasPrefix("\(c.id)-sbml-l3v2") && $0.hasSuffix(".xml") }).first
          ?? files.filter({ $0.hasPrefix("\(c.id)-sbml") && $0.hasSuffix(".xml") }).sorted().last,
        let model = try? SBMLModel.load(path: c.directory.appendingPathComponent(file).path),
        let compiled = try? CompiledSBML(model), compiled.jacobian != nil, !compiled.states.isEmpty,
        compiled.states.count <= 30  // the few larger models would only slow the debug build down
      else { continue }
      let sys = SBMLSystem(compiled)
      guard sys.hasAnalyticJacobian else { continue }
      let u0 = sys.initialState(at: 0)
      guard u0.allSatisfy(\.isFinite) else { continue }
      models += 1
      for point in 0..<2 {
        let u = point == 0 ? u0 : u0.enumerated().map { $1 * (1 + 0.1 * Double($0 % 3 + 1)) + 0.01 }
        let t = 0.5
        let J = jacobian(sys, t: t, u: u)
        let f = rhs(sys, t: t, u: u)
        let n = u.count
        for j in 0..<n {
          let scale = max(abs(u[j]), 1e-3)
          let c1 = centralColumn(sys, t: t, u: u, j: j, h: 1e-4 * scale)
          let c2 = centralColumn(sys, t: t, u: u, j: j, h: 1e-5 * scale)
          for i in 0..<n {
            // On the scale of the row: |f_i| and the largest entry of the row times u_j.
            var rowScale = abs(f[i]) + 1e-12
            for m in 0..<n { rowScale = max(rowScale, abs(J[i * n + m]) * max(abs(u[m]), 1e-3)) }
            let tol = 1e-6 * rowScale / scale
            guard c1[i].isFinite, c2[i].isFinite, abs(c1[i] - c2[i]) <= tol else { continue }
            checked += 1
            if !(abs(J[i * n + j] - c2[i]) <= 10 * tol) {
              mismatches.append("\(c.id) ∂f[\(compiled.stateNames[i])]/∂\(compiled.stateNames[j]): \(J[i * n + j]) vs \(c2[i])")
            }
          }
        }
      }
    }
    print("compiled Jacobian: \(models) Test Suite models, \(checked) entries checked, \(mismatches.count) mismatches")
    #expect(models > 800, "\(models) models with a compiled Jacobian")
    #expect(mismatches.isEmpty, "\(mismatches.prefix(20).joined(separator: "\n"))")
  }

  func model(rules: String, parameters: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
      <model id="m">
        <listOfCompartments><compartment id="c" size="1" constant="true" spatialDimensions="3"/></listOfCompartments>
        <listOfParameters>\(parameters)</listOfParameters>
        <listOfRules>\(rules)</listOfRules>
      </model>
    </sbml>
    """
  }

  /// A rate rule that is `time` itself reads time: the model is not autonomous, and the
  /// stiff solver gets x = t²/2 right.
  @Test func aRateRuleOfTimeIsNotAutonomous() throws {
    let xml = model(
      rules: """
        <rateRule variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML"><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol></math></rateRule>
        """, parameters: #"<parameter id="x" value="0" constant="false"/>"#)
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
    #expect(!compiled.isAutonomous)
    let tc = SBMLSystem(compiled).simulate(
      start: 0, duration: 4, steps: 4, variables: [("x", .symbol)], rtol: 1e-8, atol: 1e-12, method: .rodas4)
    #expect(tc.returnCode == .success)
    #expect(abs(tc.values[4][0] - 8) < 1e-6)
  }

  /// dS/dt = 1 − S^n from S = 0 with the exponent a state (n = 0.5): the derivatives of S^n
  /// are infinite at S = 0 (and ∂/∂n is 0·ln 0 there); the stiff solver falls back to finite
  /// differences where they are not finite and agrees with the explicit one.
  @Test func aPowerAtZeroFallsBackToFiniteDifferences() throws {
    let xml = model(
      rules: """
        <rateRule variable="S"><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><minus/><cn>1</cn>
          <apply><power/><ci>S</ci><ci>n</ci></apply></apply></math></rateRule>
        <rateRule variable="n"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>0</cn></math></rateRule>
        """, parameters: #"<parameter id="S" value="0" constant="false"/><parameter id="n" value="0.5" constant="false"/>"#)
    let compiled = try CompiledSBML(try SBMLModel.parse(Data(xml.utf8)))
    #expect(compiled.jacobian != nil)
    let stiff = SBMLSystem(compiled).simulate(
      start: 0, duration: 5, steps: 5, variables: [("S", .symbol)], rtol: 1e-8, atol: 1e-12, method: .rodas4)
    let explicit = SBMLSystem(compiled).simulate(
      start: 0, duration: 5, steps: 5, variables: [("S", .symbol)], rtol: 1e-8, atol: 1e-12, method: .dp5)
    #expect(stiff.returnCode == .success)
    for i in 0...5 { #expect(abs(stiff.values[i][0] - explicit.values[i][0]) < 1e-6, "t = \(i)") }
    // Exactly: t = −2√S − 2 ln(1 − √S).
    let y = stiff.values[5][0].squareRoot()
    #expect(abs(-2 * y - 2 * log(1 - y) - 5) < 1e-5)
  }
}
