import ArgumentParser
import CARTSimCore
import Foundation

struct Trial: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a virtual trial: patients.csv, summary.json, km.csv, report.html and plots/*.svg.",
    discussion: """
      Without a spec file, runs the embedded HEROS trial (Examples/heros-trial.json: HEROS 1.0, \
      HEROS 2.0 cohorts A, B and C, HEROS 3.0, on the calibrated model) and checks it against the \
      published HEROS outcomes (targets.json). Patient i of arm a is the same for a seed whatever \
      the thread count or shard. With --shard I/N only patients.csv and aggregate.json are \
      written; combine the shards with `cartsim merge`.
      """)

  @Argument(help: "Trial spec JSON file (default: the embedded HEROS trial).")
  var spec: String?

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String = "trial-out"

  @Option(help: "Seed (overrides the spec's).")
  var seed: UInt64?

  @Option(help: "Patients per arm (overrides the spec's).")
  var patients: Int?

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Run shard I of N (0-based), e.g. 3/10.")
  var shard: String?

  @Option(
    help: "Targets JSON file to check the run against: targets.json (default for the embedded HEROS trial: its targets; not with --shard).")
  var targets: String?

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    _ = try parseShardOption(shard)
    if let patients { try checkOption(patients, 1...Limits.patients, "--patients") }
  }

  func run() throws {
    var spec = try TrialSpec.load(path: self.spec)
    if let seed { spec.seed = seed }
    if let patients { for i in spec.arms.indices { spec.arms[i].patients = patients } }
    var options = TrialRunner.Options()
    options.threads = threadsOption.count
    options.shard = try parseShardOption(shard)
    options.progress = progress.shown
    // The targets to check the run against, read before it starts.
    let targetList = try TargetFile.load(path: targets, orHEROS: self.spec == nil, arms: spec.arms.map(\.name))
    let report = try TrialRunner.run(spec, options: options, to: out)
    FileHandle.standardError.write(Data((report.line(threads: options.threads) + "\n").utf8))
    guard options.shard.count == 1 else {
      print(
        "wrote shard \(options.shard.index)/\(options.shard.count) to \(out)/patients.csv and aggregate.json; combine with `cartsim merge`")
      return
    }
    let checks = try TrialOutputs.write(dir: out) { _ in targetList }
    if let checks { print(TargetCheck.summary(checks), terminator: "") }
    print("wrote \(out)/patients.csv, summary.json, km.csv, report.html, plots/" + (checks == nil ? "" : ", targets.json"))
  }
}

struct Merge: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Combine the shards of a trial into exactly what one unsharded run writes.")

  @Argument(help: "Shard output directories (each with patients.csv and aggregate.json).")
  var shards: [String]

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String

  @Option(
    help:
      "Targets JSON file to check the merged run against and write targets.json, or 'heros' for the embedded HEROS targets (what `cartsim trial` without a spec writes)."
  )
  var targets: String?

  func run() throws {
    try TrialMerge.merge(shards, to: out)
    let checks = try TrialOutputs.write(dir: out) { arms in
      try TargetFile.load(path: targets == "heros" ? nil : targets, orHEROS: targets == "heros", arms: arms)
    }
    print("merged \(shards.count) shards into \(out)")
    if let checks { print(TargetCheck.summary(checks), terminator: "") }
  }
}
