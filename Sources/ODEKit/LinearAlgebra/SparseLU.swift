/// LU factorisation of matrices with a fixed sparsity pattern (the iteration matrices
/// `I/(γh) − J` of one model), without row exchanges, in an elimination order chosen once.
///
/// The order is minimum degree on the pattern of `A + Aᵀ` (Tinney & Walker 1967, scheme 2;
/// George & Liu, Computer Solution of Large Sparse Positive Definite Systems, 1981, §5),
/// which keeps the fill-in small; the symbolic elimination then fixes, for each pivot, the
/// rows below it and the columns right of it. Factorising and solving touch only those
/// entries. Matrices are stored dense and row-major in their original indexing (entries
/// outside ``positions`` are never read or written).
///
/// Without row exchanges a small pivot can make the factors inaccurate: ``factor(_:)``
/// refuses (returns `false`) when a multiplier exceeds ``maxMultiplier`` (threshold
/// pivoting with u = 0.1, as in Duff, Erisman & Reid, Direct Methods for Sparse Matrices,
/// 2nd ed., §7.8), and the caller then factorises with partial pivoting.
public final class SparseLU: @unchecked Sendable {
  public let n: Int
  /// Pivot `k` is row and column `order[k]`.
  public let order: [Int]
  /// Row-major positions of the pattern, the diagonal and the fill-in, sorted.
  public let positions: [Int]
  /// For pivot `k` (row and column `p`), entries `lowerStart[k]..<lowerStart[k + 1]` of
  /// `lowerRow`/`lowerAt`: the rows `i` eliminated after it with an entry in its column, and
  /// the position `i·n + p` of that entry; likewise `upperColumn`/`upperAt` for the columns
  /// `j` eliminated after it with an entry in its row (`p·n + j`). One allocation, freed
  /// with the plan.
  @usableFromInline let lowerStart, lowerRow, lowerAt, upperStart, upperColumn, upperAt: UnsafeMutablePointer<Int>
  @usableFromInline let orderPointer: UnsafeMutablePointer<Int>
  /// ``positions`` (`entryAt`) with the row and column of each, `entryCount` of them.
  public let entryAt, entryRow, entryColumn: UnsafeMutablePointer<Int>
  public let entryCount: Int
  @usableFromInline let storage: UnsafeMutablePointer<Int>
  /// Largest multiplier accepted (1/u for threshold u = 0.1).
  public static let maxMultiplier = 10.0

  /// The plan for `n × n` matrices whose structural non-zeros are at the row-major
  /// `pattern` positions (the diagonal is always included). Nil when it would not pay:
  /// fewer than 5 rows, more than 400, or factors with more than half the entries filled.
  public init?(n: Int, pattern: [Int]) {
    guard n >= 5 && n <= 400 else { return nil }
    var a = [Bool](repeating: false, count: n * n)
    for p in pattern {
      precondition(p >= 0 && p < n * n, "pattern position \(p) is outside an \(n) × \(n) matrix")
      a[p] = true
    }
    for i in 0..<n { a[i * n + i] = true }
    // Minimum degree on the graph of A + Aᵀ: eliminating a node joins its neighbours.
    var adjacent = [Set<Int>](repeating: [], count: n)
    for i in 0..<n {
      for j in 0..<n where i != j && (a[i * n + j] || a[j * n + i]) { adjacent[i].insert(j) }
    }
    var remaining = Set(0..<n)
    var order: [Int] = []
    while let v = remaining.min(by: { (adjacent[$0].count, $0) < (adjacent[$1].count, $1) }) {
      order.append(v)
      remaining.remove(v)
      let neighbours = adjacent[v]
      for x in neighbours {
        adjacent[x].remove(v)
        adjacent[x].formUnion(neighbours.subtracting([x]))
      }
    }
    // Symbolic elimination in that order.
    var lowerStart = [0], lower: [Int] = [], upperStart = [0], upper: [Int] = []
    for k in 0..<n {
      let p = order[k]
      let later = order[(k + 1)...]
      let rowsBelow = later.filter { a[$0 * n + p] }.sorted()
      let columnsRight = later.filter { a[p * n + $0] }.sorted()
      for i in rowsBelow { for j in columnsRight { a[i * n + j] = true } }
      lower += rowsBelow
      lowerStart.append(lower.count)
      upper += columnsRight
      upperStart.append(upper.count)
    }
    let positions = (0..<(n * n)).filter { a[$0] }
    guard positions.count * 2 <= n * n else { return nil }
    self.n = n
    self.order = order
    self.positions = positions
    entryCount = positions.count
    var lowerAt: [Int] = [], upperAt: [Int] = []
    for k in 0..<n {
      let p = order[k]
      lowerAt += lower[lowerStart[k]..<lowerStart[k + 1]].map { $0 * n + p }
      upperAt += upper[upperStart[k]..<upperStart[k + 1]].map { p * n + $0 }
    }
    // One block for all the index arrays.
    let parts = [
      order, lowerStart, lower, lowerAt, upperStart, upper, upperAt,
      positions, positions.map { $0 / n }, positions.map { $0 % n },
    ]
    storage = .allocate(capacity: parts.reduce(0) { $0 + $1.count })
    var pointers: [UnsafeMutablePointer<Int>] = []
    var next = storage
    for part in parts {
      next.initialize(from: part, count: part.count)
      pointers.append(next)
      next += part.count
    }
    orderPointer = pointers[0]
    self.lowerStart = pointers[1]
    lowerRow = pointers[2]
    self.lowerAt = pointers[3]
    self.upperStart = pointers[4]
    upperColumn = pointers[5]
    self.upperAt = pointers[6]
    entryAt = pointers[7]
    entryRow = pointers[8]
    entryColumn = pointers[9]
  }

  deinit { storage.deallocate() }

  /// Factorises `a` in place (`L` below the pivots, unit diagonal implied, `U` above them
  /// and the reciprocals of the pivots on them, in elimination order). Returns `false`, leaving `a` overwritten, when a pivot is
  /// zero or not finite or a multiplier exceeds ``maxMultiplier``.
  @inlinable
  public func factor(_ a: UnsafeMutablePointer<Double>) -> Bool {
    for k in 0..<n {
      let p = orderPointer[k]
      let pivot = a[p * n + p]
      if pivot == 0 || !pivot.isFinite { return false }
      let inv = 1 / pivot
      a[p * n + p] = inv
      let rowP = a + p * n
      for r in lowerStart[k]..<lowerStart[k + 1] {
        let at = lowerAt[r]
        let l = a[at] * inv
        if !(abs(l) <= SparseLU.maxMultiplier) { return false }
        a[at] = l
        if l != 0 {
          let rowI = a + lowerRow[r] * n
          for c in upperStart[k]..<upperStart[k + 1] {
            let j = upperColumn[c]
            rowI[j] -= l * rowP[j]
          }
        }
      }
    }
    return true
  }

  /// Solves `A x = b` in place from the factors of ``factor(_:)``.
  @inlinable
  public func solve(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>) {
    for k in 0..<n {
      let bp = b[orderPointer[k]]
      if bp != 0 {
        for r in lowerStart[k]..<lowerStart[k + 1] { b[lowerRow[r]] -= a[lowerAt[r]] * bp }
      }
    }
    var k = n - 1
    while k >= 0 {
      let p = orderPointer[k]
      var s = b[p]
      for c in upperStart[k]..<upperStart[k + 1] { s -= a[upperAt[c]] * b[upperColumn[c]] }
      b[p] = s * a[p * n + p]
      k -= 1
    }
  }
}
