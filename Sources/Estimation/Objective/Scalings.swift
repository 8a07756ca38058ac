import Foundation

extension PEtabObjective {
  /// An estimated parameter that only scales observables: in every measurement that reads it,
  /// it is one factor of the observable formula's top-level product (`c · h`), it appears
  /// nowhere else (not in the model, the noise formula or another factor), the noise is
  /// normal, every observable it scales has the same transformation, and it has no objective
  /// prior. Given the simulation h, its best value has a closed form (``InnerScalings``).
  public struct Scaling: Sendable, Equatable {
    /// The estimated parameter's index.
    public var parameter: Int
    /// The measurements it scales, in measurement order.
    public var measurements: [Int]
  }

  /// The estimated parameters that are observable scalings (see ``Scaling``).
  static func findScalings(
    _ problem: PEtabProblem, estimatedIndex: [String: Int], modelParameters: Set<Int>, priors: Set<Int>
  ) -> [Scaling] {
    var excluded = modelParameters.union(priors)
    var scaled: [Int: [Int]] = [:]
    var transformation: [Int: PEtabProblem.Transformation] = [:]
    for (mi, m) in problem.measurements.enumerated() {
      let o = problem.observables[m.observable]
      /// The estimated parameter a symbol of this measurement's formulas stands for.
      func estimated(_ symbol: String) -> Int? {
        for (prefix, values) in [("observableParameter", m.observableParameters), ("noiseParameter", m.noiseParameters)] {
          guard symbol.hasPrefix(prefix), symbol.hasSuffix("_\(o.id)") else { continue }
          let number = symbol.dropFirst(prefix.count).dropLast(o.id.count + 1)
          guard let k = Int(number), k >= 1, k <= values.count, case .parameter(let id) = values[k - 1] else { return nil }
          return estimatedIndex[id]
        }
        return estimatedIndex[symbol]
      }
      func parameters(_ node: Formula.Node) -> Set<Int> {
        Set(Formula.symbols(of: node).compactMap(estimated))
      }
      let factors = Formula.factors(o.formula.root)
      let read = factors.map(parameters)
      // A factor that is one estimated parameter, read by no other factor.
      let candidates = factors.indices.compactMap { i -> Int? in
        guard case .symbol(let s) = factors[i], let k = estimated(s) else { return nil }
        return read.indices.contains { $0 != i && read[$0].contains(k) } ? nil : k
      }
      let scaling = candidates.count == 1 && o.distribution == .normal ? candidates.first : nil
      let noise = parameters(o.noise.root)
      for k in parameters(o.formula.root).union(noise) {
        // One closed form per scaling: all its observables share one transformation.
        if k == scaling && !noise.contains(k) && (transformation[k] ?? o.transformation) == o.transformation {
          scaled[k, default: []].append(mi)
          transformation[k] = o.transformation
        } else {
          excluded.insert(k)
        }
      }
    }
    return scaled.sorted { $0.key < $1.key }.filter { !excluded.contains($0.key) }.map {
      Scaling(parameter: $0.key, measurements: $0.value)
    }
  }
}

extension Formula {
  /// The factors of a node's top-level product (the node itself when it is not a product).
  static func factors(_ node: Node) -> [Node] {
    if case .binary("*", let a, let b) = node { return factors(a) + factors(b) }
    return [node]
  }

  /// Every symbol a node reads.
  static func symbols(of node: Node) -> Set<String> {
    var out = Set<String>()
    func walk(_ n: Node) {
      switch n {
      case .number: break
      case .symbol(let s): out.insert(s)
      case .unary(_, let a): walk(a)
      case .binary(_, let a, let b):
        walk(a)
        walk(b)
      case .call(_, let args): args.forEach(walk)
      }
    }
    walk(node)
    return out
  }
}
