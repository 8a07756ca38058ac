import Foundation
import SBMLDocument
import SBMLKit
import SBMLTestSuite
import TestSupport
import Testing

/// The shared SBML Test Suite and BioModels cases: the pass count must not fall below the
/// committed baseline (Tests/SBMLKitTests/conformance-baseline.txt).
struct ConformanceBaselineTests {
  func baseline() throws -> [String: Int] {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("Tests/SBMLKitTests/conformance-baseline.txt"), encoding: .utf8)
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let parts = line.split(separator: " ")
      if parts.count == 2, let n = Int(parts[1]) { out[String(parts[0])] = n }
    }
    return out
  }

  @Test(arguments: ["sbml-test-suite", "biomodels-oncology"])
  func passCountAtLeastBaseline(suite: String) throws {
    let dir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/\(suite)/cases")
    guard FileManager.default.fileExists(atPath: dir.path) else {
      Issue.record("shared suite not found at \(dir.path) (../shared must be next to the package)")
      return
    }
    let cases = ConformanceCase.discover(dir)
    #expect(cases.count > 50)
    let outcomes = ConformanceCase.runAll(cases, threads: ProcessInfo.processInfo.activeProcessorCount, timeLimit: 30)
    let passed = outcomes.filter(\.passed).count
    let expected = try #require(try baseline()[suite])
    #expect(passed >= expected, "\(suite): \(passed) passed, baseline \(expected)")
    print("\(suite): \(passed) of \(cases.count) cases pass (baseline \(expected))")
  }
}
