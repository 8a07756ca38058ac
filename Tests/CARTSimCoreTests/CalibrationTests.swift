import CARTModels
import Foundation
import StatKit
import TestSupport
import Testing

@testable import CARTSimCore

/// Calibration targets, the likelihood, and the population Monte Carlo calibrator.
@Suite("Calibration")
struct CalibrationTests {
  static let herosArms = ["HEROS 1.0", "HEROS 2.0 cohort A", "HEROS 2.0 cohort B", "HEROS 2.0 cohort C", "HEROS 3.0"]

  static func target(k: Int, n: Int, arms: [String] = ["HEROS 1.0"]) -> Target {
    Target(
      id: "t", arms: arms, weights: arms.map { _ in 1 }, endpoint: .dlt, doseAbove: nil, observedK: k, observedN: n,
      observedMedian: nil, source: "test", confidence: "D", usedInCalibration: true, note: "")
  }

  /// The central 95% interval of a binomial count equals SciPy's binom.ppf(0.025 and 0.975).
  @Test func predictiveIntervalIsTheBinomialOne() {
    // scipy.stats.binom.ppf([0.025, 0.975], n, p) for these (n, p).
    let reference: [(n: Int, p: Double, low: Int, high: Int)] = [
      (12, 0.5, 3, 9), (10, 0.2, 0, 5), (19, 0.05, 0, 3), (2, 0.3, 0, 2), (21, 0.9, 16, 21),
    ]
    for r in reference {
      let pi = Self.target(k: 0, n: r.n).predictiveInterval(rates: [(r.p, 1)])
      #expect(pi.low == r.low && pi.high == r.high, "n \(r.n) p \(r.p): \(pi)")
      #expect(abs(pi.mean - Double(r.n) * r.p) < 1e-12)
    }
    // A mixture of two rates spans both.
    let mix = Self.target(k: 0, n: 10).predictiveInterval(rates: [(0.05, 1), (0.9, 1)])
    #expect(mix.low == 0 && mix.high == 10)
  }

  /// The beta-binomial likelihood is a distribution over the observed count, and it narrows
  /// towards the binomial as the simulated trial grows.
  @Test func betaBinomialLikelihood() {
    let n = 12
    for (x, m) in [(3, 10), (0, 40), (40, 40), (250, 1000)] {
      let value = TargetValue(counts: [(x, m)], median: nil)
      let total = (0...n).reduce(0.0) { $0 + Foundation.exp(Calibrator.logLikelihood(Self.target(k: $1, n: n), value)) }
      #expect(abs(total - 1) < 1e-9, "x \(x) of \(m): Σ = \(total)")
    }
    // With a large simulated trial it is the binomial with the simulated rate.
    let big = TargetValue(counts: [(250_000, 1_000_000)], median: nil)
    let p = Foundation.exp(Calibrator.logLikelihood(Self.target(k: 3, n: 12), big))
    let binomial = 220.0 * Foundation.pow(0.25, 3) * Foundation.pow(0.75, 9)  // C(12,3) = 220
    #expect(abs(p - binomial) < 1e-4)
  }

  /// The HEROS targets file reads; bad targets are refused with the field named.
  @Test func targetsFile() throws {
    let targets = try TargetFile.load(path: example("heros-targets"), arms: Self.herosArms)
    #expect(targets.count >= 14)
    #expect(targets.filter { !$0.usedInCalibration }.map(\.id).contains("heros2_cohort_c_dlt"))
    #expect(targets.filter { !$0.usedInCalibration }.map(\.id).contains("heros2_interim_complete_response"))
    let embedded = try TargetFile.embeddedHEROS(arms: Self.herosArms)
    #expect(embedded.map(\.id) == targets.map(\.id))

    func error(_ target: String) -> InputError? {
      let text = #"{"targets": [{"# + target + "}]}"
      do {
        _ = try TargetFile.parse(JSONValue.decode(Data(text.utf8), file: "t.json"), file: "t.json", arms: Self.herosArms)
        return nil
      } catch { return error as? InputError }
    }
    let base = #""id": "x", "source": "s", "#
    let cases: [(String, String, String)] = [
      (base + #""arms": "HEROS 9", "endpoint": "dlt", "observed": {"k": 1, "n": 2}"#, "targets[0].arms", "no arm named 'HEROS 9'"),
      (base + #""arms": "HEROS 1.0", "endpoint": "dlt", "observed": {"k": 3, "n": 2}"#, "targets[0].observed.k", "≤ 2"),
      (base + #""arms": "HEROS 1.0", "endpoint": "toxicity", "observed": {"k": 1, "n": 2}"#, "targets[0].endpoint", "unknown value"),
      (
        base + #""arms": ["HEROS 1.0", "HEROS 3.0"], "weights": [1], "endpoint": "dlt", "observed": {"k": 1, "n": 2}"#,
        "targets[0].weights", "2 arms"
      ),
      (
        base + #""arms": "HEROS 1.0", "endpoint": "os_median_days", "observed": {"median_days": 300, "n": 19}"#,
        "targets[0].used_in_calibration", "median"
      ),
      (
        base + #""arms": "HEROS 1.0", "endpoint": "best_response", "in": ["XR"], "observed": {"k": 1, "n": 2}"#, "targets[0].in[0]",
        "unknown value"
      ),
    ]
    for (t, path, words) in cases {
      let e = error(t)
      #expect(e?.path == path && e?.message.contains(words) == true, "\(t): \(String(describing: e))")
    }
  }

  /// A small calibration is a pure function of the seed: one thread and two give the same
  /// particles, weights and posterior sample; another seed gives other particles.
  @Test func calibrationIsReproducible() throws {
    let spec = try TrialSpec.load(path: example("heros-trial"))
    let targets = try TargetFile.load(path: example("heros-targets"), arms: spec.arms.map(\.name))
    func run(threads: Int, seed: UInt64) throws -> Calibrator.Result {
      var s = Calibrator.Settings()
      s.particles = 4
      s.patientsPerArm = 2
      s.rounds = 2
      s.threads = threads
      s.seed = seed
      s.posteriorSampleSize = 8
      return try Calibrator.run(spec, targets: targets, settings: s)
    }
    let one = try run(threads: 1, seed: 3), two = try run(threads: 2, seed: 3)
    #expect(one.posteriorSample == two.posteriorSample)
    #expect(one.rounds.map { $0.particles.map(\.weight) } == two.rounds.map { $0.particles.map(\.weight) })
    let other = try run(threads: 2, seed: 4)
    #expect(other.rounds[0].particles.map(\.values) != one.rounds[0].particles.map(\.values))
    // Round 1 is a Latin hypercube: one point in each of the n strata of every dimension.
    for k in spec.priors.indices {
      let strata = Set(one.rounds[0].particles.map { Int($0.unit[k] * 4) })
      #expect(strata == [0, 1, 2, 3])
    }
    // Weights are normalised and every particle stays inside the prior box.
    for r in one.rounds {
      #expect(abs(r.particles.reduce(0) { $0 + $1.weight } - 1) < 1e-12)
      for p in r.particles {
        for (f, v) in zip(spec.priors, p.values) { #expect(v >= f.low && v <= f.high) }
      }
    }
    // The calibration file it writes loads as a trial's calibrated parameters.
    let dir = try temporaryDirectory()
    try CalibrationReport.write(one, to: dir)
    let loaded = try CalibratedParameters.parse(JSONValue.load(path: dir + "/calibration.json"), file: "calibration.json")
    #expect(loaded.names == spec.priors.map(\.name))
    #expect(loaded.particles == one.posteriorSample)
    #expect(FileManager.default.fileExists(atPath: dir + "/report.html"))
  }

  /// Input limits: counts that become loop bounds are bounded.
  @Test func settingsAreBounded() {
    var s = Calibrator.Settings()
    s.particles = 1
    #expect(throws: InputError.self) { try s.validate() }
    s = Calibrator.Settings()
    s.rounds = 21
    #expect(throws: InputError.self) { try s.validate() }
    s = Calibrator.Settings()
    s.patientsPerArm = 100_001
    #expect(throws: InputError.self) { try s.validate() }
  }
}

/// The spread of a rate over the posterior, from patients grouped by particle.
@Suite("Rates over the posterior")
struct ParameterUncertaintyTests {
  /// Particles whose true rates are 0.1 and 0.5 (half each): the pooled rate is 0.3 and the
  /// between-particle variance 0.04 (sd 0.2), whatever the binomial noise of 20 patients each.
  @Test func methodOfMomentsRecoversTheSpread() {
    var rng = RandomStream(seed: 11, id: 0)
    var groups: [(n: Int, k: Int)] = []
    for j in 0..<4000 {
      let p = j % 2 == 0 ? 0.1 : 0.5
      let k = (0..<20).filter { _ in rng.uniform() < p }.count
      groups.append((20, k))
    }
    let u = ParameterUncertainty(groups: groups)!
    #expect(abs(u.mean - 0.3) < 0.005)
    #expect(abs(u.sd - 0.2) < 0.01, "sd \(u.sd)")
    #expect(u.lower < 0.1 && u.upper > 0.5 && u.upper < 0.8)
  }

  /// Without between-particle differences the spread is only the noise of the moment estimate
  /// (its variance has a standard error of about √(2/J)·p(1 − p)/n = 2e-4 here, so the sd stays
  /// a few hundredths), an order of magnitude below the 0.2 of a real spread.
  @Test func noSpreadNoInterval() {
    var rng = RandomStream(seed: 12, id: 0)
    let groups: [(n: Int, k: Int)] = (0..<4000).map { _ in (20, (0..<20).filter { _ in rng.uniform() < 0.25 }.count) }
    let u = ParameterUncertainty(groups: groups)!
    #expect(abs(u.mean - 0.25) < 0.005)
    #expect(u.sd < 0.05, "sd \(u.sd)")
    #expect(ParameterUncertainty(groups: [(5, 1)]) == nil)
  }
}

/// Sharded calibration: shards running at the same time exchange each round's results through a
/// folder and reach exactly the unsharded result.
@Suite("Sharded calibration")
struct ShardedCalibrationTests {
  @Test func shardsGiveTheUnshardedResult() throws {
    let spec = try TrialSpec.load(path: example("heros-trial"))
    let targets = try TargetFile.load(path: example("heros-targets"), arms: spec.arms.map(\.name))
    var base = Calibrator.Settings()
    base.particles = 5
    base.patientsPerArm = 2
    base.rounds = 2
    base.threads = 1
    base.seed = 9
    base.posteriorSampleSize = 10
    let whole = try Calibrator.run(spec, targets: targets, settings: base)
    let dir = try temporaryDirectory()
    let settings = base
    final class Results: @unchecked Sendable {
      let lock = NSLock()
      var byShard: [Int: Calibrator.Result] = [:]
      var errors: [String] = []
    }
    let results = Results()
    // One thread per shard: the shards wait for each other, so they must all run at once
    // (a thread pool of fewer workers would leave one waiting for a shard never started).
    let group = DispatchGroup()
    for i in 0..<3 {
      group.enter()
      let thread = Thread {
        var s = settings
        s.shard = (i, 3)
        s.exchangeDirectory = dir
        s.exchangeTimeout = 300
        do {
          let r = try Calibrator.run(spec, targets: targets, settings: s)
          results.lock.lock()
          results.byShard[i] = r
          results.lock.unlock()
        } catch {
          results.lock.lock()
          results.errors.append("\(error)")
          results.lock.unlock()
        }
        group.leave()
      }
      thread.start()
    }
    group.wait()
    #expect(results.errors.isEmpty, "\(results.errors)")
    for (i, r) in results.byShard {
      #expect(r.posteriorSample == whole.posteriorSample, "shard \(i)")
      #expect(r.rounds.map { $0.particles.map(\.weight) } == whole.rounds.map { $0.particles.map(\.weight) }, "shard \(i)")
    }
    #expect(results.byShard.count == 3)
    // A shard without a shared folder, or of an impossible index, is refused.
    var bad = base
    bad.shard = (3, 3)
    #expect(throws: InputError.self) { try bad.validate() }
    bad.shard = (0, 2)
    #expect(throws: InputError.self) { try bad.validate() }
  }
}
