import RealModule
import Testing

@testable import StatKit

@Suite("Counter-based random streams")
struct RandomTests {
  /// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
  @Test func philoxKnownAnswers() {
    let zero = Philox4x32.block(0, 0, 0, 0, key: 0, 0)
    #expect(zero == (0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8))
    let ones = Philox4x32.block(
      .max, .max, .max, .max, key: .max, .max)
    #expect(ones == (0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD))
    let pi = Philox4x32.block(
      0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344, key: 0xA409_3822, 0x299F_31D0)
    #expect(pi == (0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1))
  }

  /// A stream is addressed, not sequenced: opening streams in any order gives the same numbers.
  @Test func streamsDoNotDependOnOrder() {
    let ids = (0..<200).map { RandomStream.address(1, UInt64($0)) }
    func draws(_ id: UInt64) -> [Double] {
      var s = RandomStream(seed: 42, id: id)
      return (0..<7).map { _ in s.normal() }
    }
    let forward = ids.map(draws)
    let backward = Array(ids.reversed().map(draws).reversed())
    #expect(forward == backward)
    // Different seeds and different addresses give different streams.
    var a = RandomStream(seed: 42, id: ids[0]), b = RandomStream(seed: 43, id: ids[0])
    #expect(a.next() != b.next())
    #expect(Set(ids).count == ids.count)
  }

  /// Moments of the uniform and normal draws agree with theory within Monte Carlo error.
  @Test func moments() {
    var s = RandomStream(seed: 7, id: 3)
    let n = 200_000
    var sum = 0.0, sumSq = 0.0, below = 0
    for _ in 0..<n {
      let z = s.normal()
      sum += z
      sumSq += z * z
      if z < -1.959963984540054 { below += 1 }
    }
    let mean = sum / Double(n), variance = sumSq / Double(n) - mean * mean
    #expect(abs(mean) < 4 / Double(n).squareRoot())
    #expect(abs(variance - 1) < 4 * (2.0 / Double(n)).squareRoot())
    let tail = Double(below) / Double(n)
    #expect(abs(tail - 0.025) < 4 * (0.025 * 0.975 / Double(n)).squareRoot())
  }
}

@Suite("Distribution functions")
struct DistributionTests {
  /// Reference values from scipy.stats (norm.ppf, beta.cdf, beta.ppf, chi2.sf).
  @Test func normalQuantile() {
    let p = [1e-300, 1e-10, 0.01, 0.3, 0.5, 0.9, 0.999999]
    let ref = [
      -37.0470962993612, -6.361340902404056, -2.3263478740408408, -0.5244005127080409, 0.0,
      1.2815515655446004, 4.753424308817087,
    ]
    for (x, r) in zip(p, ref) {
      #expect(abs(Distributions.normalQuantile(x) - r) <= 1e-14 * max(1, abs(r)))
      #expect(abs(Distributions.normalCDF(r) - x) <= 1e-12 * x)
    }
  }

  @Test func betaAndChiSquare() {
    let cases: [(Double, Double, Double, Double)] = [
      (0.1, 2, 5, 0.11426500000000002), (0.3, 0.5, 3, 0.8400694725735486),
      (0.7, 30, 4, 0.004187133245801896),
    ]
    for (x, a, b, r) in cases {
      #expect(abs(Distributions.betaCDF(x, a, b) - r) <= 1e-13 * r)
    }
    #expect(abs(Distributions.betaQuantile(0.025, 3, 8) - 0.06673951117773447) < 1e-14)
    #expect(abs(Distributions.chiSquare1Upper(0.5) - 0.47950012218695337) < 1e-14)
    #expect(abs(Distributions.chiSquareUpper(3.84, degrees: 2) - 0.14660696213035013) < 1e-13)
    #expect(abs(Distributions.chiSquareUpper(10, degrees: 5) - 0.07523524614651217) < 1e-13)
    // Far tail without cancellation: scipy chi2.sf(222.2, 3) = 6.7164e-48.
    #expect(abs(Distributions.chiSquareUpper(222.2, degrees: 3) / 6.716401404114896e-48 - 1) < 1e-9)
  }

  /// Clopper–Pearson for 3/10: (0.0667, 0.6525), the textbook value (scipy beta.ppf).
  @Test func clopperPearson() {
    let ci = Distributions.clopperPearson(successes: 3, trials: 10)
    #expect(abs(ci.lower - 0.06673951117773447) < 1e-13)
    #expect(abs(ci.upper - 0.6524528500599973) < 1e-13)
    let none = Distributions.clopperPearson(successes: 0, trials: 20)
    #expect(none.lower == 0)
    #expect(abs(none.upper - (1 - Double.pow(0.025, 1.0 / 20))) < 1e-13)
  }
}
