import Foundation
import SBMLDocument

/// The past of a simulation, for `delay(x, τ)`: every state the integrator reports (accepted
/// steps, and both sides of each event) with its derivative, interpolated by cubic Hermite
/// polynomials. Before the start, the past is the initial assignments and rules evaluated
/// at the earlier time ("the model has been running like this"), so a constant initial
/// value gives a constant history and `x = sin(time)` a sine.
public final class DelayHistory: DelayEvaluator, @unchecked Sendable {
  let compiled: CompiledSBML
  let n: Int
  var t0 = 0.0
  /// Values after initialization (constants, initial assignments), the base of every
  /// evaluation in the past.
  var base: [Double] = []
  var ts: [Double] = []
  var us: [Double] = []
  var fs: [Double] = []
  /// Scratch value arrays, one per nesting depth.
  var scratch: [UnsafeMutablePointer<Double>] = []
  var depth = 0
  var u: [Double]

  init(_ compiled: CompiledSBML) {
    self.compiled = compiled
    n = compiled.states.count
    u = Array(repeating: 0, count: n)
    base = compiled.initial
  }
  deinit { for s in scratch { s.deallocate() } }

  func reset(t0: Double, base: UnsafeMutablePointer<Double>, count: Int) {
    precondition(count == compiled.initial.count)
    self.t0 = t0
    self.base = Array(UnsafeBufferPointer(start: base, count: count))
    ts.removeAll(keepingCapacity: true)
    us.removeAll(keepingCapacity: true)
    fs.removeAll(keepingCapacity: true)
  }

  func record(_ t: Double, _ u: UnsafeBufferPointer<Double>, _ f: [Double]) {
    if let last = ts.last {
      if t < last { return }
      // The same point again (no jump): nothing new.
      if t == last {
        var same = true
        for i in 0..<n where us[us.count - n + i] != u[i] {
          same = false
          break
        }
        if same { return }
      }
    }
    ts.append(t)
    us.append(contentsOf: u)
    fs.append(contentsOf: f)
  }

  /// The state at `t` into `u` (the history must not be empty).
  func state(at t: Double) {
    let m = ts.count
    var i: Int
    if t >= ts[m - 1] {
      i = m - 1
      // Extrapolate with the last proper segment.
      while i > 0 && ts[i - 1] == ts[m - 1] { i -= 1 }
      if i == 0 {
        for k in 0..<n { u[k] = us[(m - 1) * n + k] }
        return
      }
      hermite(t, i - 1, m - 1)
      return
    }
    // Largest i with ts[i] <= t (the post-jump record at an event time).
    var lo = 0, hi = m - 1
    while hi - lo > 1 {
      let mid = (lo + hi) / 2
      if ts[mid] <= t { lo = mid } else { hi = mid }
    }
    i = ts[hi] <= t ? hi : lo
    if t < ts[0] { i = 0 }
    hermite(t, i, i + 1)
  }

  func hermite(_ t: Double, _ a: Int, _ b: Int) {
    let h = ts[b] - ts[a]
    guard h > 0 else {
      for k in 0..<n { u[k] = us[b * n + k] }
      return
    }
    let s = (t - ts[a]) / h, s2 = s * s, s3 = s2 * s
    let h00 = 2 * s3 - 3 * s2 + 1, h10 = s3 - 2 * s2 + s, h01 = -2 * s3 + 3 * s2, h11 = s3 - s2
    for k in 0..<n {
      u[k] = h00 * us[a * n + k] + h10 * h * fs[a * n + k] + h01 * us[b * n + k] + h11 * h * fs[b * n + k]
    }
  }

  public func delayed(_ index: Int, _ v: UnsafeMutablePointer<Double>, tau: Double) -> Double {
    let spec = compiled.delays[index]
    // No delay (or too deep a chain of delays within delays): the current value.
    guard tau > 0, depth < 8 else {
      spec.now.run(v, delay: self)
      return v[spec.slot]
    }
    let tp = v[0] - tau
    depth += 1
    defer { depth -= 1 }
    while scratch.count < depth { scratch.append(.allocate(capacity: base.count)) }
    let w = scratch[depth - 1]
    base.withUnsafeBufferPointer { w.update(from: $0.baseAddress!, count: base.count) }
    w[0] = tp
    if tp < t0 || (ts.isEmpty && n > 0) {
      spec.before.run(w, delay: self)
    } else {
      if n > 0 { state(at: tp) }
      let load = compiled.loadSlots
      for k in 0..<n { w[load[k]] = u[k] }
      spec.past.run(w, delay: self)
    }
    return w[spec.slot]
  }
}
