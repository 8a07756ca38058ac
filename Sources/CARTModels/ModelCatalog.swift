/// The built-in models, by identifier.
public enum ModelCatalog {
  /// Identifiers accepted on the command line and in scenario files.
  public static let ids = ["heros", "cartmath-hdlm2", "cartmath-raji"]

  /// Parameter table and title of a model, for listing.
  public static func describe(_ id: String) -> (title: String, parameters: ParameterSet, states: [String], observables: [Observable])? {
    switch id {
    case "heros":
      let m = HEROSModel()
      return (m.title, m.parameters, m.stateNames, m.observables)
    case "cartmath-hdlm2", "cartmath-raji":
      let m = CARTmathModel(id == "cartmath-raji" ? .raji : .hdlm2)
      return (m.title, m.parameters, m.stateNames, m.observables)
    default:
      return nil
    }
  }
}
