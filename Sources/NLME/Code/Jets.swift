import RealModule

/// Second-order jets in n directions: beside a value x, its first derivatives ∂x/∂u_a and its
/// second derivatives ∂²x/∂u_a∂u_b for the pairs a ≥ b with b below `full` (packed row by
/// row). The first `full` directions are the ETAs, whose second derivatives are all kept; any
/// further directions are parameters (the estimated THETAs and SIGMAs of an analytic gradient,
/// ``FirstOrderObjective/gradient(_:_:fit:directions:predictor:)``), whose second derivatives
/// are kept only across an ETA: every second-order number depends only on its own pair and the
/// first derivatives, so the truncated jets are exact where they are kept. `width` = n + the
/// number of pairs. Forward-mode differentiation of the abbreviated code: running a program on
/// jets (``LinkedProgram/runJets(_:_:_:)``) gives exact derivatives of everything it computes,
/// and running `$DES` on jets gives the right-hand side of the first- and second-order forward
/// sensitivity equations (Hairer, Nørsett & Wanner, Solving ODEs I, §I.14; the jets of DADT
/// are J·S + ∂f/∂p·∂p/∂η and its derivative).
struct JetShape: Sendable, Equatable {
  let n: Int
  /// The leading directions whose pairs among themselves are all kept.
  let full: Int

  /// Jets in n directions, all second derivatives kept.
  init(n: Int) { self.init(n: n, full: n) }

  init(n: Int, full: Int) {
    precondition(full >= 0 && full <= n, "jets in \(n) directions, \(full) of them full")
    self.n = n
    self.full = full
  }

  var width: Int { n + full * (full + 1) / 2 + (n - full) * full }

  /// The last second index b of row a (its pairs are b in 0...last(a)); −1 when a row is empty.
  @inline(__always)
  func last(_ a: Int) -> Int { Swift.min(a, full - 1) }

  /// The position of ∂²/∂u_a∂u_b among a jet's numbers (one of a and b below `full`).
  @inline(__always)
  func pair(_ a: Int, _ b: Int) -> Int {
    let (hi, lo) = a >= b ? (a, b) : (b, a)
    precondition(lo < full, "the pair (\(a), \(b)) is not kept")
    return n + (hi < full ? hi * (hi + 1) / 2 : full * (full + 1) / 2 + (hi - full) * full) + lo
  }

  /// r = x·y (r may be x or y).
  @inline(__always)
  func multiply(
    _ x: Double, _ dx: UnsafePointer<Double>, _ y: Double, _ dy: UnsafePointer<Double>, _ r: UnsafeMutablePointer<Double>
  ) {
    var p = n
    // Second derivatives first: they read the first derivatives of x and y.
    for a in 0..<n {
      for b in 0..<(last(a) + 1) {
        r[p] = dx[p] * y + dx[a] * dy[b] + dx[b] * dy[a] + x * dy[p]
        p += 1
      }
    }
    for a in 0..<n { r[a] = dx[a] * y + x * dy[a] }
  }

  /// r = x/y with value q = x/y already computed (r may be x or y).
  @inline(__always)
  func divide(_ q: Double, _ dx: UnsafePointer<Double>, _ y: Double, _ dy: UnsafePointer<Double>, _ r: UnsafeMutablePointer<Double>) {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { buffer in
      guard let first = buffer.baseAddress else { return }
      for a in 0..<n { first[a] = (dx[a] - q * dy[a]) / y }
      var p = n
      for a in 0..<n {
        for b in 0..<(last(a) + 1) {
          r[p] = (dx[p] - first[a] * dy[b] - first[b] * dy[a] - q * dy[p]) / y
          p += 1
        }
      }
      for a in 0..<n { r[a] = first[a] }
    }
  }

  /// r = φ(x) from φ′(x) and φ″(x) (the chain rule; r may be x).
  @inline(__always)
  func chain(_ d1: Double, _ d2: Double, _ dx: UnsafePointer<Double>, _ r: UnsafeMutablePointer<Double>) {
    var p = n
    for a in 0..<n {
      for b in 0..<(last(a) + 1) {
        r[p] = d1 * dx[p] + d2 * dx[a] * dx[b]
        p += 1
      }
    }
    for a in 0..<n { r[a] = d1 * dx[a] }
  }

  /// Whether every derivative is zero.
  @inline(__always)
  func isConstant(_ dx: UnsafePointer<Double>) -> Bool {
    for i in 0..<width where dx[i] != 0 { return false }
    return true
  }

  /// φ′ and φ″ of the code's functions (by their index in ``Expr/Function``), at x with value
  /// v = φ(x); nil for LGAMMA, whose derivatives are not available.
  static func derivatives(_ f: Int, _ x: Double, _ v: Double) -> (Double, Double)? {
    switch f {
    case 0: return (v, v)
    case 1: return (1 / x, -1 / (x * x))
    case 2:
      let l = Double.log(10.0)
      return (1 / (x * l), -1 / (x * x * l))
    case 3: return (0.5 / v, -0.25 / (v * x))
    case 4: return (x < 0 ? -1 : 1, 0)
    case 5: return (Double.cos(x), -v)
    case 6: return (-Double.sin(x), -v)
    case 7: return (1 + v * v, 2 * v * (1 + v * v))
    case 8: return (1 / (1 + x * x), -2 * x / ((1 + x * x) * (1 + x * x)))
    case 9: return (0, 0)
    case 10:
      let pdf = Double.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
      return (pdf, -x * pdf)
    default: return nil
    }
  }
}

extension LinkedProgram {
  /// Runs on values `m` exactly as ``run(_:)`` does (the same operations, so the same values
  /// to the bit), and on their jets `d` (address k's jet at `d[k·width]`). False where a
  /// derivative is not available (LGAMMA of a value that depends on η).
  func runJets(_ m: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ shape: JetShape) -> Bool {
    let w = shape.width
    return code.withUnsafeBufferPointer { code in
      var pc = 0
      let end = code.count
      var ok = true
      while pc < end {
        let ins = code[pc]
        pc += 1
        let r = Int(ins.result)
        let a = Int(ins.a)
        let b = Int(ins.b)
        let dr = d + r * w
        let da = d + a * w
        let db = d + b * w
        switch ins.op {
        case .store:
          m[r] = m[a]
          if r != a { dr.update(from: da, count: w) }
        case .add:
          m[r] = m[a] + m[b]
          for i in 0..<w { dr[i] = da[i] + db[i] }
        case .subtract:
          m[r] = m[a] - m[b]
          for i in 0..<w { dr[i] = da[i] - db[i] }
        case .multiply:
          let (x, y) = (m[a], m[b])
          m[r] = x * y
          shape.multiply(x, da, y, db, dr)
        case .divide:
          let y = m[b]
          m[r] = m[a] / y
          shape.divide(m[r], da, y, db, dr)
        case .negate:
          m[r] = -m[a]
          for i in 0..<w { dr[i] = -da[i] }
        case .not:
          m[r] = m[a] != 0 ? 0 : 1
          dr.update(repeating: 0, count: w)
        case .call:
          let x = m[a]
          let v = Program.call(b, x)
          m[r] = v
          if shape.isConstant(da) {
            dr.update(repeating: 0, count: w)
          } else if let (d1, d2) = JetShape.derivatives(b, x, v) {
            shape.chain(d1, d2, da, dr)
          } else {
            ok = false
          }
        case .jumpIfFalse: if m[a] == 0 { pc = r }
        case .jump: pc = r
        case .constant, .load: break
        case .power:
          let (x, y) = (m[a], m[b])
          let v = Program.binary(.power, x, y)
          m[r] = v
          shape.power(x, y, v, da, db, dr)
        default:
          m[r] = Program.binary(ins.op, m[a], m[b])
          dr.update(repeating: 0, count: w)
        }
      }
      return ok
    }
  }
}

extension JetShape {
  /// The jet of v = x^y: with a constant exponent the chain rule of x ↦ x^y; otherwise that of
  /// exp(y·log x).
  func power(
    _ x: Double, _ y: Double, _ v: Double, _ dx: UnsafePointer<Double>, _ dy: UnsafePointer<Double>, _ r: UnsafeMutablePointer<Double>
  ) {
    let shape = self
    let w = shape.width
    if shape.isConstant(dy) {
      if shape.isConstant(dx) {
        r.update(repeating: 0, count: w)
        return
      }
      // Integer exponents as the value takes them (a negative base stays allowed).
      func pow(_ e: Double) -> Double { e == e.rounded() && Swift.abs(e) <= 64 ? Double.pow(x, Int(e)) : Double.pow(x, e) }
      let d1 = y == 0 ? 0 : y * pow(y - 1)
      let d2 = y == 0 || y == 1 ? 0 : y * (y - 1) * pow(y - 2)
      shape.chain(d1, d2, dx, r)
      return
    }
    // A constant base 0 (a concentration before the first dose): 0^y = 0 for y > 0 with
    // every derivative in y, x^y·(log x)^k, tending to 0 (the formula below would give 0·∞).
    if x == 0 && y > 0 && shape.isConstant(dx) {
      r.update(repeating: 0, count: w)
      return
    }
    // g = y·log x; v = e^g: v′ = v·g′, v″ = v·(g″ + g′g′ᵀ).
    let n = shape.n
    let logX = Double.log(x)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: w) { buffer in
      guard let g = buffer.baseAddress else { return }
      for a in 0..<n { g[a] = dy[a] * logX + y * dx[a] / x }
      var p = n
      for a in 0..<n {
        for b in 0..<(shape.last(a) + 1) {
          g[p] = dy[p] * logX + (dy[a] * dx[b] + dy[b] * dx[a]) / x + y * (dx[p] / x - dx[a] * dx[b] / (x * x))
          p += 1
        }
      }
      p = n
      for a in 0..<n {
        for b in 0..<(shape.last(a) + 1) {
          r[p] = v * (g[p] + g[a] * g[b])
          p += 1
        }
      }
      for a in 0..<n { r[a] = v * g[a] }
    }
  }
}
