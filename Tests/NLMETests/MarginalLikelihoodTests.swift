import Foundation
import NLME
import Testing

/// The objectives that approximate the marginal likelihood, against adaptive Gauss–Hermite
/// quadrature of it (an independent numerical method: the integral over the two ETAs of
/// pheno, 24 nodes per dimension around the mode, scaled by the Laplace curvature).
@Suite struct MarginalLikelihoodTests {
  /// −2 log ∫ exp(−½ l(η)) (2π)^{−n/2} |Ω|^{−1/2} dη for one subject by quadrature.
  static func quadrature(_ s: Dataset.Subject, _ p: PopulationParameters, fit: SubjectFit, model: NLMEModel) -> Double {
    let (nodes, weights) = gaussHermite(24)
    // η = η̂ + B·√2·x with B = chol((½H)⁻¹): ∫ g(η) dη = |B|·2^{n/2} Σ w_i w_j g(η̂ + B√2 x) e^{x²}.
    let h = fit.hessian
    let inv = [h[3], -h[1], -h[2], h[0]].map { $0 / (h[0] * h[3] - h[1] * h[2]) }
    let b11 = inv[0].squareRoot()
    let b21 = inv[2] / b11
    let b22 = (inv[3] - b21 * b21).squareRoot()
    let predictor = Predictor(model: model)
    let omega = p.omega
    let detOmega = omega[0] * omega[3] - omega[1] * omega[2]
    var total = 0.0
    var f = [Double](repeating: 0, count: s.observations.count)
    var v = f
    for (xi, wi) in zip(nodes, weights) {
      for (xj, wj) in zip(nodes, weights) {
        let z = [Double(2).squareRoot() * xi, Double(2).squareRoot() * xj]
        let eta = [fit.eta[0] + b11 * z[0], fit.eta[1] + b21 * z[0] + b22 * z[1]]
        guard predictor.predict(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v) else { continue }
        var l = 0.0
        for (j, r) in s.observations.enumerated() {
          let res = s.records[r].dv - f[j]
          l += Foundation.log(v[j]) + res * res / v[j]
        }
        l += eta[0] * eta[0] * omega[3] / detOmega + eta[1] * eta[1] * omega[0] / detOmega - 2 * eta[0] * eta[1] * omega[1] / detOmega
        total += wi * wj * Foundation.exp(-0.5 * l + xi * xi + xj * xj)
      }
    }
    let integral = total * b11 * b22 * 2 / (2 * Double.pi) / detOmega.squareRoot()
    return -2 * Foundation.log(integral)
  }

  /// Nodes and weights of Gauss–Hermite quadrature (weight e^{−x²}) by Newton on the
  /// Hermite recurrence (Numerical Recipes §4.6).
  static func gaussHermite(_ n: Int) -> ([Double], [Double]) {
    var x = [Double](repeating: 0, count: n)
    var w = x
    let m = (n + 1) / 2
    var z = 0.0
    for i in 0..<m {
      if i == 0 {
        z = (2 * Double(n) + 1).squareRoot() - 1.85575 * Foundation.pow(2 * Double(n) + 1, -0.16667)
      } else if i == 1 {
        z -= 1.14 * Foundation.pow(Double(n), 0.426) / z
      } else if i == 2 {
        z = 1.86 * z - 0.86 * x[0]
      } else if i == 3 {
        z = 1.91 * z - 0.91 * x[1]
      } else {
        z = 2 * z - x[i - 2]
      }
      var pp = 0.0
      for _ in 0..<100 {
        var p1 = 1 / Foundation.pow(Double.pi, 0.25)
        var p2 = 0.0
        for j in 1...n {
          let p3 = p2
          p2 = p1
          p1 = z * (2 / Double(j)).squareRoot() * p2 - (Double(j - 1) / Double(j)).squareRoot() * p3
        }
        pp = (2 * Double(n)).squareRoot() * p2
        let z1 = z
        z = z1 - p1 / pp
        if abs(z - z1) < 1e-14 { break }
      }
      x[i] = z
      x[n - 1 - i] = -z
      w[i] = 2 / (pp * pp)
      w[n - 1 - i] = w[i]
    }
    return (x, w)
  }

  @Test func laplaceAndImportanceSamplingAgreeWithQuadrature() throws {
    let p = try PhenoTests.problem()
    let estimates = PhenoTests.estimates
    var exact = 0.0
    var laplace = 0.0
    let predictor = Predictor(model: p.model)
    let laplaceObjective = FirstOrderObjective(model: p.model, data: p.data, method: .laplace)
    for s in p.data.subjects {
      let fit = try #require(laplaceObjective.subject(s, estimates, start: [], predictor: predictor))
      exact += Self.quadrature(s, estimates, fit: fit, model: p.model)
      laplace += fit.ofv
    }
    var imp = FirstOrderObjective(model: p.model, data: p.data, method: .imp)
    imp.samples = 1000
    let fits = PopulationObjective(objective: imp, threads: 2).subjects(estimates)
    let sampled = fits.reduce(0) { $0 + ($1?.ofv ?? .nan) }
    let se = fits.reduce(0) { $0 + ($1?.variance ?? .nan) }.squareRoot()
    print("pheno at NONMEM's estimates: quadrature \(exact), Laplace \(laplace), IMP \(sampled) ± \(se), FOCE-I 586.276")
    // Importance sampling estimates the integral itself: within its Monte Carlo error (the
    // standard error it reports, which must itself be small).
    #expect(abs(sampled - exact) < 4 * se && se < 0.2, "IMP \(sampled) ± \(se) vs quadrature \(exact)")
    // Laplace approximates it; FOCE-I is close to both on this data set.
    #expect(abs(laplace - exact) < 0.5, "Laplace \(laplace) vs quadrature \(exact)")
  }

  /// Simulated data of `Y = THETA(1) + ETA(1) + EPS(1)` have mean θ and variance ω + σ², and
  /// two observations of one subject covariance ω.
  @Test func simulationHasTheModelsMoments() throws {
    let text = "$PROBLEM m\n$INPUT ID TIME DV\n$DATA d.csv\n$PRED\nY = THETA(1) + ETA(1) + EPS(1)\n$THETA 3\n$OMEGA 0.5\n$SIGMA 0.25\n"
    let data = (1...200).map { "\($0) 0 0\n\($0) 1 0" }.joined(separator: "\n")
    let problem = try NLMEProblem(stream: try ControlStream(text: text, file: "m.mod"), dataText: data, dataSource: "d.csv")
    let reps = NLMESimulation(problem: problem, parameters: problem.initial).replicates(50, seed: 7, threads: 2)
    let first = reps.flatMap { r in stride(from: 0, to: r.y.count, by: 2).map { r.y[$0] } }
    let second = reps.flatMap { r in stride(from: 1, to: r.y.count, by: 2).map { r.y[$0] } }
    let mean = first.reduce(0, +) / Double(first.count)
    let variance = first.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(first.count - 1)
    let mean2 = second.reduce(0, +) / Double(second.count)
    let covariance = zip(first, second).reduce(0) { $0 + ($1.0 - mean) * ($1.1 - mean2) } / Double(first.count - 1)
    // 10 000 draws: standard errors about 0.009 (mean), 0.012 (variance), 0.01 (covariance).
    #expect(abs(mean - 3) < 0.04 && abs(variance - 0.75) < 0.05 && abs(covariance - 0.5) < 0.05, "\(mean) \(variance) \(covariance)")
    // The same seed gives the same draws whatever the thread count.
    let one = NLMESimulation(problem: problem, parameters: problem.initial).replicates(3, seed: 7, threads: 1)
    #expect(one.map(\.y) == Array(reps.prefix(3)).map(\.y))
  }
}
