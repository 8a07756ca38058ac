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

/// Robertson's chemical kinetics (ROBER), Hairer & Wanner II §IV.1.
let roberSystem = ODEFunction(
  dimension: 3, isAutonomous: true,
  jacobian: { _, y, J in
    J[0] = -0.04
    J[1] = 1e4 * y[2]
    J[2] = 1e4 * y[1]
    J[3] = 0.04
    J[4] = -1e4 * y[2] - 6e7 * y[1]
    J[5] = -1e4 * y[1]
    J[6] = 0
    J[7] = 6e7 * y[1]
    J[8] = 0
  }
) { _, y, dy in
  dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2]
  dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1]
  dy[2] = 3e7 * y[1] * y[1]
}

/// Van der Pol oscillator, y1' = y2, y2' = μ(1 − y1²)y2 − y1.
func vanDerPol(mu: Double) -> ODEFunction {
  ODEFunction(
    dimension: 2, isAutonomous: true,
    jacobian: { _, y, J in
      J[0] = 0
      J[1] = 1
      J[2] = -2 * mu * y[0] * y[1] - 1
      J[3] = mu * (1 - y[0] * y[0])
    }
  ) { _, y, dy in
    dy[0] = y[1]
    dy[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0]
  }
}

/// HIRES (Schäfer 1975; Hairer & Wanner II §IV.10), 8 components. Jacobian by finite differences.
let hiresSystem = ODEFunction(dimension: 8, isAutonomous: true) { _, y, f in
  f[0] = -1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007
  f[1] = 1.71 * y[0] - 8.75 * y[1]
  f[2] = -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4]
  f[3] = 8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3]
  f[4] = -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6]
  f[5] = -280 * y[5] * y[7] + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6]
  f[6] = 280 * y[5] * y[7] - 1.81 * y[6]
  f[7] = -280 * y[5] * y[7] + 1.81 * y[6]
}

/// Largest relative error over components whose reference exceeds `floor` in magnitude,
/// and absolute error (scaled by `floor`) below it.
func maxRelativeError(_ sol: ODESolution, _ ref: [[Double]], floor: Double) -> Double {
  var worst = 0.0
  for (i, row) in ref.enumerated() {
    for j in 0..<(row.count - 1) {
      let r = row[j + 1], x = sol[i, j]
      worst = max(worst, abs(x - r) / max(abs(r), floor))
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
