import ArgumentParser
import CARTSimCore
import Foundation
import Parallel
import StatKit

/// `--shard I/N` (0-based), or the whole run without it.
func parseShardOption(_ shard: String?) throws -> (Int, Int) {
  guard let shard else { return (0, 1) }
  let parts = shard.split(separator: "/")
  guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= Limits.shards, i >= 0, i < n else {
    throw ValidationError("--shard must be I/N with 0 ≤ I < N ≤ \(Limits.shards), e.g. 0/4; found '\(shard)'")
  }
  return (i, n)
}

struct Calibrate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Calibrate a trial's typical parameter values to published outcomes: calibration.json, report.html, credibility.html.",
    discussion: """
      Estimates the parameters of the spec's 'priors' block by population Monte Carlo importance \
      sampling: each particle runs every arm with the same virtual patients, and published \
      outcomes (k of n, pooled over arms where the trial pooled them) enter a beta-binomial \
      likelihood. Targets marked used_in_calibration: false are predicted, not fitted. The \
      result is reproducible from the seed whatever the thread count. Load it in a trial with \
      the spec field "calibrated_parameters": "DIR/calibration.json". Without a spec and \
      targets, calibrates the embedded HEROS trial to Examples/heros-targets.json. \
      Guides/Credibility.md explains the method and its limits.
      """)

  @Argument(help: "Trial spec JSON file with a 'priors' block (default: the embedded HEROS trial).")
  var spec: String?

  @Option(help: "Targets JSON file (default: the embedded Examples/heros-targets.json).")
  var targets: String?

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String = "calibration-out"

  @Option(help: "Seed (default: the spec's).")
  var seed: UInt64?

  @Option(help: "Particles per round (2…100000; the defaults made Examples/heros-calibration.json).")
  var particles: Int = 400

  @Option(help: "Virtual patients per arm and particle (1…100000).")
  var patients: Int = 40

  @Option(help: "Rounds of population Monte Carlo (1…20).")
  var rounds: Int = 5

  @OptionGroup var threadsOption: ThreadsOption

  @Option(
    help:
      "Run shard I of N (0-based), e.g. 3/10: every shard simulates its share of each round's particles and exchanges results with the others through --out (a folder all of them see; they must run at the same time, e.g. a Slurm job array). Shard 0 writes the outputs, identical to an unsharded run's."
  )
  var shard: String?

  @OptionGroup var progress: ProgressOption

  /// The calibrator's settings from the options (the seed and progress are set by `run`).
  func settings() throws -> Calibrator.Settings {
    var s = Calibrator.Settings()
    s.particles = particles
    s.patientsPerArm = patients
    s.rounds = rounds
    s.threads = threadsOption.count
    s.shard = try parseShardOption(shard)
    s.exchangeDirectory = out
    return s
  }

  func validate() throws {
    do { try settings().validate() } catch let e as InputError { throw ValidationError("\(e.path) \(e.message)") }
  }

  func run() throws {
    var spec = try TrialSpec.load(path: self.spec)
    if let seed { spec.seed = seed }
    let targetList = try TargetFile.load(path: targets, orHEROS: true, arms: spec.arms.map(\.name)) ?? []
    var settings = try settings()
    settings.seed = spec.seed
    let bar = progress.bar("patients")
    settings.onProgress = { done, total in bar.update(done, of: total) }
    let result = try Calibrator.run(spec, targets: targetList, settings: settings)
    bar.finish()
    if settings.shard.index > 0 {
      print("shard \(settings.shard.index)/\(settings.shard.count) done; shard 0 writes \(out)/calibration.json")
      return
    }
    try CalibrationReport.write(result, to: out)
    print(CalibrationReport.summary(result), terminator: "")
    print("wrote \(out)/calibration.json, report.html and credibility.html")
  }
}

struct Sensitivity: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Global sensitivity (Sobol indices) of an arm's endpoints to the calibrated parameters: sensitivity.json.",
    discussion: """
      Varies the spec's calibrated parameters over the central 95% of their posterior (or its \
      priors without a calibration) on a Saltelli design of (d + 2)·N points; each point runs \
      the same --patients virtual patients of the arm. Endpoints: complete and objective \
      response rates, grade ≥ 3 CRS and DLT rates, median CAR T Cmax and persistence. First-order \
      (Saltelli 2010) and total (Jansen 1999) indices with percentile bootstrap intervals.
      """)

  @Argument(help: "Trial spec JSON file (default: the embedded HEROS trial).")
  var spec: String?

  @Option(help: "Arm to analyse (default: HEROS 2.0 cohort B, or the first arm).")
  var arm: String?

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String = "sensitivity-out"

  @Option(help: "Base sample size N of the Saltelli design (2…65536).")
  var samples: Int = 64

  @Option(help: "Virtual patients per design point (1…100000).")
  var patients: Int = 50

  @Option(help: "Bootstrap replicates for the intervals (0…100000).")
  var bootstrap: Int = 500

  @Option(help: "Seed (default: the spec's).")
  var seed: UInt64?

  @OptionGroup var threadsOption: ThreadsOption

  @OptionGroup var progress: ProgressOption

  /// The analysis' settings from the options (the seed and progress are set by `run`).
  var settings: SensitivityAnalysis.Settings {
    var s = SensitivityAnalysis.Settings()
    s.baseSamples = samples
    s.patients = patients
    s.bootstrap = bootstrap
    s.threads = threadsOption.count
    return s
  }

  func validate() throws {
    do { try settings.validate() } catch let e as InputError { throw ValidationError("\(e.path) \(e.message)") }
  }

  func run() throws {
    var spec = try TrialSpec.load(path: self.spec)
    if let seed { spec.seed = seed }
    var settings = self.settings
    settings.seed = spec.seed
    let bar = progress.bar("patients")
    settings.onProgress = { done, total in bar.update(done, of: total) }
    let armName = arm ?? (spec.arms.first { $0.name == "HEROS 2.0 cohort B" } ?? spec.arms[0]).name
    let r = try SensitivityAnalysis.run(spec, arm: armName, settings: settings)
    bar.finish()
    try SensitivityAnalysis.write(r, to: out)
    print(SensitivityAnalysis.summary(r, arm: armName) + "wrote \(out)/sensitivity.json")
  }
}
