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
    let native = try NativeCode.compile([program])
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
    print("machine code: \(program.instructions.count) instructions, \(mismatches.count) differ from the interpreter")
    #expect(program.instructions.count > 5000)
    #expect(mismatches.isEmpty, "\(mismatches.prefix(20).joined(separator: "\n"))")
  }

  /// Populations of two BioModels cases (events, piecewise, powers): identical final values
  /// and solver work with and without machine code.
  @Test(arguments: ["BIOMD0000001019", "BIOMD0000000234", "BIOMD0000000768"])
  func populationsAreBitIdentical(model id: String) throws {
    let file = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/biomodels-oncology/cases/\(id)/\(id)-sbml.xml")
    guard FileManager.default.fileExists(atPath: file.path) else {
      Issue.record("\(file.path) not found (../shared must be next to the package)")
      return
    }
    let plain = SBMLPopulationModel(try CompiledSBML(try SBMLModel.load(path: file.path)))
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
