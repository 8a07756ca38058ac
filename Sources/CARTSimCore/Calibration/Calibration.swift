import CARTModels
import Foundation
import Parallel
import StatKit

/// A calibration's posterior sample of typical parameter values, as `cartsim trial` reads it
/// (the `posterior_sample` of `calibration.json`): equally weighted particles.
public struct CalibratedParameters: Sendable {
  public var file: String
  public var names: [String]
  public var particles: [[Double]]
  /// For each particle, the index of the first particle with the same values (resampling repeats
  /// particles): patients are grouped by it to estimate a rate's spread over the posterior.
  public var distinct: [Int]

  public init(file: String, names: [String], particles: [[Double]]) {
    self.file = file
    self.names = names
    self.particles = particles
    var first: [[Double]: Int] = [:]
    distinct = particles.enumerated().map { j, p in
      if let i = first[p] { return i }
      first[p] = j
      return j
    }
  }

  /// The typical values of patient `id` of `arm` and the particle's `distinct` index: a particle
  /// drawn from its own random stream
  /// (a pure function of the seed, the arm, the patient and `paired`), so the trial's rates are
  /// posterior-predictive: they carry the parameter uncertainty as well as the between-patient
  /// variability.
  public func particle(seed: UInt64, arm: Int, id: Int, paired: Bool) -> (index: Int, values: [(name: String, value: Double)]) {
    var rng = RandomStream(seed: seed, id: RandomStream.address(paired ? 0 : UInt64(arm) + 1, UInt64(id), 3))
    let j = Int(rng.next() % UInt64(particles.count))
    return (distinct[j], Array(zip(names, particles[j])))
  }

  static func parse(_ root: JSONValue, file: String) throws -> CalibratedParameters {
    guard case .object(let o) = root, let sample = o["posterior_sample"] else {
      throw InputError(file: file, path: "posterior_sample", message: "is required (a calibration.json written by cartsim calibrate)")
    }
    var r = try FieldReader(file: file, path: "posterior_sample", value: sample)
    let names = try r.strings("names")
    guard !names.isEmpty, Set(names).count == names.count else { throw r.fail("names", "needs distinct parameter names") }
    guard case .array(let rows)? = r.value("values"), !rows.isEmpty, rows.count <= 100_000 else {
      throw r.fail("values", "needs 1 to 100000 particles, each a list of \(names.count) numbers")
    }
    var particles: [[Double]] = []
    for (i, row) in rows.enumerated() {
      let path = r.sub("values") + "[\(i)]"
      guard case .array(let xs) = row, xs.count == names.count else {
        throw InputError(file: file, path: path, message: "expected \(names.count) numbers")
      }
      particles.append(
        try xs.map { v in
          guard case .number(let x) = v, x.isFinite, x >= 0 else {
            throw InputError(file: file, path: path, message: "expected non-negative finite numbers")
          }
          return x
        })
    }
    try r.finish()
    return CalibratedParameters(file: file, names: names, particles: particles)
  }
}

/// Calibration of a trial's typical parameter values to summary-level outcomes (k of n, pooled
/// over arms) by population Monte Carlo importance sampling (Cappé et al. 2004, J Comput Graph
/// Stat 13:907; with the adaptive kernels of Beaumont et al. 2009, Biometrika 96:983):
///
/// 1. Round 1 draws `particles` parameter vectors from the prior box (Latin hypercube in the
///    prior's unit scale); later rounds draw from Gaussian kernels around the previous round's
///    weighted particles (twice their weighted variance, reflected at the prior's bounds).
/// 2. Each particle runs every arm with the same `patientsPerArm` virtual patients (common
///    random numbers, so likelihood differences come from the parameters, not the draws).
/// 3. A target observed as k of n, with the particle's simulated x of m, contributes the
///    beta-binomial probability of k given n and Beta(x + ½, m − x + ½): the binomial with the
///    simulated rate, widened for the simulation's own finite size. Pooled targets weight the
///    arms' rates by the enrolled split.
/// 4. The importance weight is prior / proposal × likelihood; the posterior is the last round's
///    weighted particles, and `posterior_sample` resamples them (systematic resampling).
///
/// Every draw comes from a stream addressed by the seed, the round and the particle: results do
/// not depend on the thread count.
public enum Calibrator {
  public struct Settings: Sendable {
    public var particles = 400
    public var patientsPerArm = 40
    public var rounds = 5
    public var seed: UInt64 = 1
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var posteriorSampleSize = 200
    /// Shard `index` of `count` (0-based): this process simulates its share of every round's
    /// particles and exchanges the results with the other shards through `exchangeDirectory`
    /// (a folder all of them see), so that every shard computes the same weights and the same
    /// result as an unsharded run. The shards must run at the same time.
    public var shard = (index: 0, count: 1)
    public var exchangeDirectory: String? = nil
    /// How long a shard waits for the others' results of a round, seconds.
    public var exchangeTimeout = 7 * 86_400.0
    public var onProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    public init() {}

    /// Limits on what becomes a loop bound.
    public func validate() throws {
      func bad(_ field: String, _ msg: String) -> InputError { InputError(file: "calibrate", path: field, message: msg) }
      guard (2...100_000).contains(particles) else { throw bad("--particles", "must be 2…100000, found \(particles)") }
      guard (1...100_000).contains(patientsPerArm) else { throw bad("--patients", "must be 1…100000, found \(patientsPerArm)") }
      guard (1...20).contains(rounds) else { throw bad("--rounds", "must be 1…20, found \(rounds)") }
      guard particles * patientsPerArm <= 1_000_000_000 else { throw bad("--particles", "particles × patients per arm above 1e9") }
      guard shard.count >= 1, shard.count <= particles, shard.index >= 0, shard.index < shard.count else {
        throw bad("--shard", "must be I/N with 0 ≤ I < N ≤ particles, found \(shard.index)/\(shard.count)")
      }
      guard shard.count == 1 || exchangeDirectory != nil else { throw bad("--shard", "needs a folder shared by the shards") }
    }
  }

  /// One particle: its unit coordinates, parameter values, log-likelihood, weight, and the
  /// simulated value of every target.
  public struct Particle: Sendable {
    public var unit: [Double]
    public var values: [Double]
    public var logLikelihood: Double
    public var weight: Double
    public var targets: [TargetValue]
  }

  public struct Round: Sendable {
    public var particles: [Particle]
    public var effectiveSampleSize: Double
    public var failedPatients: Int
  }

  public struct Result: Sendable {
    public var spec: TrialSpec
    public var targets: [Target]
    public var settings: Settings
    public var rounds: [Round]
    public var posteriorSample: [[Double]]
    public var seconds: Double
    public var posterior: Round { rounds.last! }
  }

  /// Calibrates `spec.priors` to `targets`.
  public static func run(_ spec: TrialSpec, targets: [Target], settings: Settings) throws -> Result {
    try settings.validate()
    guard !spec.priors.isEmpty else {
      throw InputError(file: spec.file, path: "priors", message: "names no parameter to calibrate (add a 'priors' block)")
    }
    guard targets.contains(where: \.usedInCalibration) else {
      throw InputError(file: "targets", path: "targets", message: "no target has used_in_calibration: true")
    }
    var spec = spec
    spec.calibrated = nil
    // Only the arms the targets name are simulated (in the spec's order).
    let named = Set(targets.flatMap(\.arms))
    spec.arms = spec.arms.filter { named.contains($0.name) }
    let start = Date()
    let d = spec.priors.count
    let armIndex = Dictionary(uniqueKeysWithValues: spec.arms.enumerated().map { ($1.name, $0) })
    let own = TrialRunner.range(total: settings.particles, shard: settings.shard)
    let total = settings.rounds * own.count * spec.arms.count * settings.patientsPerArm
    let progress = Shared(0)
    var rounds: [Round] = []
    for round in 0..<settings.rounds {
      // Proposal: the prior (Latin hypercube) first, then kernels around the last posterior.
      let units: [[Double]]
      var kernel: (centres: [[Double]], weights: [Double], sd: [Double])? = nil
      if let last = rounds.last {
        let k = kernelFit(last.particles, dimensions: d)
        kernel = k
        units = (0..<settings.particles).map { j in
          var rng = RandomStream(seed: settings.seed, id: RandomStream.address(0xCA11, UInt64(round), UInt64(j)))
          let c = k.centres[pick(k.weights, rng.uniform())]
          return (0..<d).map { reflect(c[$0] + k.sd[$0] * rng.normal()) }
        }
      } else {
        units = latinHypercube(n: settings.particles, d: d, seed: settings.seed)
      }
      let values = units.map { u in zip(spec.priors, u).map { $0.value($1) } }
      // Simulate this shard's particles: (particle, arm, patient) in blocks over the threads.
      let outcomes = try simulate(
        spec, values: own.map { values[$0] }, patients: settings.patientsPerArm,
        threads: settings.threads
      ) {
        let done = progress.withLock { n in
          n += 1
          return n
        }
        settings.onProgress?(done, total)
      }
      var evaluated = zip(own, outcomes).map { j, o in
        ShardExchange.Entry(particle: j, failed: o.failed, targets: targets.map { $0.evaluate(o.outcomes, armIndex: armIndex) })
      }
      if settings.shard.count > 1 {
        let fingerprint =
          spec.priors.map { "\($0.name) \($0.low) \($0.high) \($0.scale.rawValue)" }.joined(separator: "; ")
          + " | " + targets.map { "\($0.id) \($0.observedK)/\($0.observedN)" }.joined(separator: "; ")
          + " | " + spec.arms.map(\.name).joined(separator: "; ") + " | rounds \(settings.rounds)"
        evaluated = try ShardExchange.share(
          evaluated, round: round, settings: settings, targets: targets.count,
          fingerprint: fingerprint)
      }
      var particles: [Particle] = []
      var failed = 0
      for j in 0..<settings.particles {
        failed += evaluated[j].failed
        let tv = evaluated[j].targets
        var ll = 0.0
        for (t, v) in zip(targets, tv) where t.usedInCalibration { ll += logLikelihood(t, v) }
        var logPrior = 0.0
        if let kernel { logPrior -= Foundation.log(max(kernelDensity(units[j], kernel), 1e-300)) }
        particles.append(Particle(unit: units[j], values: values[j], logLikelihood: ll, weight: ll + logPrior, targets: tv))
      }
      // Normalise the log weights.
      let m = particles.map(\.weight).max() ?? 0
      var sum = 0.0
      for j in particles.indices {
        particles[j].weight = m.isFinite ? Foundation.exp(particles[j].weight - m) : 1
        sum += particles[j].weight
      }
      var sumSq = 0.0
      for j in particles.indices {
        particles[j].weight /= sum
        sumSq += particles[j].weight * particles[j].weight
      }
      rounds.append(Round(particles: particles, effectiveSampleSize: 1 / sumSq, failedPatients: failed))
    }
    // Systematic resampling of the posterior.
    let post = rounds.last!.particles
    var rng = RandomStream(seed: settings.seed, id: RandomStream.address(0xCA11, 0xFFFF, 0))
    let n = settings.posteriorSampleSize
    let u0 = rng.uniform() / Double(n)
    var sample: [[Double]] = []
    var cum = 0.0, j = 0
    for i in 0..<n {
      let u = u0 + Double(i) / Double(n)
      while j < post.count - 1 && cum + post[j].weight < u {
        cum += post[j].weight
        j += 1
      }
      sample.append(post[j].values)
    }
    return Result(
      spec: spec, targets: targets, settings: settings, rounds: rounds, posteriorSample: sample,
      seconds: Date().timeIntervalSince(start))
  }

  /// Log-probability of the observed count given the simulated one (beta-binomial).
  static func logLikelihood(_ t: Target, _ v: TargetValue) -> Double {
    let (_, m) = v.total
    guard let rate = v.rate(weights: t.weights), m > 0 else { return -1e6 }
    let a = rate * Double(m) + 0.5, b = (1 - rate) * Double(m) + 0.5
    let k = Double(t.observedK), n = Double(t.observedN)
    let logChoose = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
    return logChoose + Distributions.logBeta(k + a, n - k + b) - Distributions.logBeta(a, b)
  }

  struct Simulated: Sendable {
    var outcomes: [TargetOutcome] = []
    var failed = 0
  }

  /// Runs every arm's first `patients` patients for each parameter vector.
  static func simulate(
    _ spec: TrialSpec, values: [[Double]], patients: Int, threads: Int,
    tick: @escaping @Sendable () -> Void
  ) throws -> [Simulated] {
    let names = spec.priors.map(\.name)
    let arms = spec.arms.count
    // Each arm's parameters (defaults and overrides) checked once; the particle's values are
    // set per patient by simulatePatient(fixed:).
    let armParameters = try spec.arms.map { try Simulator.parameters($0.scenario, file: spec.file) }
    let perParticle = arms * patients
    let fixed = values.map { v in zip(names, v).map { (name: $0.0, value: $0.1) } }
    // Patient g is patient i of arm a under particle j; a failed patient is nil.
    let outcomes = Parallel.map(values.count * perParticle, threads: max(1, threads), progress: { _, _ in tick() }) { g -> TargetOutcome? in
      let j = g / perParticle, a = (g % perParticle) / patients, i = g % patients
      let record = spec.simulatePatient(arm: a, id: i, armParameters: armParameters[a], fixed: fixed[j])
      return record.succeeded ? TargetOutcome(record) : nil
    }
    return values.indices.map { j in
      let own = outcomes[j * perParticle..<(j + 1) * perParticle]
      return Simulated(outcomes: own.compactMap { $0 }, failed: own.filter { $0 == nil }.count)
    }
  }

  // MARK: Sampling helpers

  /// A Latin hypercube of `n` points in [0, 1)^d, from the seed.
  static func latinHypercube(n: Int, d: Int, seed: UInt64) -> [[Double]] {
    var points = [[Double]](repeating: [Double](repeating: 0, count: d), count: n)
    for k in 0..<d {
      var rng = RandomStream(seed: seed, id: RandomStream.address(0x1A7, UInt64(k), 0))
      var perm = Array(0..<n)
      for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
      for i in 0..<n { points[i][k] = (Double(perm[i]) + rng.uniform()) / Double(n) }
    }
    return points
  }

  /// Reflects a coordinate into [0, 1].
  static func reflect(_ x: Double) -> Double {
    var y = x.truncatingRemainder(dividingBy: 2)
    if y < 0 { y += 2 }
    return y > 1 ? 2 - y : y
  }

  /// Index drawn from normalised weights by one uniform.
  static func pick(_ weights: [Double], _ u: Double) -> Int {
    var cum = 0.0
    for (i, w) in weights.enumerated() {
      cum += w
      if u < cum { return i }
    }
    return weights.count - 1
  }

  /// The kernels of the next round: the particles with their weights, and per dimension a
  /// standard deviation of √2 times the weighted one (Beaumont et al. 2009), at least 0.01.
  static func kernelFit(_ particles: [Particle], dimensions d: Int) -> (centres: [[Double]], weights: [Double], sd: [Double]) {
    let w = particles.map(\.weight)
    var sd = [Double](repeating: 0, count: d)
    for k in 0..<d {
      let mean = zip(particles, w).reduce(0) { $0 + $1.0.unit[k] * $1.1 }
      let v = zip(particles, w).reduce(0) { $0 + $1.1 * ($1.0.unit[k] - mean) * ($1.0.unit[k] - mean) }
      sd[k] = max(0.01, (2 * v).squareRoot())
    }
    return (particles.map(\.unit), w, sd)
  }

  /// Density of the reflected Gaussian kernel mixture at `u` (images at −x and 2 − x).
  static func kernelDensity(_ u: [Double], _ k: (centres: [[Double]], weights: [Double], sd: [Double])) -> Double {
    var total = 0.0
    for (c, w) in zip(k.centres, k.weights) where w > 0 {
      var p = w
      for i in u.indices {
        let s = k.sd[i]
        var dens = 0.0
        for image in [c[i], -c[i], 2 - c[i]] {
          let z = (u[i] - image) / s
          dens += Foundation.exp(-0.5 * z * z) / (s * (2 * Double.pi).squareRoot())
        }
        p *= dens
      }
      total += p
    }
    return total
  }
}

/// The exchange of a round's simulated particles between the shards of a calibration: each
/// shard writes its part to `DIR/shards/round-R/part-I-of-N.json` (under a temporary name,
/// renamed when complete), waits for the other parts and reads them all, so that every shard
/// goes on with every particle's results. Counts are integers and medians whole days, so the
/// files carry them exactly.
enum ShardExchange {
  struct Entry: Sendable {
    var particle: Int
    var failed: Int
    var targets: [TargetValue]
  }

  static func share(
    _ part: [Entry], round: Int, settings: Calibrator.Settings, targets: Int,
    fingerprint: String
  ) throws -> [Entry] {
    let (index, count) = settings.shard
    let dir = ((settings.exchangeDirectory! as NSString).appendingPathComponent("shards") as NSString)
      .appendingPathComponent("round-\(round + 1)")
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw InputError(file: dir, path: "", message: "cannot create the shard exchange folder (\(error.localizedDescription))")
    }
    func name(_ i: Int) -> String { (dir as NSString).appendingPathComponent("part-\(i + 1)-of-\(count).json") }
    func interval(_ x: Double) -> JSONOut { x.isFinite ? .number(x) : .null }
    let json = JSONOut.object([
      ("calibration", .string(fingerprint)),
      ("seed", .string(String(settings.seed))), ("particles", .int(settings.particles)),
      ("patients_per_arm", .int(settings.patientsPerArm)), ("round", .int(round + 1)),
      (
        "entries",
        .array(
          part.map { e in
            .object([
              ("particle", .int(e.particle)), ("failed", .int(e.failed)),
              (
                "targets",
                .array(
                  e.targets.map { v in
                    .object([
                      ("counts", .array(v.counts.map { .array([.int($0.k), .int($0.n)]) })),
                      ("median", v.median.map { interval($0) } ?? .null),
                      ("median_interval", v.medianInterval.map { .array([interval($0.low), interval($0.high)]) } ?? .null),
                    ])
                  })
              ),
            ])
          })
      ),
    ])
    try ResultWriter.writeText(json.render() + "\n", to: name(index))
    // Wait for every part.
    let deadline = Date().addingTimeInterval(settings.exchangeTimeout)
    while !(0..<count).allSatisfy({ FileManager.default.fileExists(atPath: name($0)) }) {
      guard Date() < deadline else {
        let missing = (0..<count).filter { !FileManager.default.fileExists(atPath: name($0)) }.map { "\($0)" }
        throw InputError(
          file: dir, path: "", message: "shards \(missing.joined(separator: ", ")) did not deliver round \(round + 1) in time")
      }
      Thread.sleep(forTimeInterval: 0.2)
    }
    var all = [Entry?](repeating: nil, count: settings.particles)
    for i in 0..<count {
      let file = name(i)
      var r = try FieldReader(file: file, path: "", value: JSONValue.load(path: file))
      guard try r.string("calibration") == fingerprint,
        try r.string("seed") == String(settings.seed), try r.integer("particles", min: 1) == settings.particles,
        try r.integer("patients_per_arm", min: 1) == settings.patientsPerArm, try r.integer("round", min: 1) == round + 1
      else {
        throw InputError(
          file: file, path: "",
          message:
            "belongs to another calibration (priors, targets, seed, particles, patients or round differ): give each sharded calibration its own --out"
        )
      }
      for var e in try r.objects("entries") {
        let j = try e.integer("particle", min: 0, max: settings.particles - 1)
        guard all[j] == nil else { throw e.fail("particle", "particle \(j) is delivered twice") }
        let failed = try e.integer("failed", min: 0)
        guard case .array(let list)? = e.value("targets"), list.count == targets else {
          throw e.fail("targets", "expected \(targets) target values")
        }
        let values: [TargetValue] = try list.enumerated().map { t, item in
          var v = try FieldReader(file: file, path: e.sub("targets") + "[\(t)]", value: item)
          guard case .array(let pairs)? = v.value("counts") else { throw v.fail("counts", "is required") }
          let counts: [(k: Int, n: Int)] = try pairs.map { p in
            guard case .array(let kn) = p, kn.count == 2, case .number(let kx) = kn[0], case .number(let nx) = kn[1],
              let n = Limits.count(nx, in: 0...Limits.patients), let k = Limits.count(kx, in: 0...n)
            else {
              throw v.fail("counts", "expected [k, n] pairs of counts with 0 ≤ k ≤ n")
            }
            return (k, n)
          }
          var value = TargetValue(counts: counts, median: nil)
          if case .number(let m)? = v.value("median") { value.median = m }
          if case .array(let b)? = v.value("median_interval"), b.count == 2 {
            func bound(_ x: JSONValue) -> Double { if case .number(let y) = x { return y } else { return .infinity } }
            value.medianInterval = (bound(b[0]), bound(b[1]))
          }
          try v.finish()
          return value
        }
        try e.finish()
        all[j] = Entry(particle: j, failed: failed, targets: values)
      }
      try r.finish()
    }
    if let missing = all.firstIndex(where: { $0 == nil }) {
      throw InputError(file: dir, path: "", message: "no shard delivered particle \(missing)")
    }
    return all.map { $0! }
  }
}
