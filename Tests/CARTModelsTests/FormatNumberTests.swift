import CARTModels
import Foundation
import Testing

/// ``formatNumber(_:)`` prints numbers itself from their shortest decimal; it must print
/// exactly what `%g` prints.
struct FormatNumberTests {
  @Test func matchesPrintfG() {
    var values: [Double] = [
      0, -0.0, 1, -1, 30, 500, 999_999, -999_999, 1e6, -1e6, 123_456, 1_234_567, 0.5, 2.5, 1e-5, 3.25e7, .nan, .infinity, -.infinity,
    ]
    // Whole numbers across the fast path's range and beyond it, and fractions, from a fixed seed.
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<20_000 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let u = Double(state >> 11) / Double(1 << 53)
      values.append((u * 4e6 - 2e6).rounded())
      values.append(u * 1e3)
    }
    // Decimals of one to eight significant digits from 1e-6 to 1e8 (the fast path for short
    // decimals and its bounds), and their neighbours one ulp away.
    for _ in 0..<20_000 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let digits = Int(state >> 60) % 8 + 1
      let exponent = Int((state >> 32) & 0xFF) % 15 - 6
      let mantissa = Double((state >> 8) & 0xFF_FFFF) / Double(1 << 24)  // [0, 1)
      let scale = pow(10.0, Double(digits))
      let x = (mantissa * scale).rounded() / scale * pow(10.0, Double(exponent))
      let signed = state & 1 == 0 ? x : -x
      values += [signed, signed.nextUp, signed.nextDown]
    }
    // Any double: random bit patterns (every exponent, both signs).
    for _ in 0..<20_000 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let x = Double(bitPattern: state)
      if x.isFinite { values.append(x) }
    }
    // Rounding at the sixth digit: ties of the shortest decimal (0.1234565 is below or above the
    // tie in binary), carries through nines into a new power of ten, and the bounds of %g's
    // fixed notation.
    values += [
      1e-4, 0.0001, 0.00010000001, 9.99999e-5, 9.999995e-5, 999_999.5, 999_999.9, 999_999.4, 123_456.5, 0.1 + 0.2, 1.0 / 3,
      0.1234565, 1.0000005, 9.9999995, 9.999995, 99_999.95, 0.99999951, 0.9999995, 1.2345650000000001, 2.5e-7, 1e21, 1.5e300,
      5e-324, -2.2250738585072014e-308, .greatestFiniteMagnitude, 1e15, 1e16, 123_456_789_012, 7.02e10, 2.5e11, -4.2e-5,
    ]
    for x in values { #expect(formatNumber(x) == String(format: "%g", x), "\(x)") }
  }
}
