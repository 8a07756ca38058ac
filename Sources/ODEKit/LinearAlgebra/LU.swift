/// In-place LU factorisation with partial pivoting of a dense row-major `n × n` matrix.
///
/// On return `a` holds `L` (unit lower, below the diagonal) and `U`; `pivots[k]` is the
/// row swapped with row `k` at step `k`.
/// - Returns: `false` if the matrix is singular to working precision.
/// - Complexity: `n³/3` multiply-adds.
@inlinable
public func luFactor(_ a: UnsafeMutablePointer<Double>, _ n: Int, _ pivots: UnsafeMutablePointer<Int>) -> Bool {
  for k in 0..<n {
    var p = k
    var maxAbs = abs(a[k * n + k])
    for i in (k + 1)..<max(n, k + 1) where abs(a[i * n + k]) > maxAbs {
      maxAbs = abs(a[i * n + k])
      p = i
    }
    pivots[k] = p
    if maxAbs == 0 || !maxAbs.isFinite { return false }
    if p != k {
      for j in 0..<n { let tmp = a[k * n + j]; a[k * n + j] = a[p * n + j]; a[p * n + j] = tmp }
    }
    let inv = 1 / a[k * n + k]
    for i in (k + 1)..<max(n, k + 1) {
      let l = a[i * n + k] * inv
      a[i * n + k] = l
      if l != 0 {
        for j in (k + 1)..<n { a[i * n + j] -= l * a[k * n + j] }
      }
    }
  }
  return true
}

/// Solves `A x = b` in place (`b` becomes `x`) from the factors of ``luFactor(_:_:_:)``.
@inlinable
public func luSolve(_ lu: UnsafeMutablePointer<Double>, _ n: Int, _ pivots: UnsafeMutablePointer<Int>, _ b: UnsafeMutablePointer<Double>) {
  for k in 0..<n {
    let p = pivots[k]
    if p != k { let tmp = b[k]; b[k] = b[p]; b[p] = tmp }
  }
  for i in 0..<n {
    var s = b[i]
    for j in 0..<i { s -= lu[i * n + j] * b[j] }
    b[i] = s
  }
  var i = n - 1
  while i >= 0 {
    var s = b[i]
    for j in (i + 1)..<n { s -= lu[i * n + j] * b[j] }
    b[i] = s / lu[i * n + i]
    i -= 1
  }
}
