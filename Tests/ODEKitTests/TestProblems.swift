import Foundation
import ODEKit

/// Reads a CSV fixture (header row, then numbers) from the test bundle.
func loadFixture(_ name: String) throws -> (header: [String], rows: [[Double]]) {
  guard let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Fixtures") else {
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Fixtures/\(name).csv"])
  }
  let lines = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline)
  let header = lines[0].split(separator: ",").map(String.init)
  let rows = lines.dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
  return (header, rows)
}

/// The stiff test problems of ODEKit's ``StiffTestSet`` under the names the tests use.
let roberSystem = StiffTestSet.rober
func vanDerPol(mu: Double) -> ODEFunction { StiffTestSet.vanDerPol(mu: mu) }
let hiresSystem = StiffTestSet.hires
let oregoSystem = StiffTestSet.orego
let polluSystem = StiffTestSet.pollu

/// Largest relative error over components whose reference exceeds `floor` in magnitude,
/// and absolute error (scaled by `floor`) below it.
func maxRelativeError(_ sol: ODESolution, _ ref: [[Double]], floor: Double) -> Double {
  maxRelativeError(sol, ref, floors: Array(repeating: floor, count: (ref.first?.count ?? 1) - 1))
}

/// The same with a floor per component.
func maxRelativeError(_ sol: ODESolution, _ ref: [[Double]], floors: [Double]) -> Double {
  var worst = 0.0
  for (i, row) in ref.enumerated() {
    for j in 0..<(row.count - 1) {
      let r = row[j + 1], x = sol[i, j]
      worst = max(worst, abs(x - r) / max(abs(r), floors[j]))
    }
  }
  return worst
}

/// Least-squares slope of log(error) against log(h).
func observedOrder(steps: [Double], errors: [Double]) -> Double {
  let x = steps.map { log($0) }, y = errors.map { log($0) }
  let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
  var sxy = 0.0, sxx = 0.0
  for i in x.indices {
    sxy += (x[i] - mx) * (y[i] - my)
    sxx += (x[i] - mx) * (x[i] - mx)
  }
  return sxy / sxx
}

/// Options that force fixed steps of size `h`: tolerances so loose that every step is
/// accepted and the controller runs into `maxStep`.
func fixedStep(_ h: Double, saveAt: [Double]) -> SolverOptions {
  SolverOptions(rtol: 1, atol: [1e10], saveAt: saveAt, maxStep: h, initialStep: h)
}
