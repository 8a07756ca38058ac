/// In-place LU factorisation with partial pivoting of a dense row-major `n × n` matrix.
///
/// On return `a` holds `L` (unit lower, below the diagonal) and `U` above the diagonal, with
/// the reciprocals of `U`'s diagonal on it (so that a solve multiplies where it would divide:
/// a chain of dependent divisions was most of a small system's solve); `pivots[k]` is the row
/// swapped with row `k` at step `k`.
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
      for j in 0..<n {
        let tmp = a[k * n + j]
        a[k * n + j] = a[p * n + j]
        a[p * n + j] = tmp
      }
    }
    let inv = 1 / a[k * n + k]
    a[k * n + k] = inv
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
    if p != k {
      let tmp = b[k]
      b[k] = b[p]
      b[p] = tmp
    }
  }
  // Column by column: the updates of one column are independent of each other (no chain
  // of dependent multiply-adds as in row-wise dot products). No test skips a zero: on the
  // small systems where the solve's time matters, the mispredicted branch cost more.
  for j in 0..<n {
    let bj = b[j]
    for i in (j + 1)..<max(n, j + 1) { b[i] -= lu[i &* n &+ j] * bj }
  }
  var j = n - 1
  while j >= 0 {
    let bj = b[j] * lu[j &* n &+ j]
    b[j] = bj
    for i in 0..<j { b[i] -= lu[i &* n &+ j] * bj }
    j -= 1
  }
}
