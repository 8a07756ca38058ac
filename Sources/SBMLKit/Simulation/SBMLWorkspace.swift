import Foundation
import ODEKit
import SBMLDocument

/// Scratch memory for evaluating a compiled SBML model: the value array (time, every
/// symbol, temporaries). One per simulation; not shared between threads.
public final class SBMLWorkspace: @unchecked Sendable {
  public let values: UnsafeMutablePointer<Double>
  public let count: Int
  /// The point the values were last computed for by `evaluateCached`: time, validity flag
  /// (1 = valid), then the state.
  public let cache: UnsafeMutablePointer<Double>
  let stateCount: Int
  init(_ initial: [Double], states: Int) {
    count = initial.count
    stateCount = states
    values = .allocate(capacity: count)
    values.initialize(from: initial, count: count)
    cache = .allocate(capacity: states + 2)
    cache.initialize(repeating: 0, count: states + 2)
  }
  /// The history of a model with `delay(x, τ)`.
  public var delays: DelayHistory?
  deinit {
    values.deallocate()
    cache.deallocate()
  }
}
