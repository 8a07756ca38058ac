import Foundation
import NLME
import TestSupport
import Testing

/// NPDE against their definition: for data drawn from the model itself, the normalised
/// prediction distribution errors are standard normal (Brendel et al. 2006), and data the model
/// does not describe move them away from it.
@Suite struct DiagnosticsTests {
  /// pheno's design with DVs simulated from NONMEM's estimates.
  static func simulatedStudies(_ count: Int) throws -> (FirstOrderObjective, [Dataset]) {
    let problem = try PhenoTests.problem()
    let p = PhenoTests.estimates
    let replicates = NLMESimulation(problem: problem, parameters: p).replicates(count, seed: 7, threads: 2)
    let data = replicates.map { r -> Dataset in
      var d = problem.data
      var k = 0
      for i in d.subjects.indices {
        for j in d.subjects[i].observations {
          d.subjects[i].records[j].dv = r.y[k]
          k += 1
        }
      }
      return d
    }
    return (FirstOrderObjective(model: problem.model, data: problem.data, method: .focei), data)
  }

  static func npde(_ objective: FirstOrderObjective, _ data: Dataset) -> [Double] {
    let o = FirstOrderObjective(model: objective.model, data: data, method: .focei)
    let etas = data.subjects.map { _ in [0.0, 0.0] }
    return Diagnostics(objective: o, parameters: PhenoTests.estimates, etas: etas, samples: 400, seed: 3).rows.map(\.npde)
  }

  /// Checks that 620 values look standard normal: the standard error of their mean is 0.04, of
  /// their SD about 0.03, and a fifth of them lie below Φ⁻¹(0.2) = −0.8416.
  static func expectStandardNormal(_ values: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(values.count == 4 * 155 && values.allSatisfy(\.isFinite), sourceLocation: sourceLocation)
    let mean = values.reduce(0, +) / Double(values.count)
    let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    #expect(abs(mean) < 0.15, "mean \(mean)", sourceLocation: sourceLocation)
    #expect(abs(sd - 1) < 0.12, "sd \(sd)", sourceLocation: sourceLocation)
    let low = Double(values.filter { $0 < -0.8416 }.count) / Double(values.count)
    #expect(abs(low - 0.2) < 0.06, "fraction below the 20th percentile \(low)", sourceLocation: sourceLocation)
  }

  @Test func npdeOfTheModelsOwnDataAreStandardNormal() throws {
    let (objective, studies) = try Self.simulatedStudies(4)
    Self.expectStandardNormal(studies.flatMap { Self.npde(objective, $0) })
  }

  @Test func npdeDetectAMisfit() throws {
    // Every concentration 30% higher than the model predicts (proportional error SD ≈ 11.5%).
    let (objective, studies) = try Self.simulatedStudies(1)
    var shifted = studies[0]
    for i in shifted.subjects.indices {
      for j in shifted.subjects[i].observations { shifted.subjects[i].records[j].dv *= 1.3 }
    }
    let values = Self.npde(objective, shifted)
    let mean = values.reduce(0, +) / Double(values.count)
    #expect(mean > 0.5, "mean \(mean)")
  }

  /// Censored values (npde's "cdf" method): with every value of the model's own data below a
  /// limit censored at it (M3), the NPDE of all values, the imputed censored ones included,
  /// are still standard normal. Leaving the censored ones out, or setting them at the limit,
  /// would not be: the censored values are the low ones.
  @Test func npdeOfCensoredDataAreStandardNormal() throws {
    let (objective, studies) = try Self.simulatedStudies(4)
    let all = studies[0].subjects.flatMap { s in s.observations.map { s.records[$0].dv } }.sorted()
    let limit = all[all.count * 3 / 10]
    var censored = 0
    let values = studies.flatMap { study -> [Double] in
      var d = study
      for i in d.subjects.indices {
        for j in d.subjects[i].records.indices { d.subjects[i].records[j].limit = limit }
        for j in d.subjects[i].observations where d.subjects[i].records[j].dv < limit {
          d.subjects[i].records[j].dv = limit
          d.subjects[i].records[j].censoredBelow = limit
          censored += 1
        }
      }
      return Self.npde(objective, d)
    }
    #expect((120...250).contains(censored), "\(censored) of 620 censored")
    Self.expectStandardNormal(values)
  }
}
