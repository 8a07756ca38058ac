/// The linear algebra of the implicit methods: the iteration matrix `inv·I − J` (Rodas4, Rodas4P2:
/// `inv = 1/(γh)`; BDF: `inv = α/h`), its factorisation and solves.
///
/// The systems are solved in error-weighted variables (W⁻¹ E W)(W⁻¹ k) = W⁻¹ b,
/// W = diag(`scale`) = diag(atol + rtol·|u|) at the factorisation, so that pivoting compares
/// entries on the scale that matters: a row of large cell numbers cannot leak round-off into a
/// state that is zero. `scale` and `jac` must stay as they were while the factors are used.
extension _Integrator {
  /// Forms and factorises `inv·I − J` from `jac` and `scale`; false when it is singular.
  @inlinable
  func factorIterationMatrix(inv: Double) -> Bool {
    stats.luDecompositions += 1
    for i in 0..<n { inverseScale[i] = 1 / scale[i] }
    // Along the sparsity pattern while the Jacobian is the analytic one (zero outside it)
    // and the pivots in the fixed order are large enough; else dense with partial pivoting.
    linearBlocks = sys.blockLayout.flatMap { $0.count > 1 ? $0 : nil }
    linearSparse = jacobianOnPattern && linearBlocks == nil ? sparse : nil
    if let (nb, count) = linearBlocks {
      // The diagonal blocks are all the first one: one factorisation, at the start of `lu`.
      for i in 0..<nb {
        let ri = inverseScale[i]
        for j in 0..<nb { lu[i * nb + j] = -jac[i * n + j] * scale[j] * ri }
        lu[i * nb + i] += inv
      }
      guard luFactor(lu, nb, piv) else { return false }
      // The first block column below the diagonal, packed for ``blockSolve``: entry (i, j)
      // of block c + 1 at P[(i·nb + j)·m + c], so that the blocks are the inner index.
      let m = count - 1, packed = lu + nb * nb
      for c in 0..<m {
        for i in 0..<nb {
          let row = ((c + 1) * nb + i) * n
          for j in 0..<nb { packed[(i * nb + j) * m + c] = jac[row + j] }
        }
      }
    } else if let sp = linearSparse {
      for e in 0..<sp.entryCount {
        let p = sp.entryAt[e], i = sp.entryRow[e], j = sp.entryColumn[e]
        lu[p] = -jac[p] * scale[j] * inverseScale[i] + (i == j ? inv : 0)
      }
      if !sp.factor(lu) {
        linearSparse = nil
        stats.sparseFallbacks += 1
      }
    }
    if linearSparse == nil && linearBlocks == nil {
      for i in 0..<n {
        let ri = inverseScale[i]
        for j in 0..<n { lu[i * n + j] = -jac[i * n + j] * scale[j] * ri }
        lu[i * n + i] += inv
      }
      guard luFactor(lu, n, piv) else { return false }
    }
    return true
  }

  /// Overwrites `x` with `(inv·I − J)⁻¹ x` using the factors of ``factorIterationMatrix(inv:)``.
  @inlinable
  func linsolve(_ x: UnsafeMutablePointer<Double>) {
    if let (nb, count) = linearBlocks {
      blockSolve(x, nb, count)
      stats.linearSolves += 1
      return
    }
    for i in 0..<n { x[i] *= inverseScale[i] }
    if let sp = linearSparse {
      sp.solve(lu, x)
    } else {
      luSolve(lu, n, piv, x)
    }
    for i in 0..<n { x[i] *= scale[i] }
    stats.linearSolves += 1
  }

  /// The block lower triangular solve: the first block, then every other block's right-hand
  /// side plus its coupling to the first block's solution (`jac`'s first block column,
  /// packed by ``factorIterationMatrix(inv:)``), all solved at once against the one
  /// factorisation as an nb × (count − 1) right-hand side, so that every inner loop runs
  /// over the blocks and vectorises. Scaled by the first block's weights (the
  /// factorisation's); the solution is the same for any diagonal scaling.
  @inlinable
  func blockSolve(_ x: UnsafeMutablePointer<Double>, _ nb: Int, _ count: Int) {
    for i in 0..<nb { x[i] *= inverseScale[i] }
    luSolve(lu, nb, piv, x)
    for i in 0..<nb { x[i] *= scale[i] }
    let m = count - 1
    guard m > 0 else { return }
    // Z[i·m + c] for block c + 1, after the factors and the packed coupling.
    let packed = lu + nb * nb, z = packed + nb * nb * m
    for i in 0..<nb {
      let zi = z + i * m
      for c in 0..<m { zi[c] = x[(c + 1) * nb + i] }
      for j in 0..<nb {
        let xj = x[j], pij = packed + (i * nb + j) * m
        if xj != 0 { for c in 0..<m { zi[c] += pij[c] * xj } }
      }
      let ri = inverseScale[i]
      for c in 0..<m { zi[c] *= ri }
    }
    for k in 0..<nb where piv[k] != k {
      let a = z + k * m, b = z + piv[k] * m
      for c in 0..<m { (a[c], b[c]) = (b[c], a[c]) }
    }
    for j in 0..<nb {
      let zj = z + j * m
      for i in (j + 1)..<max(nb, j + 1) {
        let l = lu[i * nb + j]
        if l != 0 {
          let zi = z + i * m
          for c in 0..<m { zi[c] -= l * zj[c] }
        }
      }
    }
    var j = nb - 1
    while j >= 0 {
      let zj = z + j * m, d = lu[j * nb + j]
      for c in 0..<m { zj[c] *= d }
      for i in 0..<j {
        let u = lu[i * nb + j]
        if u != 0 {
          let zi = z + i * m
          for c in 0..<m { zi[c] -= u * zj[c] }
        }
      }
      j -= 1
    }
    for i in 0..<nb {
      let zi = z + i * m, si = scale[i]
      for c in 0..<m { x[(c + 1) * nb + i] = zi[c] * si }
    }
  }
}
