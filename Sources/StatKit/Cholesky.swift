/// The lower Cholesky factor L of a symmetric matrix A (row-major n×n, L·Lᵀ = A), or nil when A
/// is not positive definite: a pivot at or below `minimumPivot`, or not finite. Covariance
/// matrices of random effects and correlation matrices of virtual populations are a few rows,
/// so the plain row-by-row algorithm is used.
public func cholesky(_ a: [Double], _ n: Int, minimumPivot: Double = 0) -> [Double]? {
  precondition(n >= 0 && a.count >= n * n, "cholesky: \(a.count) values for \(n)×\(n)")
  var l = [Double](repeating: 0, count: n * n)
  for i in 0..<n {
    for j in 0...i {
      var s = a[i * n + j]
      for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
      if i == j {
        guard s > minimumPivot, s.isFinite else { return nil }
        l[i * n + i] = s.squareRoot()
      } else {
        l[i * n + j] = s / l[j * n + j]
      }
    }
  }
  return l
}
