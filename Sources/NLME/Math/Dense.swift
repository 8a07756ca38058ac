import RealModule
import StatKit

/// Small dense linear algebra on row-major n×n arrays: the covariance matrices of random
/// effects, the per-subject Hessians and the compartment matrices are a few rows each.

/// log det A from its Cholesky factor.
func logDeterminant(cholesky l: [Double], _ n: Int) -> Double {
  var s = 0.0
  for i in 0..<n { s += 2 * Double.log(l[i * n + i]) }
  return s
}

/// Solves A·x = b given A's Cholesky factor.
func choleskySolve(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
  var y = b
  for i in 0..<n {
    for k in 0..<i { y[i] -= l[i * n + k] * y[k] }
    y[i] /= l[i * n + i]
  }
  for i in stride(from: n - 1, through: 0, by: -1) {
    for k in (i + 1)..<n { y[i] -= l[k * n + i] * y[k] }
    y[i] /= l[i * n + i]
  }
  return y
}

/// A⁻¹ of a symmetric positive definite A, or nil.
public func inverseSPD(_ a: [Double], _ n: Int) -> [Double]? {
  guard let l = cholesky(a, n) else { return nil }
  var inv = [Double](repeating: 0, count: n * n)
  for j in 0..<n {
    var e = [Double](repeating: 0, count: n)
    e[j] = 1
    let x = choleskySolve(l, n, e)
    for i in 0..<n { inv[i * n + j] = x[i] }
  }
  return inv
}

/// C = A·B for n×m times m×p.
func multiply(_ a: [Double], _ b: [Double], _ n: Int, _ m: Int, _ p: Int) -> [Double] {
  var c = [Double](repeating: 0, count: n * p)
  for i in 0..<n {
    for k in 0..<m {
      let aik = a[i * m + k]
      if aik == 0 { continue }
      for j in 0..<p { c[i * p + j] += aik * b[k * p + j] }
    }
  }
  return c
}

/// The inverse of a general square matrix by Gauss–Jordan with partial pivoting, or nil when
/// it is singular.
func inverse(_ a: [Double], _ n: Int) -> [Double]? {
  var m = a
  var inv = [Double](repeating: 0, count: n * n)
  for i in 0..<n { inv[i * n + i] = 1 }
  for c in 0..<n {
    var p = c
    for r in (c + 1)..<max(c + 1, n) where abs(m[r * n + c]) > abs(m[p * n + c]) { p = r }
    guard m[p * n + c] != 0, m[p * n + c].isFinite else { return nil }
    if p != c {
      for j in 0..<n {
        m.swapAt(p * n + j, c * n + j)
        inv.swapAt(p * n + j, c * n + j)
      }
    }
    let d = m[c * n + c]
    for j in 0..<n {
      m[c * n + j] /= d
      inv[c * n + j] /= d
    }
    for r in 0..<n where r != c {
      let f = m[r * n + c]
      if f == 0 { continue }
      for j in 0..<n {
        m[r * n + j] -= f * m[c * n + j]
        inv[r * n + j] -= f * inv[c * n + j]
      }
    }
  }
  return inv
}

/// e^A for a small square matrix: Padé (6, 6) with scaling and squaring (Moler & Van Loan 2003,
/// SIAM Rev. 45:3–49, "Nineteen dubious ways…", method 3).
func matrixExponential(_ a: [Double], _ n: Int) -> [Double] {
  var norm = 0.0
  for i in 0..<n {
    var row = 0.0
    for j in 0..<n { row += abs(a[i * n + j]) }
    norm = max(norm, row)
  }
  // A matrix with an infinite or NaN entry has no exponential: NaN, so the prediction fails
  // instead of the program.
  guard norm.isFinite else { return [Double](repeating: .nan, count: n * n) }
  var squarings = 0
  if norm > 0.5 {
    squarings = max(0, Int(Double.log2(norm).rounded(.up)) + 1)
  }
  let scale = Double.pow(2.0, -Double(squarings))
  let x = a.map { $0 * scale }
  let q = 6
  var c = 0.5
  var power = x
  var numerator = [Double](repeating: 0, count: n * n)
  var denominator = [Double](repeating: 0, count: n * n)
  for i in 0..<n {
    numerator[i * n + i] = 1
    denominator[i * n + i] = 1
  }
  for i in 0..<(n * n) {
    numerator[i] += c * x[i]
    denominator[i] -= c * x[i]
  }
  var positive = true
  for k in 2...q {
    c = c * Double(q - k + 1) / Double(k * (2 * q - k + 1))
    power = multiply(power, x, n, n, n)
    for i in 0..<(n * n) {
      numerator[i] += c * power[i]
      denominator[i] += (positive ? c : -c) * power[i]
    }
    positive.toggle()
  }
  var e = inverse(denominator, n).map { multiply($0, numerator, n, n, n) } ?? numerator
  for _ in 0..<squarings { e = multiply(e, e, n, n, n) }
  return e
}
