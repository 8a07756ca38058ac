import RealModule

/// Event handling of the integrator: state-event location and firing, priorities, delayed
/// executions, dose and time-event application, and output recording at discontinuities.
extension _Integrator {
  /// Orders due events by priority (higher first), then index — or, with
  /// ``SolverOptions/tieSeed``, in random order among equal priorities. `idx` names each event once.
  @inlinable
  func byPriority(_ idx: [Int], at te: Double) -> [Int] {
    let events = problem.stateEvents
    let random = opts.tieSeed != nil
    guard idx.count > 1, random || idx.contains(where: { events[$0].priority != nil }) else { return idx.sorted() }
    let ub = UnsafeBufferPointer(start: u, count: n)
    let p = Dictionary(uniqueKeysWithValues: idx.map { ($0, events[$0].priority?(te, ub) ?? 0) })
    var tie: [Int: UInt64] = [:]
    for i in idx { tie[i] = random ? nextRandom() : UInt64(Int.max - i) }
    return idx.sorted { (p[$0]!, tie[$0]!) > (p[$1]!, tie[$1]!) }
  }

  /// The most event executions at one time before the run stops with `.eventCascade`.
  @inlinable var maxEventCascade: Int { 1000 }

  /// SplitMix64 over the tie seed.
  @inlinable
  func nextRandom() -> UInt64 {
    rngState &+= 0x9E37_79B9_7F4A_7C15
    var z = rngState
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Applies the state events `due` at `te` (state in `u`) in priority order, then any
  /// events whose conditions the changes made cross, up to ``maxEventCascade`` executions
  /// (beyond, the run stops with `.eventCascade`). An action may schedule a delayed
  /// execution. Returns `.terminate` if an event asked to stop.
  @inlinable
  func fireStateEvents(_ due: [Int], at te: Double) -> EventOutcome {
    let events = problem.stateEvents
    var queue = byPriority(due, at: te)
    var count = 0
    while !queue.isEmpty {
      guard count < maxEventCascade else {
        eventCascade = true
        return .terminate
      }
      let i = queue.removeFirst()
      count += 1
      let ub = UnsafeBufferPointer(start: u, count: n)
      let before = conditions.indices.map { condition($0, te, ub) }
      var state = Array(ub)
      let outcome = events[i].action(te, &state)
      for k in 0..<n { u[k] = state[k] }
      stats.events += 1
      eventLog.append((te, events[i].label))
      fsalValid = false
      switch outcome {
      case .terminate: return .terminate
      case .schedule(let delay, let payload): schedule(i, at: te + max(delay, 0), payload)
      case .continue: break
      }
      let newly = reactToJump(at: te, before: before, excluding: Set(queue).union([i]))
      // A due event that does not persist drops out once its condition is false.
      let after = UnsafeBufferPointer(start: u, count: n)
      queue.removeAll { events[$0].cancelsWhenFalse && condition($0, te, after) < 0 }
      if !newly.isEmpty || opts.tieSeed != nil { queue = byPriority(queue + newly, at: te) }
    }
    return .continue
  }

  /// Whether a change of `g` from `a` to `b` is a crossing in the event's direction.
  @inlinable
  func crosses(_ direction: StateEvent.Direction, from a: Double, to b: Double) -> Bool {
    let up = a < 0 && b >= 0, down = a > 0 && b <= 0
    switch direction {
    case .up: return up
    case .down: return down
    case .either: return up || down
    }
  }

  /// After an event changed the state at `time` (conditions were `before`): cancels the
  /// scheduled executions of events whose condition fell below zero, and returns the
  /// events the change made cross, except those in `excluded`. A known trigger time's
  /// condition depends on time alone and cannot cross at a jump: only the others are called
  /// (a dosing schedule exported to SBML has a hundred such events, and each dose is a jump).
  @inlinable
  func reactToJump(at time: Double, before: [Double], excluding excluded: Set<Int>) -> [Int] {
    let ub = UnsafeBufferPointer(start: u, count: n)
    var newly: [Int] = []
    for k in conditionIndices where !excluded.contains(k) {
      let after = conditions[k](time, ub)
      if problem.stateEvents[k].cancelsWhenFalse && before[k] >= 0 && after < 0 { cancelPending(k) }
      if crosses(directions[k], from: before[k], to: after) { newly.append(k) }
    }
    return newly
  }

  @inlinable
  func schedule(_ event: Int, at time: Double, _ payload: [Double]) {
    pendingSeq += 1
    let item = (time: time, event: event, payload: payload, seq: pendingSeq)
    let at = pending.firstIndex { ($0.time, $0.seq) > (time, pendingSeq) } ?? pending.count
    pending.insert(item, at: at)
  }

  @inlinable
  func cancelPending(_ event: Int) { pending.removeAll { $0.event == event } }

  /// Runs scheduled executions due at `time` (several at once in priority order); they may
  /// trigger further state events and schedule more.
  @inlinable
  func runDuePending(at time: Double) -> EventOutcome {
    var rounds = 0
    while let first = pending.first, first.time <= time {
      guard rounds < maxEventCascade else {
        eventCascade = true
        return .terminate
      }
      rounds += 1
      let dueNow = pending.filter { $0.time == first.time }
      // Each event once (it can have two executions due at one time).
      var seen = Set<Int>()
      let order = byPriority(dueNow.map(\.event).filter { seen.insert($0).inserted }, at: time)
      // Take the highest-priority due execution (earliest scheduled among equals).
      let pick = order[0]
      let k = pending.firstIndex { $0.time == first.time && $0.event == pick }!
      let item = pending.remove(at: k)
      guard let delayed = problem.stateEvents[item.event].delayedAction else { continue }
      let ub = UnsafeBufferPointer(start: u, count: n)
      let before = conditions.indices.map { condition($0, time, ub) }
      var state = Array(ub)
      let outcome = delayed(time, &state, item.payload)
      for j in 0..<n { u[j] = state[j] }
      stats.events += 1
      eventLog.append((time, problem.stateEvents[item.event].label + " (delayed)"))
      fsalValid = false
      switch outcome {
      case .terminate: return .terminate
      case .schedule(let d, let p): schedule(item.event, at: time + max(d, 0), p)
      case .continue: break
      }
      let newly = reactToJump(at: time, before: before, excluding: [])
      if !newly.isEmpty && fireStateEvents(newly, at: time) == .terminate { return .terminate }
    }
    return .continue
  }

  @inlinable
  func apply(_ d: _Disc, _ doses: [Dose]) {
    if d.kind == 3 { return }  // a landing point: the state event fires through the crossing test
    stats.events += 1
    switch d.kind {
    case 0:
      let dose = doses[d.index]
      rate[dose.target] -= dose.amount / dose.duration
      if abs(rate[dose.target]) < 1e-12 * dose.amount / dose.duration { rate[dose.target] = 0 }
      eventLog.append((d.time, dose.label + " (end)"))
    case 1:
      let e = problem.timeEvents[d.index]
      var state = Array(UnsafeBufferPointer(start: u, count: n))
      e.action(d.time, &state)
      for i in 0..<n { u[i] = state[i] }
      eventLog.append((d.time, e.label))
    default:
      let dose = doses[d.index]
      if dose.duration > 0 { rate[dose.target] += dose.amount / dose.duration } else { u[dose.target] += dose.amount }
      eventLog.append((d.time, dose.label))
    }
    fsalValid = false
  }

  @inlinable
  func recordOutputs(upTo time: Double) {
    while nextOut < saveAt.count && saveAt[nextOut] <= time {
      outT.append(saveAt[nextOut])
      for i in 0..<n { outU.append(u[i]) }
      nextOut += 1
    }
  }

  /// Reports the current (t, u) to the observer, if any.
  @inlinable
  func observe() {
    if let o = opts.observer { o(t, UnsafeBufferPointer(start: u, count: n)) }
  }

  @inlinable
  func resetStateEvents() {
    observe()
    let ub = UnsafeBufferPointer(start: u, count: n)
    if let scan, !conditionIndices.isEmpty {
      scan(t, ub, gPrev)
      for (time, i) in exactSorted { gPrev[i] = t >= time ? 1 : -1 }
    } else {
      for i in conditions.indices { gPrev[i] = condition(i, t, ub) }
    }
  }

  /// Event `i`'s condition at (`time`, `u`); for a known trigger time c, `time ≥ c ? 1 : −1`
  /// without calling it (``StateEvent/exactTime``).
  @inlinable
  func condition(_ i: Int, _ time: Double, _ u: UnsafeBufferPointer<Double>) -> Double {
    let c = exactTimes[i]
    return c.isNaN ? conditions[i](time, u) : time >= c ? 1 : -1
  }

  /// The events with a known trigger time in (`start`, `end`]: a range of ``exactSorted``.
  @inlinable
  func knownTriggers(after start: Double, upTo end: Double) -> Range<Int> {
    var first = 0, hi = exactSorted.count
    while first < hi {
      let mid = (first + hi) / 2
      if exactSorted[mid].time > start { hi = mid } else { first = mid + 1 }
    }
    var last = first
    while last < exactSorted.count && exactSorted[last].time <= end { last += 1 }
    return first..<last
  }

  /// Locates the earliest state-event root in the step just taken (dense output valid):
  /// the time, the events that fire there (roots within a relative 1e-12 of each other),
  /// and the events whose scheduled executions are cancelled there.
  @inlinable
  func findStateEvent(_ tNew: Double) -> (Double, [Int], [Int])? {
    var roots: [(time: Double, index: Int, cancel: Bool)] = []
    let ub = UnsafeBufferPointer(start: uNew, count: n)
    // Known trigger times in (t, tNew] (the conditions `t ≥ et` of the others keep their
    // sign over the step).
    let known = knownTriggers(after: t, upTo: tNew)
    let first = known.lowerBound, due = known.upperBound
    // gPrev keeps the values at t until the end: the crossing tests below need them.
    defer {
      for i in conditionIndices { gPrev[i] = gNew[i] }
      for k in first..<due { gPrev[exactSorted[k].index] = 1 }
    }
    if let scan, !conditionIndices.isEmpty {
      scan(tNew, ub, gNew)
    } else {
      for i in conditionIndices { gNew[i] = conditions[i](tNew, ub) }
    }
    for i in conditionIndices {
      let gA = gPrev[i], gB = gNew[i]
      if gA != gB, let r = locate(i, from: gA, to: gB, tNew) { roots.append((r.time, i, r.cancel)) }
    }
    for k in first..<due {
      let i = exactSorted[k].index
      if gPrev[i] != 1, let r = locate(i, from: gPrev[i], to: 1, tNew) { roots.append((r.time, i, r.cancel)) }
    }
    guard let root = roots.min(by: { $0.time < $1.time }) else { return nil }
    let tol = 1e-12 * max(abs(root.time), 1)
    let at = roots.filter { $0.time - root.time <= tol }
    // The group fires at the latest of its roots: each root lies just after its own
    // crossing, and at an earlier one of the group a condition can still be on the old side
    // (it would then cross again an ulp later and fire twice).
    let te = at.map(\.time).max()!
    var fire = at.filter { !$0.cancel }.map(\.index)
    // Stopping at the root: any other condition that has crossed by then fires there too
    // (a condition true only inside a window shorter than the step, seen at a root of one
    // of its parts).
    if te < tNew {
      interpolate(te, tmp)
      let tb = UnsafeBufferPointer(start: tmp, count: n)
      for i in conditionIndices where !fire.contains(i) {
        if crosses(directions[i], from: gPrev[i], to: conditions[i](te, tb)) { fire.append(i) }
      }
    }
    return (te, fire, at.filter(\.cancel).map(\.index))
  }

  /// Where event `i`'s condition, `gA` at t and `gB` at tNew, crosses in the step just
  /// taken (firing, or cancelling its scheduled executions), or nil if it does not.
  @inlinable
  func locate(_ i: Int, from gA: Double, to gB: Double, _ tNew: Double) -> (time: Double, cancel: Bool)? {
    let e = problem.stateEvents[i]
    let tb = UnsafeBufferPointer(start: tmp, count: n)
    let up = gA < 0 && gB >= 0
    let fires = crosses(e.direction, from: gA, to: gB)
    let cancel = !fires && e.cancelsWhenFalse && gA >= 0 && gB < 0 && pending.contains { $0.event == i }
    guard fires || cancel else { return nil }
    if let et = e.exactTime, et == tNew, fires { return (tNew, false) }
    // The side of zero the condition is on after the crossing.
    let after: (Double) -> Bool = cancel ? { $0 < 0 } : (up && e.direction != .down ? { $0 >= 0 } : { $0 <= 0 })
    // Illinois (modified regula falsi) on the dense output.
    var a = t, b = tNew, fa = gA, fb = gB, side = 0
    if cancel && fa == 0 { fa = 1 }
    for _ in 0..<200 {
      if b - a <= 4 * b.ulp.magnitude + 1e-14 * abs(b - t) { break }
      var m = (a * fb - b * fa) / (fb - fa)
      if !(m > a && m < b) || abs(fb - fa) < 1e-300 { m = 0.5 * (a + b) }
      interpolate(m, tmp)
      let fm = e.condition(m, tb)
      let sameAsB = after(fm) == after(fb)
      if sameAsB {
        b = m
        fb = fm
        if side == -1 { fa *= 0.5 }
        side = -1
      } else {
        a = m
        fa = fm
        if side == 1 { fb *= 0.5 }
        side = 1
      }
    }
    return (b, cancel)
  }
}
