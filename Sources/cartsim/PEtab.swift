import ArgumentParser
import CARTSimCore
import Estimation
import Foundation
import ODEKit

struct PEtabCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "petab", abstract: "PEtab problems: simulate at the nominal parameters, run the PEtab test suite.",
    subcommands: [Simulate.self, Test.self])

  struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Simulate a PEtab problem at its nominal parameters.",
      discussion: """
        Writes DIR/simulations.tsv (the measurement table with `simulation` in place of `measurement`) \
        and DIR/result.json with `chi2`, `llh` (the log-likelihood, PEtab's sign) and `nllh`; with \
        --gradient, also `gradient` (∂nllh/∂x of each estimated parameter on its scale), \
        `gradient_method` and `gradient_seconds` (the median over --repeat evaluations).
        """)

    @Argument(help: "The PEtab problem file (yaml).")
    var problem: String

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Also compute the gradient at the nominal parameters: forward or adjoint.")
    var gradient: PEtabObjective.SensitivityMethod?

    @Option(help: "Evaluations with the gradient to time (1–\(PEtabRun.maxRepeats)); the median is reported.")
    var `repeat` = 1

    func validate() throws {
      guard (1...PEtabRun.maxRepeats).contains(`repeat`) else { throw ValidationError("--repeat must be 1–\(PEtabRun.maxRepeats)") }
    }

    func run() throws {
      let (result, solved) = try PEtabRun.simulate(problem, to: out, gradient: gradient, repeats: `repeat`)
      print(result.line)
      if !solved { throw ExitCode(3) }
    }
  }

  struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run every PEtab test-suite case below the given directories.",
      discussion: """
        A case folder NNNN holds _NNNN.yaml and _NNNN_solution.yaml (the layout of \
        ../shared/petab-test-suite/cases). A case passes only when chi2, llh and the simulation table \
        all agree within the case's tolerances (AMICI's rule). Prints `CASE pass|fail|unsupported|error` \
        per case, then `N passed, N failed`; exits 1 if any case did not pass.
        """)

    @Argument(help: "Case folders, or folders containing case folders.")
    var directories: [String]

    @Flag(help: "Print the chi2, llh and simulation distance of every case.")
    var verbose = false

    func run() throws {
      let cases = directories.flatMap { PEtabTestCase.find(under: $0) }
      guard !cases.isEmpty else { throw ValidationError("no PEtab test cases found under \(directories.joined(separator: ", "))") }
      var passed = 0
      for c in cases {
        let o = PEtabTestCase.run(c)
        print("\(o.id) \(o.verdict.rawValue)" + (verbose || o.verdict != .pass ? "  \(o.detail)" : ""))
        if o.verdict == .pass { passed += 1 }
      }
      print("\(passed) passed, \(cases.count - passed) failed")
      if passed < cases.count { throw ExitCode(1) }
    }
  }
}
