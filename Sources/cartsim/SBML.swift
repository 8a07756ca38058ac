import ArgumentParser
import CARTModels
import CARTSimCore
import Foundation
import SBMLDocument
import SBMLKit
import SBMLTestSuite

struct SBMLCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sbml", abstract: "SBML models: export the built-in models, run the SBML Test Suite layout.",
    subcommands: [Test.self, Export.self])

  struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run every SBML test case below the given directories and apply the suite's pass rule.",
      discussion: """
        Each case folder holds NNNNN-settings.txt, NNNNN-results.csv and one SBML file (the layout of \
        ../shared/sbml-test-suite/cases and ../shared/biomodels-oncology/cases). Prints one line per \
        case — `CASE pass`, `CASE fail VARIABLE`, `CASE unsupported WHAT`, `CASE error WHAT` — and a \
        closing count in which unsupported cases and errors count as failed.
        """)

    @Argument(help: "Case folders, or folders containing case folders.")
    var directories: [String]

    @Option(help: "Also write the outcomes as JSON to this file.")
    var json: String?

    @OptionGroup var threadsOption: ThreadsOption

    @Option(help: "Per-case wall-clock limit in seconds; a case over it fails.")
    var timeLimit: Double = 30

    func validate() throws {
      try checkPositive(timeLimit, max: 86_400, "--time-limit")
    }

    func run() throws {
      let cases = directories.flatMap { ConformanceCase.discover(URL(fileURLWithPath: $0)) }
      guard !cases.isEmpty else { throw ValidationError("no test cases found under \(directories.joined(separator: ", "))") }
      let outcomes = ConformanceCase.runAll(cases, threads: threadsOption.count, timeLimit: timeLimit)
      for (c, o) in zip(cases, outcomes) { print(o.line(c.id)) }
      let report = ConformanceReport(cases, outcomes)
      if let json { try report.json().write(to: URL(fileURLWithPath: json)) }
      print("\(report.passed) passed, \(report.failed) failed")
    }
  }
}

extension SBMLCommand {
  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a built-in model as SBML Level 3 Version 2 to standard output.",
      discussion: """
        With --scenario, the scenario's patient and parameter overrides are used and its doses \
        (CAR T infusions, lymphodepleting drugs, checkpoint inhibitor, chemotherapy) become SBML \
        events; without it, the default patient and no doses.
        """)

    @Argument(help: "Model identifier (see `cartsim models`).")
    var model: ModelName

    @Option(help: "Scenario JSON file whose patient, parameters and doses to export.")
    var scenario: String?

    func run() throws {
      print(try SBMLExport.document(model: model.id, scenarioPath: scenario), terminator: "")
    }
  }
}
