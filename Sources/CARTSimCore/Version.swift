/// CARTSim's version, as `cartsim --version`, `/health` and the OpenAPI document give it.
public enum CARTSimVersion {
  public static let string = "0.1.0"
}
