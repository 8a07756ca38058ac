import Foundation
import Testing

@testable import StatKit

/// Kaplan–Meier, intervals, medians and log-rank against lifelines 0.30.3 on the same data
/// (Scripts/fixtures/km_lifelines.py made both fixture files).
@Suite("Survival analysis against lifelines")
struct SurvivalTests {
  struct Reference: Decodable {
    struct Group: Decodable {
      var time: [Double], at_risk: [Int], events: [Int], survival: [Double], lower: [Double], upper: [Double]
      var median: Double, median_lower: Double, median_upper: Double?
    }
    struct Test: Decodable { var statistic: Double, p: Double }
    var groups: [String: Group]
    var logrank_0_1: Test
    var logrank_all: Test
  }

  func load() throws -> ([SurvivalTally], Reference) {
    let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    let csv = try String(contentsOf: dir.appendingPathComponent("km-data.csv"), encoding: .utf8)
    var tallies = [SurvivalTally](repeating: SurvivalTally(), count: 3)
    for line in csv.split(separator: "\n").dropFirst() {
      let f = line.split(separator: ",").map { Double($0)! }
      tallies[Int(f[0])].add(time: f[1], event: f[2] == 1)
    }
    let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("km-lifelines.json")))
    return (tallies, ref)
  }

  @Test func kaplanMeierMatchesLifelines() throws {
    let (tallies, ref) = try load()
    for g in 0..<3 {
      let km = KaplanMeier(tallies[g])
      let r = ref.groups[String(g)]!
      #expect(km.rows.map(\.time) == r.time)
      #expect(km.rows.map(\.atRisk) == r.at_risk)
      #expect(km.rows.map(\.events) == r.events)
      for i in r.time.indices {
        #expect(abs(km.rows[i].survival - r.survival[i]) < 1e-12)
        #expect(abs(km.rows[i].lower - r.lower[i]) < 1e-9, "group \(g) lower at \(r.time[i])")
        #expect(abs(km.rows[i].upper - r.upper[i]) < 1e-9, "group \(g) upper at \(r.time[i])")
      }
      #expect(km.median == r.median)
      #expect(km.medianLower == r.median_lower)
      #expect(km.medianUpper == r.median_upper)
    }
  }

  /// A group without subjects (an arm whose every patient failed): no Kaplan–Meier
  /// estimate, and the log-rank test leaves it out (with one group left, no test).
  @Test func groupWithoutSubjects() throws {
    let (tallies, ref) = try load()
    let empty = SurvivalTally()
    let km = KaplanMeier(empty)
    #expect(km.rows.isEmpty && km.median == nil && km.medianLower == nil)
    #expect(km.survival(at: 365) == nil)
    #expect(LogRankTest([tallies[0], empty]) == nil)
    let two = try #require(LogRankTest([tallies[0], empty, tallies[1]]))
    #expect(two.degreesOfFreedom == 1)
    #expect(abs(two.statistic - ref.logrank_0_1.statistic) < 1e-9 * ref.logrank_0_1.statistic)
  }

  @Test func logRankMatchesLifelines() throws {
    let (tallies, ref) = try load()
    let two = try #require(LogRankTest([tallies[0], tallies[1]]))
    #expect(abs(two.statistic - ref.logrank_0_1.statistic) < 1e-9 * ref.logrank_0_1.statistic)
    #expect(abs(two.pValue - ref.logrank_0_1.p) < 1e-9 * ref.logrank_0_1.p)
    let all = try #require(LogRankTest(tallies))
    #expect(all.degreesOfFreedom == 2)
    #expect(abs(all.statistic - ref.logrank_all.statistic) < 1e-9 * ref.logrank_all.statistic)
    #expect(abs(all.pValue - ref.logrank_all.p) < 1e-9 * ref.logrank_all.p)
  }

  /// Merging tallies of two halves gives the tally of the whole.
  @Test func talliesMerge() throws {
    let (tallies, _) = try load()
    var merged = tallies[0]
    merged.merge(tallies[1])
    var whole = SurvivalTally()
    for t in [tallies[0], tallies[1]] {
      for (time, d, c) in t.sorted {
        for _ in 0..<d { whole.add(time: time, event: true) }
        for _ in 0..<c { whole.add(time: time, event: false) }
      }
    }
    #expect(merged == whole)
  }
}
