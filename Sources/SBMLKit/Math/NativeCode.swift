import Foundation
import SBMLDocument

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Programs translated to C, compiled by the system C compiler into a shared library and
/// loaded: the same instructions in the same order, without the interpreter's dispatch.
///
/// Each instruction becomes one C statement on the value array (`v[d] = v[a] * v[b];`),
/// compiled with `-O2 -ffp-contract=off` and without fast-math, and the functions are the C
/// library's that the interpreter calls too: results are bit for bit the interpreter's.
/// Programs with `delay` are not translated.
public final class NativeCode: @unchecked Sendable {
  public typealias Function = @convention(c) (UnsafeMutablePointer<Double>) -> Void
  /// `rhs(v, u, du, t)`: the whole right-hand side in one call (see ``RightHandSide``).
  public typealias RHS = @convention(c) (UnsafeMutablePointer<Double>, UnsafePointer<Double>, UnsafeMutablePointer<Double>, Double) -> Void
  /// The compiled programs, in the order given.
  public let functions: [Function]
  /// The fused right-hand side, when one was asked for.
  public let rhs: RHS?
  /// The right-hand side of ``lanes`` systems at once (lane-minor arrays), when asked for.
  public let rhsLanes: RHS?
  public let lanes: Int
  /// The compiler used and how long it took.
  public let compiler: String
  public let seconds: Double
  private let handle: UnsafeMutableRawPointer

  private init(
    handle: UnsafeMutableRawPointer, functions: [Function], rhs: RHS?, rhsLanes: RHS?, lanes: Int, compiler: String,
    seconds: Double
  ) {
    self.handle = handle
    self.functions = functions
    self.rhs = rhs
    self.rhsLanes = rhsLanes
    self.lanes = lanes
    self.compiler = compiler
    self.seconds = seconds
  }

  deinit { dlclose(handle) }

  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// The C compiler to use: `$CARTSIM_CC`, else `$CC`, else the first of `clang`, `cc`,
  /// `gcc` on the `PATH`; nil if there is none.
  public static func findCompiler() -> String? {
    let env = ProcessInfo.processInfo.environment
    for key in ["CARTSIM_CC", "CC"] {
      if let c = env[key], !c.isEmpty { return c }
    }
    let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    for name in ["clang", "cc", "gcc"] {
      for dir in path {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      }
    }
    return nil
  }

  /// How a right-hand side is assembled around the first program, as ``SBMLSystem`` does it
  /// in Swift: time into slot 0 and state `i` into `loadSlots[i]`, the program, then `du[i]`
  /// from `derivativeSlots[i]` (0 where negative) plus, flux by flux in order,
  /// `sign·v[stoichiometry]·v[rate]` (times `v[conversion]` when there is one). Fused into
  /// one C function, the loads, the program and the sums are the same operations in the
  /// same order, so the results are the same bits, without the calls and loops around them.
  public struct RightHandSide: Sendable {
    public struct Term: Sendable {
      public var state: Int, rate: Int, stoichiometry: Int, sign: Double, conversion: Int?
    }
    public var loadSlots: [Int]
    public var derivativeSlots: [Int]
    public var terms: [Term]
  }

  /// C source defining `void f<k>(double *v)` for each program and, with `rhs`,
  /// `void rhs(double *v, const double *u, double *du, double t)` around `f0` and
  /// `void rhs_lanes(…)`, the same for `lanes` systems at once (nil if a program has `delay`).
  ///
  /// `rhs_lanes` keeps every array lane-minor (slot `s` of lane `l` at `v[s·lanes + l]`, state
  /// `i` at `u[i·lanes + l]`) and runs each instruction for all lanes before the next; runs of
  /// instructions without a library call share one loop over the lanes, which the C compiler
  /// turns into vector instructions. Each lane sees the scalar function's operations in its
  /// order, so its values are the same bits.
  public static func cSource(_ programs: [Program], rhs: RightHandSide? = nil, lanes: Int = 1) -> String? {
    var out = """
      #include <math.h>
      static inline double b(int c) { return c ? 1.0 : 0.0; }

      """
    for (k, p) in programs.enumerated() {
      out += "void f\(k)(double *restrict v) {\n"
      for i in p.instructions {
        guard let e = expression(i) else { return nil }
        out += "  v[\(i.dst)] = \(e);\n"
      }
      out += "}\n"
    }
    guard let r = rhs, let main = programs.first else { return out }
    out += "void rhs(double *restrict v, const double *u, double *du, double t) {\n  v[0] = t;\n"
    for (i, s) in r.loadSlots.enumerated() { out += "  v[\(s)] = u[\(i)];\n" }
    out += "  f0(v);\n"
    out += derivatives(r) {
      "v[\($0)]"
    } state: {
      "\($0)"
    }
    out += "}\n"
    guard lanes > 1 else { return out }
    let L = lanes
    func slot(_ s: Int32) -> String { "v[\(Int(s) * L) + l]" }
    let loop = "  for (int l = 0; l < \(L); l++) {\n"
    out += "void rhs_lanes(double *restrict v, const double *restrict u, double *restrict du, double t) {\n" + loop
    out += "    v[l] = t;\n"
    for (i, s) in r.loadSlots.enumerated() { out += "    v[\(s * L) + l] = u[\(i * L) + l];\n" }
    out += "  }\n"
    var open = false
    for i in main.instructions {
      guard let e = expression(i, operand: slot) else { return nil }
      let call = i.code.callsLibrary
      if call && open {
        out += "  }\n"
        open = false
      }
      if !open { out += loop }
      out += "    \(slot(i.dst)) = \(e);\n"
      open = !call
      if call { out += "  }\n" }
    }
    if open { out += "  }\n" }
    out +=
      loop
      + derivatives(r, indent: "    ") {
        slot(Int32($0))
      } state: {
        "\($0 * L) + l"
      } + "  }\n}\n"
    return out
  }

  /// `du` from the derivative slots and the flux terms, in ``SBMLSystem/rhs``'s order.
  static func derivatives(_ r: RightHandSide, indent: String = "  ", slot: (Int) -> String, state: (Int) -> String) -> String {
    var out = ""
    for (i, d) in r.derivativeSlots.enumerated() { out += indent + "du[\(state(i))] = " + (d >= 0 ? slot(d) : "0.0") + ";\n" }
    for f in r.terms {
      // The sign is a Double in its shortest round-trip form, which C reads back exactly.
      let x = "\(f.sign) * \(slot(f.stoichiometry)) * \(slot(f.rate))"
      out += indent + "du[\(state(f.state))] += " + (f.conversion.map { "(\(x)) * \(slot($0))" } ?? x) + ";\n"
    }
    return out
  }

  /// The C expression of one instruction, as ``Program/run(_:delay:)`` computes it, with
  /// `operand` naming a slot.
  static func expression(_ i: Program.Instruction, operand: (Int32) -> String = { "v[\($0)]" }) -> String? {
    let x = operand(i.a), y = operand(i.b), z = operand(i.c)
    switch i.code {
    case .copy: return x
    case .neg: return "-\(x)"
    case .add: return "\(x) + \(y)"
    case .sub: return "\(x) - \(y)"
    case .mul: return "\(x) * \(y)"
    case .div: return "\(x) / \(y)"
    case .pow: return "pow(\(x), \(y))"
    case .abs: return "fabs(\(x))"
    case .exp: return "exp(\(x))"
    case .ln: return "log(\(x))"
    case .log: return "log(\(y)) / log(\(x))"
    case .floor: return "floor(\(x))"
    case .ceil: return "ceil(\(x))"
    case .fact: return "tgamma(\(x) + 1)"
    case .root: return "(\(x) == 2 ? sqrt(\(y)) : pow(\(y), 1 / \(x)))"
    case .sin: return "sin(\(x))"
    case .cos: return "cos(\(x))"
    case .tan: return "tan(\(x))"
    case .sec: return "1 / cos(\(x))"
    case .csc: return "1 / sin(\(x))"
    case .cot: return "1 / tan(\(x))"
    case .sinh: return "sinh(\(x))"
    case .cosh: return "cosh(\(x))"
    case .tanh: return "tanh(\(x))"
    case .sech: return "1 / cosh(\(x))"
    case .csch: return "1 / sinh(\(x))"
    case .coth: return "1 / tanh(\(x))"
    case .asin: return "asin(\(x))"
    case .acos: return "acos(\(x))"
    case .atan: return "atan(\(x))"
    case .asec: return "acos(1 / \(x))"
    case .acsc: return "asin(1 / \(x))"
    case .acot: return "atan(1 / \(x))"
    case .asinh: return "asinh(\(x))"
    case .acosh: return "acosh(\(x))"
    case .atanh: return "atanh(\(x))"
    case .asech: return "acosh(1 / \(x))"
    case .acsch: return "asinh(1 / \(x))"
    case .acoth: return "atanh(1 / \(x))"
    case .eq: return "b(\(x) == \(y))"
    case .neq: return "b(\(x) != \(y))"
    case .gt: return "b(\(x) > \(y))"
    case .lt: return "b(\(x) < \(y))"
    case .ge: return "b(\(x) >= \(y))"
    case .le: return "b(\(x) <= \(y))"
    case .and: return "b(\(x) != 0 && \(y) != 0)"
    case .or: return "b(\(x) != 0 || \(y) != 0)"
    case .xor: return "b((\(x) != 0) != (\(y) != 0))"
    case .not: return "b(\(x) == 0)"
    // Swift's min and max: `y < x ? y : x` and `y >= x ? y : x` (NaN handling included).
    case .min: return "(\(y) < \(x) ? \(y) : \(x))"
    case .max: return "(\(y) >= \(x) ? \(y) : \(x))"
    case .rem: return "fmod(\(x), \(y))"
    case .quot: return "trunc(\(x) / \(y))"
    case .select: return "(\(x) != 0 ? \(y) : \(z))"
    case .delay: return nil
    }
  }

  /// Translates, compiles and loads `programs`. Throws if a program cannot be translated,
  /// no compiler is found or compiling or loading fails (the message says which).
  public static func compile(_ programs: [Program], rhs: RightHandSide? = nil, lanes: Int = 1, compiler: String? = nil) throws
    -> NativeCode
  {
    guard let source = cSource(programs, rhs: rhs, lanes: lanes) else { throw Failure(description: "a program uses delay()") }
    guard let cc = compiler ?? findCompiler() else {
      throw Failure(description: "no C compiler found (set CARTSIM_CC or CC, or put clang, cc or gcc on the PATH)")
    }
    let start = Date()
    let fm = FileManager.default
    let dir = fm.temporaryDirectory.appendingPathComponent("cartsim-native-\(UUID().uuidString)")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: dir) }
    let c = dir.appendingPathComponent("model.c"), so = dir.appendingPathComponent("model.so")
    try source.write(to: c, atomically: true, encoding: .utf8)
    // The compiler may come with words of its own (`ccache gcc`, `gcc -m64`).
    let words = cc.split(whereSeparator: \.isWhitespace).map(String.init)
    guard let program = words.first else { throw Failure(description: "empty C compiler name") }
    /// Runs the compiler; nil on success, else its status and messages.
    func run(_ flags: [String]) throws -> String? {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
      let args = Array(words.dropFirst()) + flags + ["-O2", "-fPIC", "-shared", "-ffp-contract=off", "-o", so.path, c.path, "-lm"]
      p.arguments = program.hasPrefix("/") ? args : [program] + args
      p.standardInput = FileHandle.nullDevice
      let errors = Pipe()
      p.standardError = errors
      p.standardOutput = FileHandle.nullDevice
      do { try p.run() } catch { throw Failure(description: "cannot run the C compiler \(cc) (\(error.localizedDescription))") }
      let message = errors.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return p.terminationStatus == 0 ? nil : "status \(p.terminationStatus): \(String(decoding: message.prefix(2000), as: UTF8.self))"
    }
    // The lanes' loops vectorise as wide as this processor allows (the library is built and
    // used here only); without contraction (`-ffp-contract=off`) the results are the same bits
    // on any target. A compiler that does not know `-march=native` builds for its default.
    let tuned = lanes > 1 ? try run(["-march=native"]) : "not asked for"
    if tuned != nil, let failure = try run([]) { throw Failure(description: "\(cc) failed (\(failure))") }
    // The library stays mapped after its file is removed.
    guard let handle = dlopen(so.path, RTLD_NOW | RTLD_LOCAL) else {
      throw Failure(description: "cannot load the compiled model (\(String(cString: dlerror())))")
    }
    var functions: [Function] = []
    for k in programs.indices {
      guard let sym = dlsym(handle, "f\(k)") else {
        dlclose(handle)
        throw Failure(description: "compiled model lacks f\(k)")
      }
      functions.append(unsafeBitCast(sym, to: Function.self))
    }
    func function(_ name: String, if wanted: Bool) throws -> RHS? {
      guard wanted else { return nil }
      guard let sym = dlsym(handle, name) else {
        dlclose(handle)
        throw Failure(description: "compiled model lacks \(name)")
      }
      return unsafeBitCast(sym, to: RHS.self)
    }
    let fused = try function("rhs", if: rhs != nil && !programs.isEmpty)
    let wide = try function("rhs_lanes", if: rhs != nil && !programs.isEmpty && lanes > 1)
    return NativeCode(
      handle: handle, functions: functions, rhs: fused, rhsLanes: wide, lanes: wide == nil ? 1 : lanes, compiler: cc,
      seconds: Date().timeIntervalSince(start))
  }
}

extension Program.Code {
  /// Whether the C expression calls into the maths library (`pow`, `exp`, the trigonometric
  /// functions…): such an instruction gets a loop over the lanes of its own, so that the
  /// arithmetic around it still vectorises.
  var callsLibrary: Bool {
    switch self {
    case .copy, .neg, .add, .sub, .mul, .div, .abs, .floor, .ceil, .quot, .eq, .neq, .gt, .lt, .ge, .le, .and, .or, .xor, .not,
      .min, .max, .select:
      return false
    default: return true
    }
  }
}
