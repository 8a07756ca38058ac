import Foundation
import StatKit
import TestSupport
import Testing

@testable import Estimation

@Suite("Optimisers and multi-start fitting")
struct FitTests {
  /// The Rosenbrock function (minimum 0 at (1, 1)) with its gradient and the Gauss–Newton
  /// matrix of its residual form r = (10(y − x²), 1 − x).
  static let rosenbrock = BoundedProblem(lower: [-2, -1], upper: [2, 3]) { p, _ in
    let x = p[0], y = p[1]
    let r1 = 10 * (y - x * x), r2 = 1 - x
    let J = [[-20 * x, 10], [-1, 0]]
    let g = [2 * (r1 * J[0][0] + r2 * J[1][0]), 2 * (r1 * J[0][1] + r2 * J[1][1])]
    var F = [Double](repeating: 0, count: 4)
    for a in 0..<2 { for b in 0..<2 { F[a * 2 + b] = 2 * (J[0][a] * J[0][b] + J[1][a] * J[1][b]) } }
    return (r1 * r1 + r2 * r2, g, F)
  }

  @Test("trust region and L-BFGS find Rosenbrock's minimum", arguments: [OptimizerKind.trustRegion, .lbfgsb])
  func rosenbrockMinimum(_ kind: OptimizerKind) {
    var fit = MultiStartFit()
    fit.optimizer = kind
    let r = fit.optimize(Self.rosenbrock, from: [-1.2, 1])
    #expect(r.f < 1e-8, "\(r)")
    #expect(abs(r.x[0] - 1) < 1e-3 && abs(r.x[1] - 1) < 1e-3)
  }

  @Test(
    "reflective step-back: inside the box and the trust region, never worse than the truncated step, better where the reflection wins")
  func reflectiveSteps() {
    // The model ½ŝᵀŝ − (1, 1)·ŝ from (0.5, 0.5) in [0, 1] × [0, 2], D = 1: the trust-region
    // step (1, 1) meets x₀ = 1 halfway. Truncated at 95% of the way its model value is −0.724;
    // the reflection reaches the bound, where the model has no slope along the reflected
    // direction: −0.75.
    var steps = ScaledStepCandidates(
      x: [0.5, 0.5], lower: [0, 0], upper: [1, 2], D: [1, 1], free: [0, 1], H: [1, 0, 0, 1], g: [-1, -1], radius: 2,
      theta: 0.95)
    var rng = RandomStream(seed: 16, id: 0)
    for trial in 0..<200 {
      if trial > 0 {
        // Random convex models and radii around the same point.
        let a = Double.random(in: 0.1...3, using: &rng), b = Double.random(in: 0.1...3, using: &rng)
        let c = Double.random(in: -0.5...0.5, using: &rng) * (a * b).squareRoot()
        steps = ScaledStepCandidates(
          x: [0.5, 0.5], lower: [0, 0], upper: [1, 2], D: [1, 1], free: [0, 1], H: [a, c, c, b],
          g: [Double.random(in: -2...2, using: &rng), Double.random(in: -2...2, using: &rng)],
          radius: Double.random(in: 0.05...3, using: &rng), theta: 0.95)
      }
      let p = trustRegionStep(steps.g, steps.H, radius: steps.radius)
      let best = steps.best(trustRegionStep: p)
      let x = zip(steps.x, steps.unscaled(best)).map(+)
      #expect(x[0] >= -1e-12 && x[0] <= 1 + 1e-12 && x[1] >= -1e-12 && x[1] <= 2 + 1e-12, "\(x)")
      #expect(norm(best) <= steps.radius * (1 + 1e-9))
      let reach = steps.breakpoint(from: [0, 0], along: p).fraction
      let truncated = p.map { $0 * min(1, 0.95 * reach) }
      #expect(steps.model(best) <= steps.model(truncated) + 1e-12)
      if trial == 0 {
        #expect(abs(steps.model(truncated) - -0.724) < 1e-3)
        #expect(abs(steps.model(best) - -0.75) < 1e-12, "the reflection should win here")
      }
    }
  }

  @Test("a minimum on the bound is reached from inside (bound-constrained quadratic)", arguments: [OptimizerKind.trustRegion, .lbfgsb])
  func boundMinimum(_ kind: OptimizerKind) {
    // f = (x − 3)² + (y + 1)² on [0, 2] × [0, 1]: the minimum is (2, 0), both on bounds.
    let problem = BoundedProblem(lower: [0, 0], upper: [2, 1]) { p, _ in
      ((p[0] - 3) * (p[0] - 3) + (p[1] + 1) * (p[1] + 1), [2 * (p[0] - 3), 2 * (p[1] + 1)], [2, 0, 0, 2])
    }
    var fit = MultiStartFit()
    fit.optimizer = kind
    let r = fit.optimize(problem, from: [0.5, 0.5])
    #expect(abs(r.x[0] - 2) < 1e-4 && abs(r.x[1]) < 1e-4, "\(r)")
    #expect(abs(r.f - 2) < 1e-3)
  }

  @Test("Latin hypercube starts: one per stratum in every parameter, inside the bounds, set by the seed")
  func latinHypercube() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(benchmark("Boehm_JProteomeRes2014")))
    var fit = MultiStartFit()
    fit.starts = 16
    let points = fit.startPoints(objective)
    for k in 0..<objective.dimension {
      let strata = points.map { Int((($0[k] - objective.lower[k]) / (objective.upper[k] - objective.lower[k]) * 16).rounded(.down)) }
      #expect(Set(strata).count == 16)
    }
    #expect(fit.startPoints(objective).map { $0 } == points)
    fit.seed = 2
    #expect(fit.startPoints(objective) != points)
  }

  @Test("results do not depend on the thread count")
  func threadIndependence() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(suiteCase("0019")))
    var fit = MultiStartFit()
    fit.starts = 4
    fit.threads = 1
    let one = fit.run(objective)
    fit.threads = 3
    let three = fit.run(objective)
    #expect(one.starts.map(\.nllh) == three.starts.map(\.nllh))
    #expect(one.starts.map(\.x) == three.starts.map(\.x))
  }
}

@Suite("CAR T example: fit and profiles recover the truth")
struct CARTExampleTests {
  static let path = packageRoot.appendingPathComponent("Examples/fit/cartmath.yaml").path

  /// Values written by Examples/fit/make_data.py from an independent simulator (scipy).
  static func reference() throws -> YAMLValue {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("Examples/fit/reference.yaml"), encoding: .utf8)
    return try YAML.parse(text, file: "reference.yaml")
  }

  @Test("objective at the true parameters matches scipy's")
  func nominal() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(Self.path))
    let ev = objective.evaluate(objective.nominal)
    let ref = try Self.reference()
    #expect(abs(ev.llh - (ref["llh"]?.double ?? .nan)) < 1e-5)
    #expect(abs(ev.chi2 - (ref["chi2"]?.double ?? .nan)) < 1e-5)
  }

  @Test("gradient through the infusion event equals central differences")
  func gradientThroughEvent() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(Self.path))
    #expect(objective.hasGradient)
    ObjectiveTests.checkGradient(objective, at: objective.nominal.enumerated().map { $1 + 0.05 * cos(Double($0)) })
  }

  @Test("multi-start fit reaches the maximum-likelihood estimate; the true parameters lie in the 95% profile intervals")
  func recovery() throws {
    let objective = try PEtabObjective(try PEtabProblem.load(Self.path))
    var fit = MultiStartFit()
    fit.starts = 3
    fit.threads = 2
    let result = fit.run(objective)
    let best = try #require(result.best)
    let ref = try Self.reference()
    let mle = try #require(ref["mle_llh"]?.double)
    #expect(-best.nllh >= mle - 1e-3, "best llh \(-best.nllh), reference MLE \(mle)")
    var profiler = ProfileLikelihood()
    profiler.threads = 2
    let profiles = profiler.run(objective, optimum: best.x)
    let truth = try PEtabTable(contentsOf: packageRoot.appendingPathComponent("Examples/fit/truth.tsv"), name: "truth.tsv")
    for p in profiles {
      let row = try #require(truth.rows.indices.first { truth.cell($0, "parameterId") == p.parameter })
      let value = try truth.number(row, "trueValue")
      #expect(p.identifiability == .identifiable, "\(p.parameter)")
      let lo = try #require(p.lower95), hi = try #require(p.upper95)
      #expect(lo < value && value < hi, "\(p.parameter): true \(value) outside [\(lo), \(hi)]")
    }
  }
}
