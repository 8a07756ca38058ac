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

/// OREGO, the Oregonator (Hairer & Wanner II §IV.1; IVP test set of Mazzia & Magherini).
let oregoSystem = ODEFunction(dimension: 3, isAutonomous: true) { _, y, f in
  f[0] = 77.27 * (y[1] + y[0] * (1 - 8.375e-6 * y[0] - y[1]))
  f[1] = (y[2] - (1 + y[0]) * y[1]) / 77.27
  f[2] = 0.161 * (y[0] - y[2])
}

/// POLLU, the air-pollution model of the IVP test set (Verwer 1994): 20 species, 25
/// reactions; written as in Scripts/fixtures/make_stiff_references.py (1-based there).
let polluSystem = ODEFunction(dimension: 20, isAutonomous: true) { _, y, f in
  let k = [
    0.35, 0.266e2, 0.123e5, 0.86e-3, 0.82e-3, 0.15e5, 0.13e-3, 0.24e5, 0.165e5, 0.9e4, 0.22e-1, 0.12e5, 0.188e1, 0.163e5,
    0.48e7, 0.35e-3, 0.175e-1, 0.1e9, 0.444e12, 0.124e4, 0.21e1, 0.578e1, 0.474e-1, 0.178e4, 0.312e1,
  ]
  func c(_ i: Int) -> Double { y[i - 1] }
  let r = [
    0, k[0] * c(1), k[1] * c(2) * c(4), k[2] * c(5) * c(2), k[3] * c(7), k[4] * c(7), k[5] * c(7) * c(6), k[6] * c(9),
    k[7] * c(9) * c(6), k[8] * c(11) * c(2), k[9] * c(11) * c(1), k[10] * c(13), k[11] * c(10) * c(2), k[12] * c(14),
    k[13] * c(1) * c(6), k[14] * c(3), k[15] * c(4), k[16] * c(4), k[17] * c(16), k[18] * c(16), k[19] * c(17) * c(6),
    k[20] * c(19), k[21] * c(19), k[22] * c(1) * c(4), k[23] * c(19) * c(1), k[24] * c(20),
  ]
  f[0] = -r[1] - r[10] - r[14] - r[23] - r[24] + r[2] + r[3] + r[9] + r[11] + r[12] + r[22] + r[25]
  f[1] = -r[2] - r[3] - r[9] - r[12] + r[1] + r[21]
  f[2] = -r[15] + r[1] + r[17] + r[19] + r[22]
  f[3] = -r[2] - r[16] - r[17] - r[23] + r[15]
  f[4] = -r[3] + 2 * r[4] + r[6] + r[7] + r[13] + r[20]
  f[5] = -r[6] - r[8] - r[14] - r[20] + r[3] + 2 * r[18]
  f[6] = -r[4] - r[5] - r[6] + r[13]
  f[7] = r[4] + r[5] + r[6] + r[7]
  f[8] = -r[7] - r[8]
  f[9] = -r[12] + r[7] + r[9]
  f[10] = -r[9] - r[10] + r[8] + r[11]
  f[11] = r[9]
  f[12] = -r[11] + r[10]
  f[13] = -r[13] + r[12]
  f[14] = r[14]
  f[15] = -r[18] - r[19] + r[16]
  f[16] = -r[20]
  f[17] = r[20]
  f[18] = -r[21] - r[22] - r[24] + r[23] + r[25]
  f[19] = -r[25] + r[24]
}

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
