/// Isotonic (non-decreasing) regression by the pool-adjacent-violators algorithm.
public enum Isotonic {
  /// The weighted least-squares non-decreasing fit to `values` (Barlow et al. 1972): adjacent
  /// blocks that violate the order are pooled into their weighted mean until none does. The fit
  /// is unique, so this agrees with the merge-the-first-violation loop of `BOIN::select.mtd`.
  public static func pava(_ values: [Double], weights: [Double]? = nil) -> [Double] {
    let w = weights ?? Array(repeating: 1, count: values.count)
    precondition(w.count == values.count && w.allSatisfy { $0 > 0 }, "pava needs one positive weight per value")
    var level: [Double] = [], weight: [Double] = [], size: [Int] = []
    for i in values.indices {
      level.append(values[i])
      weight.append(w[i])
      size.append(1)
      while level.count > 1 && level[level.count - 2] > level[level.count - 1] {
        let wl = weight.removeLast(), l = level.removeLast(), s = size.removeLast()
        let k = level.count - 1
        level[k] = (level[k] * weight[k] + l * wl) / (weight[k] + wl)
        weight[k] += wl
        size[k] += s
      }
    }
    var out: [Double] = []
    out.reserveCapacity(values.count)
    for (l, s) in zip(level, size) { out.append(contentsOf: repeatElement(l, count: s)) }
    return out
  }
}
