import Parallel
import StatKit

/// Simulated replicates of a dataset's design from a population model: for each replicate
/// and subject, η ~ N(0, Ω), the individual predictions f and residual variances V, and
/// y = f + √V·z (the distribution of Y = f + Σ h_k ε_k for Y linear in ε, as the estimation
/// methods assume). A value below the record's quantification limit is marked censored.
/// Draws come from streams addressed by (seed, replicate, subject): independent of threads.
public struct NLMESimulation: Sendable {
  /// The most replicates one simulation may ask for.
  public static let maxReplicates = 100_000

  public struct Replicate: Sendable {
    /// One value per likelihood observation of the dataset, subjects in order.
    public var y: [Double]
    public var censored: [Bool]
    public var eta: [[Double]]
  }

  public let problem: NLMEProblem
  public let parameters: PopulationParameters

  public init(problem: NLMEProblem, parameters: PopulationParameters) {
    self.problem = problem
    self.parameters = parameters
  }

  /// Replicates `0..<count` (a value is NaN where the model could not be evaluated).
  public func replicates(_ count: Int, seed: UInt64, threads: Int) -> [Replicate] {
    precondition((0...Self.maxReplicates).contains(count), "replicates \(count)")
    let n = problem.stream.etaCount
    let omegaL = cholesky(parameters.omega, n) ?? [Double](repeating: 0, count: n * n)
    return Parallel.map(count, threads: threads) { r in
      self.replicate(r, seed: seed, omegaCholesky: omegaL, predictor: Predictor(model: self.problem.model))
    }
  }

  /// Replicate `r` of the seed's streams (`omegaCholesky`: the lower Cholesky factor of Ω, or
  /// zeros for none; `predictor`: one of this model's, used by one thread at a time).
  func replicate(_ r: Int, seed: UInt64, omegaCholesky omegaL: [Double], predictor: Predictor) -> Replicate {
    let p = parameters
    let n = problem.stream.etaCount
    var out = Replicate(y: [], censored: [], eta: [])
    for (i, s) in problem.data.subjects.enumerated() {
      var rng = RandomStream(seed: seed, id: RandomStream.address(0x5349_4D55, UInt64(r), UInt64(i)))
      let z = (0..<n).map { _ in rng.normal() }
      let eta = (0..<n).map { a in (0...a).reduce(0) { $0 + omegaL[a * n + $1] * z[$1] } }
      var f = [Double](repeating: 0, count: s.observations.count)
      var v = f
      let ok = predictor.predict(s, theta: p.theta, eta: eta, sigma: p.sigma, f: &f, v: &v)
      for (j, index) in s.observations.enumerated() {
        let y = ok ? f[j] + v[j].squareRoot() * rng.normal() : .nan
        out.y.append(y)
        out.censored.append(s.records[index].limit.map { y < $0 } ?? false)
      }
      out.eta.append(eta)
    }
    return out
  }

  /// The population predictions (η = 0) of every likelihood observation, subjects in order.
  public func populationPredictions() -> [Double] {
    let predictor = Predictor(model: problem.model)
    let n = problem.stream.etaCount
    var out: [Double] = []
    for s in problem.data.subjects {
      var f = [Double](repeating: 0, count: s.observations.count)
      var v = f
      let ok = predictor.predict(
        s, theta: parameters.theta, eta: [Double](repeating: 0, count: n), sigma: parameters.sigma, f: &f, v: &v)
      out += ok ? f : f.map { _ in .nan }
    }
    return out
  }
}

extension Dataset {
  /// The dataset with its likelihood observations replaced by a simulated replicate's values,
  /// as if the study had measured them: a value below its record's limit becomes censored at
  /// the limit (DV the limit, CENS/BLQ 1), any other one uncensored (CENS/BLQ 0). Doses,
  /// times and covariates are kept.
  public func replacingObservations(with replicate: NLMESimulation.Replicate) -> Dataset {
    precondition(replicate.y.count == observationCount, "replicate of \(replicate.y.count) values for \(observationCount) observations")
    let dvColumn = items.firstIndex(of: "DV")
    let censColumn = items.firstIndex { $0 == "CENS" || $0 == "BLQ" }
    var out = self
    var k = 0
    for i in out.subjects.indices {
      for index in out.subjects[i].observations {
        var r = out.subjects[i].records[index]
        let censored = replicate.censored[k]
        r.dv = censored ? (r.limit ?? replicate.y[k]) : replicate.y[k]
        r.censoredBelow = censored ? r.limit : nil
        if let d = dvColumn { r.values[d] = r.dv }
        if let c = censColumn { r.values[c] = censored ? 1 : 0 }
        out.subjects[i].records[index] = r
        k += 1
      }
    }
    return out
  }
}
