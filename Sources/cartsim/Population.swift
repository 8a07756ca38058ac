import ArgumentParser
import CARTSimCore
import Foundation
import ODEKit
import SBMLKit

extension SBMLPopulationRun.NativeMode: ExpressibleByArgument {}

struct Population: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Simulate a virtual population of an SBML model with log-normal parameter variability.",
    discussion: """
      Patient i scales every settable global parameter (constant, set by no initial assignment \
      or rule) by exp(omega·z), z ~ N(0,1) drawn in document order from the stream (seed, i); \
      initial assignments are re-evaluated with the new values. Each patient is integrated from \
      0 to --duration with --steps + 1 output points. Writes OUT/population.csv: id, status (the \
      solver's return code), [param_<id>...,] then the final value of every species and every \
      rate-rule parameter. Rows are in id order and identical for any --threads; a failed \
      patient keeps its return code and empty values. The model is compiled once.

      With machine code, a model whose events, if any, happen at known times (time >= c) is \
      integrated --lanes patients at a time (consecutive ids) in vector instructions with one \
      lock-step DP5: every step is accepted only when each patient's error is within the \
      tolerance, so a patient's values agree with its values alone (--lanes 1) within the \
      tolerance. A batch that fails, or turns stiff under auto, goes on patient by patient \
      from there.
      """)

  @Option(help: "SBML model file.")
  var sbml: String

  @Option(help: "Number of patients (≥ 1).")
  var n: Int

  @Option(help: "Log-normal spread of every settable parameter (standard deviation of its log; ≥ 0).")
  var omega: Double

  @Option(help: "Simulated time, in the model's time unit.")
  var duration: Double

  @Option(help: "Number of output intervals (steps + 1 output points).")
  var steps: Int

  @Option(help: "Seed of the patients' random streams.")
  var seed: UInt64 = 0

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Relative tolerance.")
  var rtol: Double = 1e-6

  @Option(help: "Absolute tolerance.")
  var atol: Double = 1e-12

  @Option(help: "Solver: auto, dp5, dop853, rodas4, rodas4p2 or bdf.")
  var method: ODEMethod = .auto

  @Flag(
    help: "Steps no longer than the output interval (as `simulate --sbml`; default: free steps, triggers located on each step, as CVODE).")
  var capSteps = false

  @Flag(help: "Also write each patient's parameter values (param_<id> columns).")
  var writeParameters = false

  @Option(name: .shortAndLong, help: "Output directory.")
  var out: String

  @Option(
    help:
      "Machine code for the model's math: auto (when a C compiler works), on or off. With --lanes 1 the results are the same bits; only the speed differs."
  )
  var native: SBMLPopulationRun.NativeMode = .auto

  @Option(help: "Patients integrated together with machine code (1, 2, 4, 8 or 16; 1: each alone).")
  var lanes = 4

  @OptionGroup var progress: ProgressOption

  func run() throws {
    var o = SBMLPopulationRun.Options(patients: n, omega: omega, duration: duration, steps: steps)
    o.seed = seed
    o.threads = threadsOption.count
    o.simulation.rtol = rtol
    o.simulation.atol = atol
    o.simulation.method = method
    o.writeParameters = writeParameters
    o.simulation.capSteps = capSteps
    o.progress = progress.shown
    o.native = native
    o.lanes = lanes
    try SBMLPopulationRun.validate(o)
    let r = try SBMLPopulationRun.run(file: sbml, options: o, to: out)
    FileHandle.standardError.write(Data(r.lines.utf8))
    print("wrote \(out)/population.csv")
  }
}
