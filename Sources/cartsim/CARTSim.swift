import ArgumentParser
import CARTModels
import CARTSimCore
import CSVKit
import DoseFinding
import Estimation
import Foundation
import NLME
import ODEKit
import Parallel
import SBMLDocument
import SBMLKit

#if canImport(Glibc)
  import Glibc
#endif

@main
struct CARTSimCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cartsim",
    abstract: "In-silico trials of CAR T cell therapy (HER2-CAR T in sarcoma: HEROS 1.0, 2.0, 3.0).",
    discussion: """
      Simulate a scenario (a JSON file: model, patient, lymphodepletion, CAR T infusions, \
      checkpoint inhibitor, horizon) and write its time course, summary and plots; list \
      the models and their parameters; benchmark the solvers.
      """,
    version: CARTSimVersion.string,
    subcommands: [
      Simulate.self, Trial.self, Merge.self, Calibrate.self, Sensitivity.self, Population.self, Design.self, Validate.self, Models.self,
      Serve.self, Bench.self, SBMLCommand.self, PEtabCommand.self, Fit.self, Profile.self, NLMECommand.self,
    ])

  /// Runs the command; bad input in a file or option the library read (an error naming the
  /// file and field) is printed as `error: …` and exits with status 2, whichever command met it.
  static func main() async {
    #if canImport(Glibc)
      // Every simulated patient's outputs (a few hundred kB) are allocated and freed in turn.
      // glibc hands blocks of that size back to the kernel when they are freed, so each
      // patient touched fresh pages: 184,000 page faults in the default trial, about 5% of its
      // time. Kept in the heap, they are reused (18,000 faults); peak memory is unchanged.
      // mallopt(3), which the Glibc module does not export, with <malloc.h>'s M_MMAP_THRESHOLD
      // (−3) and M_TRIM_THRESHOLD (−1); RTLD_DEFAULT is the null handle.
      if let symbol = dlsym(nil, "mallopt") {
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, 64 << 20)
        _ = mallopt(-1, 256 << 20)
      }
    #endif
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch let e where e is InputError || e is PEtabError || e is SBMLError || e is CSVError || e is NLMEError {
      exit(withError: fail(e))
    } catch let e as DoseFindingInputError {
      // Settings are named as the command line spells them (`--p-true` for `p_true`).
      let source = e.source == "settings" ? "command line" : e.source
      FileHandle.standardError.write(Data("error: \(source): \(e.commandLineField): \(e.message)\n".utf8))
      exit(withError: ExitCode(2))
    } catch {
      exit(withError: error)
    }
  }
}

/// Refuses an option outside `range` (``Limits`` gives the upper bounds), naming it.
func checkOption<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ option: String) throws {
  do { _ = try Limits.check(value, in: range, field: option) } catch let e as InputError { throw ValidationError("\(e.path) \(e.message)") }
}

/// Refuses a non-finite, non-positive or too large number option, naming it.
func checkPositive(_ value: Double, max: Double, _ option: String) throws {
  do { _ = try Limits.positive(value, max: max, field: option) } catch let e as InputError {
    throw ValidationError("\(e.path) \(e.message)")
  }
}

/// `--quiet`, for every command with a progress bar: the bar is drawn on standard error when
/// it is a terminal and `--quiet` was not given.
struct ProgressOption: ParsableArguments {
  @Flag(help: "No progress bar.")
  var quiet = false

  var shown: Bool { !quiet && isatty(STDERR_FILENO) != 0 }
  func bar(_ unit: String) -> ProgressBar { ProgressBar(unit: unit, enabled: shown) }
}

extension ODEMethod: ExpressibleByArgument {}

/// A built-in model's identifier (``ModelCatalog/ids``), checked as the argument is read.
struct ModelName: ExpressibleByArgument {
  let id: String

  init?(argument: String) {
    guard ModelCatalog.ids.contains(argument) else { return nil }
    id = argument
  }

  static var allValueStrings: [String] { ModelCatalog.ids }
}

/// `--threads N`, one option group for every command that runs in parallel: worker threads,
/// by default all cores. No result depends on it.
struct ThreadsOption: ParsableArguments {
  @Option(name: .customLong("threads"), help: "Worker threads (default: all cores; results do not depend on it).")
  var requested: Int?

  var count: Int { requested ?? ProcessInfo.processInfo.activeProcessorCount }

  func validate() throws {
    if let requested { try checkOption(requested, 1...Limits.threads, "--threads") }
  }
}

func fail(_ error: any Error) -> ExitCode {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  return ExitCode(2)
}

struct Simulate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Simulate one scenario and write timecourse.csv, summary.json and plots/*.svg.",
    discussion: "Without a scenario file, runs the embedded HEROS 2.0 cohort B scenario (Examples/heros2-cohortB.json).")

  @Argument(help: "Scenario JSON file (default: the embedded HEROS 2.0 cohort B scenario).")
  var scenario: String?

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String = "out"

  @Option(help: "Override the solver: auto, dp5, dop853, rodas4, rodas4p2 or bdf.")
  var method: ODEMethod?

  @Flag(help: "Print the summary JSON to standard output.")
  var printSummary = false

  @Option(help: "Simulate this SBML model instead of a scenario (with --duration and --steps).")
  var sbml: String?

  @Option(help: "SBML run: simulated time, in the model's time unit.")
  var duration: Double?

  @Option(help: "SBML run: number of output intervals (steps + 1 output points).")
  var steps: Int = 100

  func validate() throws {
    if sbml != nil {
      guard scenario == nil else { throw ValidationError("give either a scenario file or --sbml, not both") }
      guard let d = duration else { throw ValidationError("--sbml needs --duration > 0") }
      try checkPositive(d, max: .greatestFiniteMagnitude, "--duration")
      try checkOption(steps, 1...(Limits.outputPoints - 1), "--steps")
    } else if duration != nil {
      throw ValidationError("--duration applies to --sbml runs only (a scenario sets its own horizon)")
    }
  }

  func run() throws {
    if let sbml {
      guard let duration else { throw ValidationError("--sbml needs --duration > 0") }
      let r = try SBMLRun.run(file: sbml, duration: duration, steps: steps, method: method ?? .auto)
      try SBMLRun.write(r, to: out)
      print(r.line + "\n  wrote \(out)/timecourse.csv, \(out)/summary.json, \(out)/plots/species.svg")
      if !r.timeCourse.returnCode.isSuccessful { throw ExitCode(3) }
      return
    }
    let (scenario, file) = try Scenario.load(path: self.scenario)
    let result = try Simulator.run(scenario, file: file, method: method)
    try ResultWriter.write(result, to: out)
    if printSummary { print(ResultWriter.summaryJSON(result).render()) }
    print(ResultWriter.consoleSummary(result), terminator: "")
    print("  wrote \(out)/timecourse.csv, \(out)/summary.json, \(out)/plots/")
    if !result.returnCode.isSuccessful {
      FileHandle.standardError.write(
        Data("error: the solver stopped early (\(result.returnCode.rawValue)); the partial result was written\n".utf8))
      throw ExitCode(3)
    }
  }
}

struct Validate: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Check a scenario file without simulating it.")

  @Argument(help: "Scenario JSON file.")
  var scenario: String

  func run() throws {
    let s = try Scenario.load(path: scenario)
    try Simulator.check(s, file: scenario)
    print("\(scenario): valid (\(s.name): model \(s.model), \(s.regimen.infusions.count) infusion(s), horizon \(s.horizonDays) days)")
  }
}

struct Models: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the built-in models, or show one model's parameters.",
    subcommands: [List.self, Show.self], defaultSubcommand: List.self)

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in models.")
    func run() {
      for m in ModelReport.all { print(m.listLine) }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model's states, observables and parameter table.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, markdown, csv }

    @Argument(help: "Model identifier (see `cartsim models`).")
    var name: ModelName

    @Option(help: "Output format: table, markdown or csv.")
    var format: Format = .table

    func run() throws {
      guard let m = ModelReport(name.id) else { throw ValidationError("model '\(name.id)' has no description") }
      switch format {
      case .csv: print(m.csv, terminator: "")
      case .markdown: print(m.markdown, terminator: "")
      case .table: print(m.text, terminator: "")
      }
    }
  }
}
