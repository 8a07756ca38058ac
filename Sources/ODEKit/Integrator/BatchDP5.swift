import RealModule

/// The right-hand sides of `lanes` copies of one system (the patients of one model) evaluated
/// together. Every array is lane-minor: component `i` of lane `l` is at `u[i·lanes + l]`, so a
/// loop over the lanes of one component runs over contiguous memory and vectorises.
public protocol BatchODESystem {
  /// Components per lane.
  var dimension: Int { get }
  var lanes: Int { get }
  /// Writes `f(t, u)` of every lane into `du` (both `dimension·lanes` long, lane-minor).
  func rhs(t: Double, u: UnsafePointer<Double>, du: UnsafeMutablePointer<Double>)
}

/// The end of a lock-step run (``solveBatchDP5(_:u0:tspan:options:detectStiffness:)``).
public struct BatchSolution: Sendable {
  /// `.success`, or why the run stopped (`.maxSteps`, `.stepSizeTooSmall`, `.unstable`, or
  /// `.interrupted` when a lane became stiff, see ``stiff``).
  public var returnCode: ReturnCode
  /// A lane's stiffness test fired: DP5 would be limited by stability, not accuracy, and the
  /// caller should integrate the lanes one by one with a method that switches.
  public var stiff = false
  /// The output times reached, and for each the state of every lane (lane-minor).
  public var t: [Double] = []
  public var values: [Double] = []
  /// Where the run stopped, and the state of every lane there.
  public var finalTime: Double
  public var finalState: [Double]
  /// The work of the batch: every lane took each of these steps and evaluations.
  public var stats = SolverStats()
}

/// Lock-step Dormand–Prince 5(4) for a batch of systems of one model: all lanes take the same
/// steps, each step is accepted when the error norm of every lane is within the tolerance, and
/// the step size follows the largest error. This is the scalar DP5 of ``solve(_:method:options:)``
/// (the same tableau, error norm, PI controller with dopri5's exponents, Hairer's starting step
/// and dense output) with `max` over the lanes wherever the scalar method reads one error, so
/// every lane is integrated at least as accurately as it would be alone, at the cost of the
/// steps its hardest lane needs.
///
/// Discontinuities must be known in advance and the same for every lane: at each time of
/// `stops` (ascending, inside the span) the integration lands exactly, `jump(k, t, u)` changes
/// the state of the lanes (a dose, an SBML event at a known time), the outputs at that time
/// show the state after it, and the method starts again there as the scalar one does after an
/// event. State events located per lane are not supported. With `detectStiffness`, Hairer's stiffness
/// test runs per lane as in `.auto`, and the first lane found stiff ends the run
/// (``BatchSolution/stiff``). `options` supplies `rtol`, `atol` (one per component or one for
/// all), `saveAt`, `maxSteps`, `minStep`, `maxStep`, `initialStep` and `nonNegative`.
public func solveBatchDP5<S: BatchODESystem>(
  _ system: S, u0: [Double], tspan: (start: Double, end: Double), options o: SolverOptions, detectStiffness: Bool,
  stops: [Double] = [], jump: (Int, Double, UnsafeMutablePointer<Double>) -> Void = { _, _, _ in }
) -> BatchSolution {
  typealias T = DormandPrince5
  let n = system.dimension, L = system.lanes, N = n * L
  precondition(n > 0 && L > 0 && u0.count == N, "u0 holds dimension × lanes values")
  precondition(o.atol.count == 1 || o.atol.count == n, "one absolute tolerance per component, or one for all")
  let t0 = tspan.start, tEnd = tspan.end
  precondition(
    zip(stops, stops.dropFirst()).allSatisfy { $0 < $1 } && stops.allSatisfy { $0 > t0 && $0 <= tEnd }, "stops ascend inside the span")
  // Work arrays: u, uNew, tmp, k1…k7, five dense-output rows, the absolute tolerances.
  let work = UnsafeMutablePointer<Double>.allocate(capacity: 16 * N)
  work.initialize(repeating: 0, count: 16 * N)
  defer { work.deallocate() }
  let u = work, uNew = work + N, tmp = work + 2 * N
  var k1 = work + 3 * N, k7 = work + 9 * N
  let k2 = work + 4 * N, k3 = work + 5 * N, k4 = work + 6 * N, k5 = work + 7 * N, k6 = work + 8 * N
  let dense = work + 10 * N, atol = work + 15 * N
  for i in 0..<n {
    for l in 0..<L { atol[i * L + l] = o.atol.count == 1 ? o.atol[0] : o.atol[i] }
  }
  u0.withUnsafeBufferPointer { u.update(from: $0.baseAddress!, count: N) }
  let rtol = o.rtol
  // Per-lane sums: error, stiffness numerator, stiffness denominator.
  let lane = UnsafeMutablePointer<Double>.allocate(capacity: 3 * L)
  lane.initialize(repeating: 0, count: 3 * L)
  defer { lane.deallocate() }
  var stiffCount = [Int](repeating: 0, count: L), nonstiffCount = [Int](repeating: 0, count: L)

  var result = BatchSolution(returnCode: .success, finalTime: t0, finalState: u0)
  var t = t0
  func f(_ time: Double, _ x: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
    system.rhs(t: time, u: x, du: out)
    result.stats.rhsEvaluations += 1
  }
  /// The RMS over the components of each lane of `x[i·L + l] / (atol + rtol·|u|)`; the largest.
  func largestNorm(_ x: (Int) -> Double) -> Double {
    for l in 0..<L { lane[l] = 0 }
    for i in 0..<n {
      for l in 0..<L {
        let j = i * L + l
        let r = x(j) / (atol[j] + rtol * abs(u[j]))
        lane[l] += r * r
      }
    }
    var m = 0.0
    for l in 0..<L { m = max(m, (lane[l] / Double(n)).squareRoot()) }
    return m
  }

  // Outputs at the start.
  var nextOut = 0
  let saveAt = o.saveAt
  while nextOut < saveAt.count && saveAt[nextOut] < t0 { nextOut += 1 }
  while nextOut < saveAt.count && saveAt[nextOut] == t0 {
    result.t.append(t0)
    result.values.append(contentsOf: UnsafeBufferPointer(start: u, count: N))
    nextOut += 1
  }
  guard tEnd > t0 else { return result }

  /// Hairer's starting step towards `tb` (as the scalar method's), the smallest over the
  /// lanes; leaves f(t, u) in k1.
  func startingStep(to tb: Double) -> Double {
    f(t, u, k1)
    if let h0 = o.initialStep { return min(h0, tb - t) }
    let d0 = largestNorm { u[$0] }, d1 = largestNorm { k1[$0] }
    var h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
    h0 = min(h0, tb - t, o.maxStep)
    for j in 0..<N { tmp[j] = u[j] + h0 * k1[j] }
    f(t + h0, tmp, k2)
    let d2 = largestNorm { k2[$0] - k1[$0] } / h0
    let h1 = max(d1, d2) <= 1e-15 ? max(1e-6, h0 * 1e-3) : Double.pow(0.01 / max(d1, d2), 1.0 / 5)
    var h = min(100 * h0, h1, tb - t, o.maxStep)
    if !h.isFinite || h <= 0 { h = min(tb - t, 1e-6) }
    return min(max(h, 10 * max(o.minStep, 4 * t.ulp.magnitude, 1e-300)), tb - t)
  }

  var errOld = 1.0, lastRejected = false, lastWasNaN = false
  var fsalValid = true
  var stop = 0
  var tb = stops.first ?? tEnd
  var h = startingStep(to: tb)
  segments: while true {
    if t >= tb {
      // At a stop: the jump, the outputs at its time, and a fresh start.
      guard stop < stops.count, t == stops[stop] else { break }
      jump(stop, t, u)
      result.stats.events += 1
      while nextOut < saveAt.count && saveAt[nextOut] <= t {
        result.t.append(saveAt[nextOut])
        result.values.append(contentsOf: UnsafeBufferPointer(start: u, count: N))
        nextOut += 1
      }
      stop += 1
      tb = stop < stops.count ? stops[stop] : tEnd
      if t >= tb { continue }
      h = startingStep(to: tb)
      fsalValid = true
      errOld = 1
      lastRejected = false
    }
    if result.stats.steps >= o.maxSteps {
      result.returnCode = .maxSteps
      break
    }
    h = min(h, o.maxStep)
    if t + h >= tb || t + 1.01 * h >= tb { h = tb - t }
    let minStep = max(o.minStep, 4 * t.ulp.magnitude, 1e-300)
    if tb - t < minStep {
      t = tb
      continue
    }
    if h < minStep {
      // The scalar `auto` would turn to Rodas4 here.
      result.returnCode = lastWasNaN ? .unstable : detectStiffness ? .interrupted : .stepSizeTooSmall
      result.stiff = detectStiffness && !lastWasNaN
      break
    }
    if !fsalValid {
      f(t, u, k1)
      fsalValid = true
    }
    for j in 0..<N { tmp[j] = u[j] + h * T.a21 * k1[j] }
    f(t + T.c2 * h, tmp, k2)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a31 * k1[j] + T.a32 * k2[j]) }
    f(t + T.c3 * h, tmp, k3)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a41 * k1[j] + T.a42 * k2[j] + T.a43 * k3[j]) }
    f(t + T.c4 * h, tmp, k4)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a51 * k1[j] + T.a52 * k2[j] + T.a53 * k3[j] + T.a54 * k4[j]) }
    f(t + T.c5 * h, tmp, k5)
    for j in 0..<N { tmp[j] = u[j] + h * (T.a61 * k1[j] + T.a62 * k2[j] + T.a63 * k3[j] + T.a64 * k4[j] + T.a65 * k5[j]) }
    f(t + h, tmp, k6)
    for j in 0..<N { uNew[j] = u[j] + h * (T.b1 * k1[j] + T.b3 * k3[j] + T.b4 * k4[j] + T.b5 * k5[j] + T.b6 * k6[j]) }
    f(t + h, uNew, k7)
    // Per lane: the error norm and Hairer's stiffness quotient ‖k7 − k6‖ / ‖y7 − y6‖.
    for m in 0..<(3 * L) { lane[m] = 0 }
    for i in 0..<n {
      for l in 0..<L {
        let j = i * L + l
        let e = h * (T.e1 * k1[j] + T.e3 * k3[j] + T.e4 * k4[j] + T.e5 * k5[j] + T.e6 * k6[j] + T.e7 * k7[j])
        let sc = atol[j] + rtol * max(abs(u[j]), abs(uNew[j]))
        let dk = (k7[j] - k6[j]) / sc, dy = (uNew[j] - tmp[j]) / sc
        lane[l] += (e / sc) * (e / sc)
        lane[L + l] += dk * dk
        lane[2 * L + l] += dy * dy
      }
    }
    var err = 0.0
    for l in 0..<L {
      let e = (lane[l] / Double(n)).squareRoot()
      err = e > err || e.isNaN ? e : err
    }
    if !err.isFinite {
      result.stats.rejectedSteps += 1
      h *= 0.1
      lastWasNaN = true
      continue
    }
    guard err <= 1 else {
      result.stats.rejectedSteps += 1
      lastRejected = true
      h *= max(0.2, 0.9 * Double.pow(err, -1.0 / 5))
      continue
    }
    // Accept.
    lastWasNaN = false
    result.stats.acceptedSteps += 1
    result.stats.nonstiffSteps += 1
    let tNew = h == tb - t ? tb : t + h
    var clamped = false
    for i in o.nonNegative where i >= 0 && i < n {
      for l in 0..<L where uNew[i * L + l] < 0 {
        uNew[i * L + l] = 0
        clamped = true
      }
    }
    // Outputs inside the step from Shampine's dense output, at the end of the run from the new
    // state (at a stop, after the jump).
    let last = tNew == tb && stop < stops.count ? tNew.nextDown : tNew
    if nextOut < saveAt.count && saveAt[nextOut] <= last {
      for j in 0..<N {
        let du = uNew[j] - u[j], bspl = h * k1[j] - du
        dense[j] = du
        dense[N + j] = bspl
        dense[2 * N + j] = du - h * k7[j] - bspl
        dense[3 * N + j] = h * (T.d1 * k1[j] + T.d3 * k3[j] + T.d4 * k4[j] + T.d5 * k5[j] + T.d6 * k6[j] + T.d7 * k7[j])
      }
      while nextOut < saveAt.count && saveAt[nextOut] <= last {
        let time = saveAt[nextOut]
        if time == tNew && tNew == tb {
          // The end of a segment is taken as reached; inside one, the interpolant is read
          // even at a step's end (as the scalar method does).
          result.values.append(contentsOf: UnsafeBufferPointer(start: uNew, count: N))
        } else {
          let s = (time - t) / h, s1 = 1 - s
          for j in 0..<N {
            tmp[j] = u[j] + s * (dense[j] + s1 * (dense[N + j] + s * (dense[2 * N + j] + s1 * dense[3 * N + j])))
          }
          result.values.append(contentsOf: UnsafeBufferPointer(start: tmp, count: N))
        }
        result.t.append(time)
        nextOut += 1
      }
    }
    if detectStiffness {
      for l in 0..<L where lane[2 * L + l] > 0 {
        if h * (lane[L + l] / lane[2 * L + l]).squareRoot() > 3.25 {
          nonstiffCount[l] = 0
          stiffCount[l] += 1
          if stiffCount[l] >= 15 { result.stiff = true }
        } else {
          nonstiffCount[l] += 1
          if nonstiffCount[l] >= 6 { stiffCount[l] = 0 }
        }
      }
    }
    t = tNew
    u.update(from: uNew, count: N)
    if result.stiff {
      result.returnCode = .interrupted
      break segments
    }
    // FSAL: f(tNew, uNew) is the next step's first stage (stale after a projection).
    if clamped {
      fsalValid = false
    } else {
      swap(&k1, &k7)
    }
    let e = max(err, 1e-10)
    var fac = 0.9 * Double.pow(e, -(1.0 / 5 - 0.03)) * Double.pow(errOld, 0.04)
    fac = min(max(fac, 0.2), lastRejected ? 1 : 6)
    lastRejected = false
    errOld = max(err, 1e-4)
    h *= fac
  }
  // Outputs at the end (reached exactly, or within a sliver too short to step over).
  while result.returnCode == .success && nextOut < saveAt.count && saveAt[nextOut] <= t {
    result.t.append(saveAt[nextOut])
    result.values.append(contentsOf: UnsafeBufferPointer(start: u, count: N))
    nextOut += 1
  }
  result.finalTime = t
  result.finalState = Array(UnsafeBufferPointer(start: u, count: N))
  return result
}
