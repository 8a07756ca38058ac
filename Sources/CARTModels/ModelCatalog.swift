/// The built-in models, by identifier.
public enum ModelCatalog {
  /// Identifiers accepted on the command line and in scenario files.
  public static let ids = ["heros", "cartmath-hdlm2", "cartmath-raji"]

  /// A built-in model with its default parameters, or nil for an unknown identifier.
  public static func model(_ id: String) -> (any TherapyModel)? {
    switch id {
    case "heros": return HEROSModel()
    case "cartmath-hdlm2": return CARTmathModel(.hdlm2)
    case "cartmath-raji": return CARTmathModel(.raji)
    default: return nil
    }
  }

  /// Parameter table and title of a model, for listing.
  public static func describe(_ id: String) -> (title: String, parameters: ParameterSet, states: [String], observables: [Observable])? {
    guard let m = model(id) else { return nil }
    return (m.title, m.parameters, m.stateNames, m.observables)
  }
}
