import Foundation
import NLME
import TestSupport
import Testing

/// A subject whose conditional density of the random effects has two modes: the population
/// objective must take the higher one (the lower l_i) whatever the warm start, or it becomes a
/// function of the evaluation history and jumps under the optimiser.
@Suite struct ModeTests {
  /// The CAR T example's study (Examples/nlme/cart-stein.csv) at parameters near its Laplace
  /// estimates, where patient 59 (7 samples, 2 below the limit) can be explained either by a
  /// fast contraction with a high persistence level or by a slower contraction.
  static func problem() throws -> (NLMEProblem, PopulationParameters, Int) {
    let root = TestSupport.packageRoot.appendingPathComponent("Examples/nlme")
    let problem = try NLMEProblem(controlStream: root.appendingPathComponent("cart-stein-pred.mod").path)
    let p = PopulationParameters(
      theta: [22021.28, 9.3, 8.119391, 0.1444755, 0.009447789, 0.003530159],
      omega: [0.6270891, 0, 0, 0, 0.4576908, 0, 0, 0, 0.3674396], sigma: [0.2891070])
    let index = try #require(problem.data.subjects.firstIndex(where: { $0.id == 59 }))
    return (problem, p, index)
  }

  /// Patient 59's modes found by Newton from η = 0 and from a start near the other mode.
  static func modes(_ objective: FirstOrderObjective, _ p: PopulationParameters, _ index: Int) throws -> (SubjectFit, SubjectFit) {
    let predictor = Predictor(model: objective.model)
    let subject = objective.data.subjects[index]
    let a = try #require(objective.subject(subject, p, start: [0, 0, 0], predictor: predictor))
    let b = try #require(objective.subject(subject, p, start: [-0.22, 1.16, 0.61], predictor: predictor))
    return (a, b)
  }

  @Test func twoStartsReachTwoModes() throws {
    let (problem, p, index) = try Self.problem()
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .laplace)
    let (a, b) = try Self.modes(objective, p, index)
    #expect(a.converged && b.converged)
    // Two distinct stationary points of l_i: η(ALPHA) differs by more than 0.3.
    #expect(abs(a.eta[1] - b.eta[1]) > 0.3, "modes \(a.eta) and \(b.eta)")
    #expect(abs(a.conditional - b.conditional) > 1e-3)
  }

  /// `settled` gives the mode with the lower l_i from either warm start, so the objective at
  /// the same parameters is the same number after either history.
  @Test func settledModeDoesNotDependOnTheWarmStart() throws {
    let (problem, p, index) = try Self.problem()
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .laplace)
    let (a, b) = try Self.modes(objective, p, index)
    let higher = a.conditional < b.conditional ? a : b
    var totals: [Double] = []
    for start in [a, b] {
      let population = PopulationObjective(objective: objective, threads: 2)
      var fits = population.subjects(p)
      fits[index] = start
      population.accept(fits)
      let settled = population.settled(p)
      let chosen = try #require(settled[index])
      #expect(abs(chosen.conditional - higher.conditional) < 1e-6, "from \(start.eta): \(chosen.eta)")
      #expect(zip(chosen.eta, higher.eta).allSatisfy { abs($0 - $1) < 1e-4 })
      totals.append(population.total(settled))
    }
    #expect(abs(totals[0] - totals[1]) < 1e-6, "\(totals)")
  }

  /// A search told of a mode stops (nil) once it reaches that mode, and runs to the end where it
  /// leads to the other one.
  @Test func searchStopsAtAKnownMode() throws {
    let (problem, p, index) = try Self.problem()
    let objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .laplace)
    let (a, b) = try Self.modes(objective, p, index)
    let predictor = Predictor(model: objective.model)
    let subject = objective.data.subjects[index]
    #expect(objective.subject(subject, p, start: [0, 0, 0], predictor: predictor, known: a.eta) == nil)
    let other = try #require(objective.subject(subject, p, start: [0, 0, 0], predictor: predictor, known: b.eta))
    #expect(other.converged && other.eta == a.eta)
  }
}
