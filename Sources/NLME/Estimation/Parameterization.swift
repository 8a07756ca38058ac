import RealModule
import StatKit

/// The estimated parameters of a control stream and their two scales:
/// - the optimiser's unconstrained-ish vector x: THETA divided by the magnitude of its initial
///   value (bounds likewise), and each estimated Ω/Σ block by its Cholesky factor relative to
///   the initial one (log of the diagonal ratios, off-diagonal elements as they are), so every
///   coordinate is of order one and Ω stays positive definite;
/// - the natural scale of the covariance step: THETA, then the variances and covariances of
///   each estimated block, in NONMEM's order (THETA, OMEGA lower triangle, SIGMA).
public struct Parameterization: Sendable {
  public let initial: PopulationParameters
  let thetaFixed: [Bool]
  let thetaScale: [Double]
  let thetaLower: [Double]
  let thetaUpper: [Double]
  /// Estimated Ω and Σ blocks: offset into the full matrix, size, diagonal or block, and the
  /// Cholesky factor of the initial block.
  struct Block: Sendable {
    var sigma: Bool
    var offset: Int
    var size: Int
    var full: Bool
    var initialCholesky: [Double]
    /// Later SAME blocks that copy this one.
    var copies: [Int]
  }
  let blocks: [Block]
  let nEta: Int
  let nEps: Int

  public init(_ stream: ControlStream) {
    let thetas = stream.thetas
    thetaFixed = thetas.map(\.fixed)
    thetaScale = thetas.map { max(abs($0.initial), 1e-3) }
    thetaLower = thetas.map(\.lower)
    thetaUpper = thetas.map(\.upper)
    nEta = stream.etaCount
    nEps = stream.epsCount
    initial = PopulationParameters(
      theta: thetas.map(\.initial), omega: ControlStream.matrix(stream.omegas), sigma: ControlStream.matrix(stream.sigmas))
    var blocks: [Block] = []
    for (sigma, list) in [(false, stream.omegas), (true, stream.sigmas)] {
      var offset = 0
      var lastEstimated: Int? = nil
      for b in list {
        if b.same, let last = lastEstimated {
          blocks[last].copies.append(offset)
        } else if !b.fixed {
          // A diagonal record of several variances is that many 1×1 blocks.
          let pieces = b.block ? [(offset, b.size)] : (0..<b.size).map { (offset + $0, 1) }
          for (o, size) in pieces {
            let full = sigma ? initial.sigma : initial.omega
            let n = sigma ? nEps : nEta
            var sub = [Double](repeating: 0, count: size * size)
            for i in 0..<size { for j in 0..<size { sub[i * size + j] = full[(o + i) * n + o + j] } }
            let l = cholesky(sub, size) ?? [Double](repeating: 1, count: size * size)
            blocks.append(Block(sigma: sigma, offset: o, size: size, full: b.block, initialCholesky: l, copies: []))
          }
          lastEstimated = b.block ? blocks.count - 1 : nil
        } else {
          lastEstimated = nil
        }
        offset += b.size
      }
    }
    self.blocks = blocks
  }

  /// The number of estimated parameters.
  public var count: Int { thetaFixed.filter { !$0 }.count + blocks.reduce(0) { $0 + $1.size * ($1.size + 1) / 2 } }

  /// x of the initial estimates.
  public var start: [Double] {
    var x: [Double] = []
    for k in thetaFixed.indices where !thetaFixed[k] { x.append(initial.theta[k] / thetaScale[k]) }
    for b in blocks { x += [Double](repeating: 0, count: b.size * (b.size + 1) / 2) }
    return x
  }

  public var lower: [Double] {
    var x: [Double] = []
    for k in thetaFixed.indices where !thetaFixed[k] { x.append(thetaLower[k] / thetaScale[k]) }
    for b in blocks { x += [Double](repeating: -.infinity, count: b.size * (b.size + 1) / 2) }
    return x
  }

  public var upper: [Double] {
    var x: [Double] = []
    for k in thetaFixed.indices where !thetaFixed[k] { x.append(thetaUpper[k] / thetaScale[k]) }
    for b in blocks { x += [Double](repeating: .infinity, count: b.size * (b.size + 1) / 2) }
    return x
  }

  /// The parameters at x.
  public func parameters(_ x: [Double]) -> PopulationParameters {
    var p = initial
    var i = 0
    for k in thetaFixed.indices where !thetaFixed[k] {
      p.theta[k] = x[i] * thetaScale[k]
      i += 1
    }
    for b in blocks {
      // L = L0 with diagonal scaled by exp(x) and off-diagonal shifted by x·L0 diagonal.
      var l = [Double](repeating: 0, count: b.size * b.size)
      for r in 0..<b.size {
        for c in 0...r {
          let l0 = b.initialCholesky[r * b.size + c]
          if r == c {
            l[r * b.size + c] = l0 * Double.exp(x[i])
          } else {
            l[r * b.size + c] = l0 + x[i] * b.initialCholesky[c * b.size + c]
          }
          i += 1
        }
      }
      let n = b.sigma ? nEps : nEta
      for target in [b.offset] + b.copies {
        for r in 0..<b.size {
          for c in 0..<b.size {
            var s = 0.0
            for k in 0..<b.size { s += l[r * b.size + k] * l[c * b.size + k] }
            if b.sigma { p.sigma[(target + r) * n + target + c] = s } else { p.omega[(target + r) * n + target + c] = s }
          }
        }
      }
    }
    return p
  }

  // MARK: Gradients

  /// The directions of an analytic gradient: the estimated THETAs, and the lower-triangle
  /// elements of the estimated Σ blocks (with their SAME copies).
  var jetDirections: JetDirections {
    var d = JetDirections()
    d.theta = thetaFixed.indices.filter { !thetaFixed[$0] }
    for b in blocks where b.sigma {
      for target in [b.offset] + b.copies { for r in 0..<b.size { for c in 0...r { d.sigma.append((target + r, target + c)) } } }
    }
    return d
  }

  /// ∂OFV/∂x from the derivatives in the parameters element by element (``SubjectGradient``:
  /// THETA by index, the full Ω and Σ): through θ = x·scale, and for each block through
  /// M = L Lᵀ with L's diagonal L0·e^x and its off-diagonal L0 + x·L0_cc.
  func chain(_ x: [Double], _ gradient: SubjectGradient) -> [Double] {
    let (theta, omega, sigma) = (gradient.theta, gradient.omega, gradient.sigma)
    precondition(x.count == count && theta.count == thetaFixed.count, "gradient of \(x.count) parameters")
    var out: [Double] = []
    out.reserveCapacity(count)
    for k in thetaFixed.indices where !thetaFixed[k] { out.append(theta[k] * thetaScale[k]) }
    var i = out.count
    for b in blocks {
      let size = b.size
      let g = b.sigma ? sigma : omega
      let n = b.sigma ? nEps : nEta
      var l = [Double](repeating: 0, count: size * size)
      var positions: [(Int, Int)] = []
      for r in 0..<size {
        for c in 0...r {
          let l0 = b.initialCholesky[r * size + c]
          l[r * size + c] = r == c ? l0 * Double.exp(x[i + positions.count]) : l0 + x[i + positions.count] * b.initialCholesky[c * size + c]
          positions.append((r, c))
        }
      }
      for (r, c) in positions {
        // dL has the single entry δ at (r, c); dM = dL Lᵀ + L dLᵀ, and G is symmetric.
        let delta = r == c ? l[r * size + c] : b.initialCholesky[c * size + c]
        var sum = 0.0
        for target in [b.offset] + b.copies {
          for v in c..<size { sum += 2 * g[(target + r) * n + target + v] * l[v * size + c] }
        }
        out.append(delta * sum)
      }
      i += positions.count
    }
    return out
  }

  /// The gradient on the natural scale (``natural(_:)``): THETA as it is; an element of Ω or
  /// Σ sets itself, its mirror and its SAME copies, so it has the sum of their derivatives.
  func naturalGradient(_ gradient: SubjectGradient) -> [Double] {
    var out: [Double] = []
    out.reserveCapacity(count)
    for k in thetaFixed.indices where !thetaFixed[k] { out.append(gradient.theta[k]) }
    for b in blocks {
      let g = b.sigma ? gradient.sigma : gradient.omega
      let n = b.sigma ? nEps : nEta
      for r in 0..<b.size {
        for c in 0...r {
          var sum = 0.0
          for t in [b.offset] + b.copies {
            sum += g[(t + r) * n + t + c]
            if r != c { sum += g[(t + c) * n + t + r] }
          }
          out.append(sum)
        }
      }
    }
    return out
  }

  // MARK: Natural scale

  /// The estimated parameters on their natural scale, with NONMEM's names.
  public func natural(_ p: PopulationParameters) -> [Double] {
    var v: [Double] = []
    for k in thetaFixed.indices where !thetaFixed[k] { v.append(p.theta[k]) }
    for b in blocks {
      let n = b.sigma ? nEps : nEta
      let m = b.sigma ? p.sigma : p.omega
      for r in 0..<b.size { for c in 0...r { v.append(m[(b.offset + r) * n + b.offset + c]) } }
    }
    return v
  }

  public var names: [String] {
    var v: [String] = []
    for k in thetaFixed.indices where !thetaFixed[k] { v.append("THETA(\(k + 1))") }
    for b in blocks {
      for r in 0..<b.size { for c in 0...r { v.append("\(b.sigma ? "SIGMA" : "OMEGA")(\(b.offset + r + 1),\(b.offset + c + 1))") } }
    }
    return v
  }

  /// The parameters with the natural-scale values `v` put in (the inverse of ``natural(_:)``).
  public func withNatural(_ v: [Double], base: PopulationParameters) -> PopulationParameters {
    var p = base
    var i = 0
    for k in thetaFixed.indices where !thetaFixed[k] {
      p.theta[k] = v[i]
      i += 1
    }
    for b in blocks {
      let n = b.sigma ? nEps : nEta
      for r in 0..<b.size {
        for c in 0...r {
          for target in [b.offset] + b.copies {
            let a = (target + r) * n + target + c
            let t = (target + c) * n + target + r
            if b.sigma {
              p.sigma[a] = v[i]
              p.sigma[t] = v[i]
            } else {
              p.omega[a] = v[i]
              p.omega[t] = v[i]
            }
          }
          i += 1
        }
      }
    }
    return p
  }

  /// The x of parameters p (inverse of ``parameters(_:)``), for restarting from them.
  public func x(_ p: PopulationParameters) -> [Double]? {
    var x: [Double] = []
    for k in thetaFixed.indices where !thetaFixed[k] { x.append(p.theta[k] / thetaScale[k]) }
    for b in blocks {
      let n = b.sigma ? nEps : nEta
      let m = b.sigma ? p.sigma : p.omega
      var sub = [Double](repeating: 0, count: b.size * b.size)
      for r in 0..<b.size { for c in 0..<b.size { sub[r * b.size + c] = m[(b.offset + r) * n + b.offset + c] } }
      guard let l = cholesky(sub, b.size) else { return nil }
      for r in 0..<b.size {
        for c in 0...r {
          let l0 = b.initialCholesky[r * b.size + c]
          let d0 = b.initialCholesky[c * b.size + c]
          x.append(r == c ? Double.log(l[r * b.size + c] / l0) : (l[r * b.size + c] - l0) / d0)
        }
      }
    }
    return x
  }
}
