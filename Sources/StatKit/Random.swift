import RealModule

/// Philox4x32-10, the counter-based generator of Salmon et al. (SC'11, "Parallel random numbers:
/// as easy as 1, 2, 3"). The output block is a pure function of (key, counter), so a draw is
/// addressed rather than sequenced: patient `i` of a trial with seed `s` reads the same numbers
/// whatever the thread count, the shard or the order in which patients are run.
@frozen
public struct Philox4x32: Sendable {
  @usableFromInline static let m0: UInt32 = 0xD251_1F53
  @usableFromInline static let m1: UInt32 = 0xCD9E_8D57
  @usableFromInline static let w0: UInt32 = 0x9E37_79B9
  @usableFromInline static let w1: UInt32 = 0xBB67_AE85

  /// One 128-bit output block for the 128-bit counter (c0…c3) and the 64-bit key (k0, k1).
  @inlinable
  public static func block(
    _ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32, key k0: UInt32, _ k1: UInt32
  ) -> (UInt32, UInt32, UInt32, UInt32) {
    var (x0, x1, x2, x3) = (c0, c1, c2, c3)
    var (a, b) = (k0, k1)
    for round in 0..<10 {
      if round > 0 {
        a &+= w0
        b &+= w1
      }
      let p0 = UInt64(m0) &* UInt64(x0)
      let p1 = UInt64(m1) &* UInt64(x2)
      let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
      let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
      (x0, x1, x2, x3) = (hi1 ^ x1 ^ a, lo1, hi0 ^ x3 ^ b, lo0)
    }
    return (x0, x1, x2, x3)
  }
}

/// A stream of random numbers addressed by (seed, stream id): draw `k` of stream `id` is block
/// ⌊k/2⌋ of Philox keyed by the seed with counter (k/2, id), so any stream can be opened anywhere,
/// in any order, on any thread, and give the same numbers. Conforms to `RandomNumberGenerator`.
public struct RandomStream: RandomNumberGenerator, Sendable {
  public let seed: UInt64
  public let id: UInt64
  @usableFromInline var counter: UInt64 = 0
  @usableFromInline var buffered: UInt64 = 0
  @usableFromInline var hasBuffered = false

  /// - Parameters:
  ///   - seed: the run's seed (the user's `--seed`).
  ///   - id: the stream's address, e.g. `RandomStream.address(arm, patient)`.
  public init(seed: UInt64, id: UInt64) {
    self.seed = seed
    self.id = id
  }

  /// A stream address from a list of indices (e.g. arm, patient, purpose), mixed by SplitMix64 so
  /// that nearby tuples give unrelated streams.
  public static func address(_ parts: UInt64...) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3
    for p in parts { h = splitMix(h ^ splitMix(p &+ 0x9E37_79B9_7F4A_7C15)) }
    return h
  }

  @inlinable
  static func splitMix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  @inlinable
  public mutating func next() -> UInt64 {
    if hasBuffered {
      hasBuffered = false
      return buffered
    }
    let r = Philox4x32.block(
      UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
      UInt32(truncatingIfNeeded: id), UInt32(truncatingIfNeeded: id >> 32),
      key: UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    counter &+= 1
    buffered = UInt64(r.2) << 32 | UInt64(r.3)
    hasBuffered = true
    return UInt64(r.0) << 32 | UInt64(r.1)
  }

  /// Uniform on the open interval (0, 1), 53 random bits.
  @inlinable
  public mutating func uniform() -> Double {
    (Double(next() >> 11) + 0.5) * 0x1p-53
  }

  /// Standard normal by inversion (one uniform per draw, so draws stay addressable).
  @inlinable
  public mutating func normal() -> Double {
    Distributions.normalQuantile(uniform())
  }
}
