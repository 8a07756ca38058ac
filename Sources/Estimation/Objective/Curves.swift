import Foundation
import SBMLKit

extension PEtabObjective {
  /// An observable of one simulation on a fine time grid, with its data.
  public struct Curve: Sendable {
    public var observable: String
    public var condition: String
    public var preequilibration: String?
    public var times: [Double]
    public var values: [Double]
    public var dataTimes: [Double]
    public var data: [Double]
    /// The observable is compared on a log scale (log or log10 transformation).
    public var logScale: Bool
  }

  /// Every (observable, simulation) pair with data, simulated at `x` on `points` evenly
  /// spaced times from 0 to the last measurement (the observable's placeholders take the
  /// values of its first measurement there).
  public func curves(_ x: [Double], points: Int = 120) -> [Curve] {
    let theta = linear(x)
    var out: [Curve] = []
    for (si, sim) in simulations.enumerated() {
      let end = sim.times.last ?? 0
      var dense = sim
      dense.times = Array(Set((0...points).map { end * Double($0) / Double(points) } + sim.times)).sorted()
      let run = integrate(dense, theta: theta, sensitivities: false)
      let rows = measurementPlace.indices.filter { measurementPlace[$0].simulation == si }
      for o in problem.observables.indices {
        let mine = rows.filter { problem.measurements[$0].observable == o }
        guard let first = mine.first else { continue }
        var env = Array(repeating: 0.0, count: slotCount + extraIDs.count)
        var values: [Double] = []
        for (j, t) in dense.times.enumerated() {
          guard j < run.states.count else {
            values.append(.nan)
            continue
          }
          run.states[j].withUnsafeBufferPointer { run.system.evaluate(t: t, u: $0) }
          for i in 0..<slotCount { env[i] = run.system.workspace.values[i] }
          for (k, s) in tableExtras { env[slotCount + k] = value(s, theta) }
          for (k, s) in measurementExtras[first] { env[slotCount + k] = value(s, theta) }
          values.append(observableFormulas[o].evaluate(env))
        }
        out.append(
          Curve(
            observable: problem.observables[o].id, condition: problem.conditions[sim.condition].id,
            preequilibration: sim.preequilibration.map { problem.conditions[$0].id },
            times: dense.times, values: values,
            dataTimes: mine.map { problem.measurements[$0].time }, data: mine.map { problem.measurements[$0].value },
            logScale: problem.observables[o].transformation != .lin))
      }
    }
    return out
  }
}
