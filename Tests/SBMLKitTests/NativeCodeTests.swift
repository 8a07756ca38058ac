import Foundation
import ODEKit
import SBMLDocument
import SBMLKit
import TestSupport
import Testing

/// Machine code from the system C compiler against the interpreter: the same bits for
/// every instruction on awkward inputs and for whole populations.
struct NativeCodeTests {
  /// Every operation on every pair of a set of awkward values (and a third operand for
  /// `select`), compiled once.
  @Test func everyInstructionMatchesTheInterpreter() throws {
    let inputs: [Double] = [0, -0.0, 1, -1, 2, 0.5, 3.7, -2.5, 0.999, 1e300, -1e-300, .infinity, -.infinity, .nan, 7, 1e-20]
    var values = inputs
    var program = Program()
    for code in Program.Code.allCasesButDelay {
      for a in inputs.indices {
        for b in (code.arity >= 2 ? Array(inputs.indices) : [0]) {
          let c = code.arity >= 3 ? (a + b) % inputs.count : 0
          values.append(0)
          program.instructions.append(.init(code: code, dst: Int32(values.count - 1), a: Int32(a), b: Int32(b), c: Int32(c)))
        }
      }
    }
    guard NativeCode.findCompiler() != nil else {
      Issue.record("no C compiler found: the Swift toolchain's clang should be on the PATH")
      return
    }
    // Built for the default target, and for this processor as with lanes (`-march=native`).
    for lanes in [1, 4] {
      let native = try NativeCode.compile([program], lanes: lanes)
      var interpreted = values, compiled = values
      interpreted.withUnsafeMutableBufferPointer { program.run($0.baseAddress!) }
      compiled.withUnsafeMutableBufferPointer { native.functions[0]($0.baseAddress!) }
      var mismatches: [String] = []
      for (k, i) in program.instructions.enumerated() {
        let x = interpreted[Int(i.dst)], y = compiled[Int(i.dst)]
        if !(x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)) {
          mismatches.append("\(i.code)(\(values[Int(i.a)]), \(values[Int(i.b)])): interpreter \(x), machine code \(y) [#\(k)]")
        }
      }
      print("machine code (lanes \(lanes)): \(program.instructions.count) instructions, \(mismatches.count) differ from the interpreter")
      #expect(program.instructions.count > 5000)
      #expect(mismatches.isEmpty, "\(mismatches.prefix(20).joined(separator: "\n"))")
    }
  }

  /// Populations of two BioModels cases (events, piecewise, powers): identical final values
  /// and solver work with and without machine code.
  @Test(arguments: ["BIOMD0000001019", "BIOMD0000000234", "BIOMD0000000768"])
  func populationsAreBitIdentical(model id: String) throws {
    guard let model = try caseModel(id) else { return }
    let plain = SBMLPopulationModel(try CompiledSBML(model))
    var fast = plain
    try fast.compileNative()
    #expect(fast.compiled.native != nil)
    let options = SBMLPopulationModel.Options(duration: 100, steps: 100)
    for patient in 0..<8 {
      // Parameters spread by ±30% in a fixed pattern.
      let p = plain.baseValues.enumerated().map { $1 * (1 + 0.3 * sin(Double(7 * patient + $0))) }
      let a = plain.simulate(parameters: p, options: options), b = fast.simulate(parameters: p, options: options)
      #expect(a.returnCode == b.returnCode)
      #expect(a.stats.rhsEvaluations == b.stats.rhsEvaluations)
      #expect(a.finalValues.map(\.bitPattern) == b.finalValues.map(\.bitPattern), "patient \(patient)")
    }
  }

  /// The right-hand side of four patients at once (vector instructions) gives each patient
  /// the scalar machine code's derivatives to the bit, at scattered states.
  @Test(arguments: ["BIOMD0000000768", "BIOMD0000001019", "BIOMD0000000234", "MODEL2109110002"])
  func lanesMatchTheScalarFunction(model id: String) throws {
    guard let model = try caseModel(id) else { return }
    var m = SBMLPopulationModel(try CompiledSBML(model))
    try m.compileNative(lanes: 4)
    let native = try #require(m.compiled.native)
    let scalar = try #require(native.rhs), wide = try #require(native.rhsLanes)
    #expect(native.lanes == 4)
    let sys = SBMLSystem(m.compiled)
    let u0 = sys.initialState(at: 0)
    let n = u0.count, slots = sys.workspace.count
    var values = [Double](repeating: 0, count: slots * 4), u = [Double](repeating: 0, count: n * 4)
    for l in 0..<4 {
      for s in 0..<slots { values[s * 4 + l] = sys.workspace.values[s] * (1 + 0.1 * Double(l)) }
      for i in 0..<n { u[i * 4 + l] = (u0[i] + 1) * (1 + 0.37 * sin(Double(5 * i + l))) }
    }
    var du = [Double](repeating: .nan, count: n * 4)
    values.withUnsafeMutableBufferPointer { v in
      u.withUnsafeBufferPointer { ub in du.withUnsafeMutableBufferPointer { wide(v.baseAddress!, ub.baseAddress!, $0.baseAddress!, 2.5) } }
    }
    for l in 0..<4 {
      var v = (0..<slots).map { values[$0 * 4 + l] }
      let x = (0..<n).map { u[$0 * 4 + l] }
      var dx = [Double](repeating: .nan, count: n)
      v.withUnsafeMutableBufferPointer { vb in
        x.withUnsafeBufferPointer { xb in
          dx.withUnsafeMutableBufferPointer { scalar(vb.baseAddress!, xb.baseAddress!, $0.baseAddress!, 2.5) }
        }
      }
      for i in 0..<n {
        let a = du[i * 4 + l], b = dx[i]
        #expect(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "\(id): lane \(l), state \(i): \(a) against \(b)")
      }
    }
  }

  /// Four identical patients integrated together are the patient alone, to the bit (the
  /// lock-step DP5 is the scalar one when the lanes agree); four different ones agree with
  /// their runs alone within the tolerance.
  @Test func batchesMatchPatientsAlone() throws {
    guard let model = try caseModel("BIOMD0000000768") else { return }
    var m = SBMLPopulationModel(try CompiledSBML(model))
    try m.compileNative(lanes: 4)
    var options = SBMLPopulationModel.Options(duration: 10, steps: 50)
    options.rtol = 1e-8
    #expect(m.batchLanes(options) == 4)
    let base = m.baseValues
    let alone = m.simulate(parameters: base, options: options)
    for r in m.simulate(batch: Array(repeating: base, count: 4), options: options) {
      #expect(r.returnCode == .success && r.stats.acceptedSteps == alone.stats.acceptedSteps)
      #expect(r.finalValues.map(\.bitPattern) == alone.finalValues.map(\.bitPattern))
    }
    let patients = (0..<4).map { l in base.enumerated().map { $1 * (1 + 0.2 * sin(Double(3 * l + $0))) } }
    for (p, r) in zip(patients, m.simulate(batch: patients, options: options)) {
      let a = m.simulate(parameters: p, options: options)
      #expect(r.returnCode == .success)
      for (x, y) in zip(r.finalValues, a.finalValues) { #expect(abs(x - y) <= 1e-5 * max(abs(y), 1e-6), "\(x) against \(y) alone") }
    }
  }

  @Test func aMissingCompilerIsNamed() {
    do {
      _ = try NativeCode.compile([Program()], compiler: "/nonexistent/cc")
      Issue.record("compiling with a missing compiler succeeded")
    } catch {
      #expect("\(error)".contains("/nonexistent/cc"))
    }
  }
}

extension Program.Code {
  static var allCasesButDelay: [Program.Code] {
    (0...UInt8.max).compactMap { Program.Code(rawValue: $0) }.filter { $0 != .delay }
  }
}

/// A BioModels oncology case of ../shared, read; nil (with the issue recorded) if it is missing.
private func caseModel(_ id: String) throws -> SBMLModel? {
  let file = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/biomodels-oncology/cases/\(id)/\(id)-sbml.xml")
  guard FileManager.default.fileExists(atPath: file.path) else {
    Issue.record("\(file.path) not found (../shared must be next to the package)")
    return nil
  }
  return try SBMLModel.load(path: file.path)
}
