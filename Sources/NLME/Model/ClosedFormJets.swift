import RealModule

/// The jets of the closed forms with several compartments (ADVAN2–4, 11, 12): A(t + dt) =
/// e^{K dt} A + ∫₀^dt e^{K s} ds · R, the exponential of the augmented matrix [[K dt, R dt],
/// [0, 0]] (``matrixExponential(_:_:)``) followed operation by operation on jets: the same
/// scaling, Padé (6, 6) terms, Gauss–Jordan inverse and squarings, each entry carrying its
/// derivatives. The derivatives are those of the computed exponential, exact to rounding.
extension JetState {
  /// The state's jets from t to t + dt, with K's jets in ``rates`` and the amounts at t.
  /// Infusion rates are constants here (``dose(_:_:compartment:target:rate:lag:_:)`` marks
  /// the subject unsupported otherwise).
  func step(k: [Double], dt: Double, infusion: [Double], amounts: [Double]) {
    let n = amounts.count
    let m = n + 1
    let w = width
    var a = JetMatrix(size: m, width: w)
    for i in 0..<n {
      for j in 0..<n {
        a.values[i * m + j] = k[i * n + j] * dt
        for c in 0..<w { a.jets[(i * m + j) * w + c] = rates[(i * n + j) * w + c] * dt }
      }
      a.values[i * m + n] = infusion[i] * dt
    }
    guard let e = a.exponential(shape) else {
      unsupported = true
      return
    }
    // next_i = E_in + Σ_j E_ij A_j.
    var next = [Double](repeating: 0, count: n * w)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
      guard let product = buffer.baseAddress else { return }
      e.jets.withUnsafeBufferPointer { ej in
        state.withUnsafeBufferPointer { st in
          guard let ej = ej.baseAddress, let st = st.baseAddress else { return }
          for i in 0..<n {
            for c in 0..<w { next[i * w + c] = ej[(i * m + n) * w + c] }
            for j in 0..<n {
              shape.multiply(e.values[i * m + j], ej + (i * m + j) * w, amounts[j], st + j * w, product)
              for c in 0..<w { next[i * w + c] += product[c] }
            }
          }
        }
      }
    }
    for i in 0..<(n * w) { state[i] = next[i] }
  }
}

/// A square matrix of values with their jets (entry (i, j) at (i·size + j)·width).
struct JetMatrix {
  let size: Int
  let width: Int
  var values: [Double]
  var jets: [Double]

  init(size: Int, width: Int) {
    self.size = size
    self.width = width
    values = [Double](repeating: 0, count: size * size)
    jets = [Double](repeating: 0, count: size * size * width)
  }

  static func identity(_ size: Int, width: Int) -> JetMatrix {
    var m = JetMatrix(size: size, width: width)
    for i in 0..<size { m.values[i * size + i] = 1 }
    return m
  }

  /// self·other, summed in the order of ``multiply(_:_:_:_:_:)`` (a zero entry of self with
  /// zero jets is skipped, as the values skip it).
  func times(_ other: JetMatrix, _ shape: JetShape) -> JetMatrix {
    let n = size
    let w = width
    var r = JetMatrix(size: n, width: w)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
      guard let product = buffer.baseAddress else { return }
      jets.withUnsafeBufferPointer { xj in
        other.jets.withUnsafeBufferPointer { yj in
          guard let xj = xj.baseAddress, let yj = yj.baseAddress else { return }
          for i in 0..<n {
            for k in 0..<n {
              let aik = values[i * n + k]
              let daik = xj + (i * n + k) * w
              if aik == 0 && shape.isConstant(daik) { continue }
              for j in 0..<n {
                if aik != 0 { r.values[i * n + j] += aik * other.values[k * n + j] }
                shape.multiply(aik, daik, other.values[k * n + j], yj + (k * n + j) * w, product)
                for c in 0..<w { r.jets[(i * n + j) * w + c] += product[c] }
              }
            }
          }
        }
      }
    }
    return r
  }

  /// The inverse by the Gauss–Jordan elimination of ``inverse(_:_:)`` (the same pivots), or nil
  /// where it is singular.
  func inverse(_ shape: JetShape) -> JetMatrix? {
    let n = size
    let w = width
    var m = self
    var inv = JetMatrix.identity(n, width: w)
    var pivot = [Double](repeating: 0, count: w)
    var factor = [Double](repeating: 0, count: w)
    var product = [Double](repeating: 0, count: w)
    func divide(_ x: inout JetMatrix, _ index: Int, by d: Double, _ dd: [Double]) {
      let q = x.values[index] / d
      x.jets.withUnsafeMutableBufferPointer { xj in
        dd.withUnsafeBufferPointer { dd in
          guard let xj = xj.baseAddress, let dd = dd.baseAddress else { return }
          shape.divide(q, xj + index * w, d, dd, xj + index * w)
        }
      }
      x.values[index] = q
    }
    func subtract(_ x: inout JetMatrix, _ target: Int, _ f: Double, _ df: [Double], _ source: Int) {
      let value = x.values[source]
      x.jets.withUnsafeMutableBufferPointer { xj in
        df.withUnsafeBufferPointer { df in
          product.withUnsafeMutableBufferPointer { p in
            guard let xj = xj.baseAddress, let df = df.baseAddress, let p = p.baseAddress else { return }
            shape.multiply(f, df, value, xj + source * w, p)
            for c in 0..<w { xj[target * w + c] -= p[c] }
          }
        }
      }
      x.values[target] -= f * value
    }
    func swapRows(_ x: inout JetMatrix, _ a: Int, _ b: Int) {
      for j in 0..<n {
        x.values.swapAt(a * n + j, b * n + j)
        for c in 0..<w { x.jets.swapAt((a * n + j) * w + c, (b * n + j) * w + c) }
      }
    }
    for c in 0..<n {
      var p = c
      for r in (c + 1)..<max(c + 1, n) where abs(m.values[r * n + c]) > abs(m.values[p * n + c]) { p = r }
      guard m.values[p * n + c] != 0, m.values[p * n + c].isFinite else { return nil }
      if p != c {
        swapRows(&m, p, c)
        swapRows(&inv, p, c)
      }
      let d = m.values[c * n + c]
      for i in 0..<w { pivot[i] = m.jets[(c * n + c) * w + i] }
      for j in 0..<n {
        divide(&m, c * n + j, by: d, pivot)
        divide(&inv, c * n + j, by: d, pivot)
      }
      for r in 0..<n where r != c {
        let f = m.values[r * n + c]
        for i in 0..<w { factor[i] = m.jets[(r * n + c) * w + i] }
        if f == 0 && factor.allSatisfy({ $0 == 0 }) { continue }
        for j in 0..<n {
          subtract(&m, r * n + j, f, factor, c * n + j)
          subtract(&inv, r * n + j, f, factor, c * n + j)
        }
      }
    }
    return inv
  }

  /// e^self as ``matrixExponential(_:_:)`` computes it, on jets; nil where the Padé
  /// denominator is singular.
  func exponential(_ shape: JetShape) -> JetMatrix? {
    let n = size
    var norm = 0.0
    for i in 0..<n {
      var row = 0.0
      for j in 0..<n { row += abs(values[i * n + j]) }
      norm = max(norm, row)
    }
    guard norm.isFinite else { return nil }
    var squarings = 0
    if norm > 0.5 {
      squarings = max(0, Int(Double.log2(norm).rounded(.up)) + 1)
    }
    let scale = Double.pow(2.0, -Double(squarings))
    var x = self
    for i in x.values.indices { x.values[i] *= scale }
    for i in x.jets.indices { x.jets[i] *= scale }
    let q = 6
    var c = 0.5
    var power = x
    var numerator = JetMatrix.identity(n, width: width)
    var denominator = numerator
    func add(_ target: inout JetMatrix, _ coefficient: Double, _ term: JetMatrix) {
      for i in target.values.indices { target.values[i] += coefficient * term.values[i] }
      for i in target.jets.indices { target.jets[i] += coefficient * term.jets[i] }
    }
    add(&numerator, c, x)
    add(&denominator, -c, x)
    var positive = true
    for k in 2...q {
      c = c * Double(q - k + 1) / Double(k * (2 * q - k + 1))
      power = power.times(x, shape)
      add(&numerator, c, power)
      add(&denominator, positive ? c : -c, power)
      positive.toggle()
    }
    guard var e = denominator.inverse(shape)?.times(numerator, shape) else { return nil }
    for _ in 0..<squarings { e = e.times(e, shape) }
    return e
  }
}
