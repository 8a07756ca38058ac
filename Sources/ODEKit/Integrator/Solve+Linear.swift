/// The linear algebra of the implicit methods: the iteration matrix `inv·I − J` (Rodas4:
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
    // Along the sparsity pattern while the Jacobian is the analytic one (zero outside it)
    // and the pivots in the fixed order are large enough; else dense with partial pivoting.
    linearBlocks = sys.blockLayout.flatMap { $0.size * $0.count == n && $0.count > 1 ? $0 : nil }
    linearSparse = jacobianOnPattern && linearBlocks == nil ? sparse : nil
    if let (nb, count) = linearBlocks {
      // Each diagonal block on its own, with partial pivoting; at offset b·nb² of `lu`.
      for b in 0..<count {
        let o = b * nb, block = lu + b * nb * nb
        for i in 0..<nb {
          let ri = 1 / scale[o + i]
          for j in 0..<nb { block[i * nb + j] = -jac[(o + i) * n + o + j] * scale[o + j] * ri }
          block[i * nb + i] += inv
        }
        guard luFactor(block, nb, piv + o) else { return false }
      }
    } else if let sp = linearSparse {
      for e in 0..<sp.entryCount {
        let p = sp.entryAt[e], i = sp.entryRow[e], j = sp.entryColumn[e]
        lu[p] = -jac[p] * scale[j] * (1 / scale[i]) + (i == j ? inv : 0)
      }
      if !sp.factor(lu) {
        linearSparse = nil
        stats.sparseFallbacks += 1
      }
    }
    if linearSparse == nil && linearBlocks == nil {
      for i in 0..<n {
        let ri = 1 / scale[i]
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
    for i in 0..<n { x[i] /= scale[i] }
    if let (nb, count) = linearBlocks {
      luSolve(lu, nb, piv, x)
      for b in 1..<count {
        let o = b * nb
        for i in 0..<nb {
          var acc = 0.0
          let row = (o + i) * n, ri = 1 / scale[o + i]
          for j in 0..<nb where jac[row + j] != 0 { acc -= jac[row + j] * scale[j] * ri * x[j] }
          x[o + i] -= acc
        }
        luSolve(lu + b * nb * nb, nb, piv + o, x + o)
      }
    } else if let sp = linearSparse {
      sp.solve(lu, x)
    } else {
      luSolve(lu, n, piv, x)
    }
    for i in 0..<n { x[i] *= scale[i] }
    stats.linearSolves += 1
  }
}
