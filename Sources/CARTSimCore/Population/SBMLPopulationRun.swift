import CSVKit
import Foundation
import ODEKit
import Parallel
import SBMLDocument
import SBMLKit
import StatKit

/// `cartsim population`: a virtual population of one SBML model whose settable parameters
/// vary log-normally between patients, run on several threads into `population.csv`.
///
/// Patient `i` scales each settable parameter `p` (document order) by `exp(ω·z)`, with `z`
/// the next standard normal of `RandomStream(seed:, id: RandomStream.address(i))`; the model
/// is compiled once and each patient only sets its parameters and resets the state. Rows are
/// written in id order as soon as all earlier ones are done, so memory stays flat in the
/// number of patients and the file is the same for any thread count.
public enum SBMLPopulationRun {
  public struct Options: Sendable {
    public var patients: Int
    public var omega: Double
    public var seed: UInt64 = 0
    /// How each patient is integrated (duration, steps, tolerances, method, step cap).
    public var simulation: SBMLPopulationModel.Options
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Also write each patient's parameter values (`param_<id>` columns).
    public var writeParameters = false
    public var progress = false
    /// Machine code for the model's math: `auto` when a C compiler works (else the
    /// interpreter), `on` (an error without one) or `off`. Results are the same either way.
    public var native = NativeMode.auto
    /// Patients integrated together in vector instructions (1, 2, 4, 8 or 16; see
    /// ``SBMLPopulationModel/simulate(batch:options:)``): consecutive ids from a multiple of
    /// `lanes`, so the grouping, and the file, are the same for any thread count. 1 integrates
    /// every patient alone.
    public var lanes = 4
    public init(patients: Int, omega: Double, duration: Double, steps: Int) {
      self.patients = patients
      self.omega = omega
      simulation = SBMLPopulationModel.Options(duration: duration, steps: steps)
    }
  }

  public enum NativeMode: String, Sendable, CaseIterable { case auto, on, off }

  public struct Report: Sendable {
    /// How the model's math ran: "machine code (COMPILER, S s to compile)" or
    /// "interpreter" with the reason.
    public var evaluator = "interpreter"
    public var patients: Int
    public var failed: Int
    public var seconds: Double
    public var threads: Int
    /// Solver work summed over the patients.
    public var stats: SolverStats
    public var patientsPerSecond: Double { Double(patients) / max(seconds, 1e-9) }

    /// The speed, failures and solver work per patient, then how the math ran and its linear algebra.
    public var lines: String {
      let n = Double(patients)
      var s = String(
        format:
          "%d patients in %.2f s: %.1f patients/s on %@, %d solver failures; per patient %.0f steps (%.0f stiff), %.0f RHS evaluations\n",
        patients, seconds, patientsPerSecond, threadCount(threads), failed, Double(stats.steps) / n, Double(stats.stiffSteps) / n,
        Double(stats.rhsEvaluations) / n)
      s += "evaluator: \(evaluator)"
      let lus = stats.luDecompositions
      if lus > 0 {
        s += String(format: ", %.0f LU factorisations", Double(lus) / n)
        if stats.sparseFallbacks > 0 {
          s += String(format: " (%.1f%% dense after a small sparse pivot)", 100 * Double(stats.sparseFallbacks) / Double(lus))
        }
      }
      return s + "\n"
    }
  }

  static let commandLine = "<command line>"

  /// Refuses options out of range, naming the option.
  public static func validate(_ o: Options) throws {
    func bad(_ option: String, _ message: String) -> InputError { InputError(file: commandLine, path: option, message: message) }
    guard (1...Limits.patients).contains(o.patients) else { throw bad("--n", "must be 1…\(Limits.patients) (found \(o.patients))") }
    guard o.omega >= 0, o.omega.isFinite else { throw bad("--omega", "must be finite and ≥ 0 (found \(o.omega))") }
    let sim = o.simulation
    guard sim.duration > 0, sim.duration.isFinite else { throw bad("--duration", "must be finite and > 0 (found \(sim.duration))") }
    guard (1..<Limits.outputPoints).contains(sim.steps) else {
      throw bad("--steps", "must be 1…\(Limits.outputPoints - 1) (found \(sim.steps))")
    }
    guard sim.rtol > 0, sim.rtol.isFinite else { throw bad("--rtol", "must be finite and > 0 (found \(sim.rtol))") }
    guard sim.atol > 0, sim.atol.isFinite else { throw bad("--atol", "must be finite and > 0 (found \(sim.atol))") }
    guard (1...Limits.threads).contains(o.threads) else { throw bad("--threads", "must be 1…\(Limits.threads) (found \(o.threads))") }
    guard [1, 2, 4, 8, 16].contains(o.lanes) else { throw bad("--lanes", "must be 1, 2, 4, 8 or 16 (found \(o.lanes))") }
  }

  /// Reads and compiles the model once; errors name the file.
  public static func load(file: String) throws -> SBMLPopulationModel {
    guard FileManager.default.fileExists(atPath: file) else { throw InputError(file: file, path: "", message: "no such file") }
    do {
      return SBMLPopulationModel(try CompiledSBML(try SBMLModel.load(path: file)))
    } catch let e as SBMLError {
      throw InputError(file: file, path: "", message: e.kind == .unsupported ? "unsupported SBML: \(e.description)" : e.description)
    } catch {
      throw InputError(file: file, path: "", message: "cannot read (\(error))")
    }
  }

  /// Patient `patient`'s parameter values: each base value times `exp(omega·z)`, the `z`
  /// drawn in order from the patient's stream.
  public static func parameters(_ base: [Double], omega: Double, seed: UInt64, patient: Int) -> [Double] {
    var rng = RandomStream(seed: seed, id: RandomStream.address(UInt64(patient)))
    return base.map { $0 * Foundation.exp(omega * rng.normal()) }
  }

  public static func header(_ m: SBMLPopulationModel, writeParameters: Bool) -> String {
    CSV.row(["id", "status"] + (writeParameters ? m.parameterIDs.map { "param_" + $0 } : []) + m.outputIDs)
  }

  /// The shortest text that reads back as the same double (Swift's description), much faster
  /// than `String(format:)`.
  static func num(_ x: Double) -> String { x.description }

  /// Runs the population from `file` into `dir/population.csv`.
  @discardableResult
  public static func run(file: String, options o: Options, to dir: String) throws -> Report {
    try validate(o)
    var model = try load(file: file)
    var evaluator = "interpreter"
    if o.native != .off {
      do {
        try model.compileNative(lanes: o.lanes)
        if let n = model.compiled.native {
          evaluator = String(format: "machine code (%@, %.2f s to compile)", (n.compiler as NSString).lastPathComponent, n.seconds)
        }
      } catch {
        if o.native == .on { throw InputError(file: file, path: "--native", message: "cannot compile the model to machine code: \(error)") }
        evaluator = "interpreter (\(error))"
      }
    }
    var report = try run(model, options: o, to: dir)
    report.evaluator = evaluator
    return report
  }

  @discardableResult
  public static func run(_ model: SBMLPopulationModel, options o: Options, to dir: String) throws -> Report {
    try validate(o)
    let fm = FileManager.default
    do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
      throw InputError(file: dir, path: "", message: "cannot create the output directory (\(error.localizedDescription))")
    }
    let csvPath = (dir as NSString).appendingPathComponent("population.csv")
    let writer = try OrderedRowWriter(
      path: csvPath, header: header(model, writeParameters: o.writeParameters), state: (failed: 0, stats: SolverStats())
    ) { (state: inout (failed: Int, stats: SolverStats), r: (failed: Bool, stats: SolverStats)) in
      if r.failed { state.failed += 1 }
      state.stats.add(r.stats)
    }
    let sim = o.simulation
    let progress = ProgressBar(total: o.patients, unit: "patients", enabled: o.progress)
    let start = Date()
    // Blocks start at multiples of 16, and batches of `lanes` (a divisor of 16) at multiples of
    // `lanes` within them: a patient's batch does not depend on the thread that runs it.
    let chunk = 16, lanes = o.lanes
    DispatchQueue.concurrentPerform(iterations: o.threads) { _ in
      while let block = writer.nextBlock(end: o.patients, size: chunk) {
        for first in stride(from: block.lowerBound, to: block.upperBound, by: lanes) {
          let ids = first..<min(first + lanes, block.upperBound)
          let ps = ids.map { parameters(model.baseValues, omega: o.omega, seed: o.seed, patient: $0) }
          for (k, r) in model.simulate(batch: ps, options: sim).enumerated() {
            let i = first + k, p = ps[k]
            var fields = [String(i), r.returnCode.rawValue]
            if o.writeParameters { fields += p.map(num) }
            fields += r.finalValues.isEmpty ? Array(repeating: "", count: model.outputIDs.count) : r.finalValues.map(num)
            writer.deliver(i, CSV.row(fields), (!r.returnCode.isSuccessful, r.stats))
            progress.tick()
          }
        }
      }
    }
    progress.finish()
    let (failed, stats) = try writer.commit()
    let seconds = Date().timeIntervalSince(start)
    return Report(patients: o.patients, failed: failed, seconds: seconds, threads: o.threads, stats: stats)
  }
}
