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
  /// The compiled programs, in the order given.
  public let functions: [Function]
  /// The compiler used and how long it took.
  public let compiler: String
  public let seconds: Double
  private let handle: UnsafeMutableRawPointer

  private init(handle: UnsafeMutableRawPointer, functions: [Function], compiler: String, seconds: Double) {
    self.handle = handle
    self.functions = functions
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

  /// C source defining `void f<k>(double *v)` for each program (nil if one has `delay`).
  public static func cSource(_ programs: [Program]) -> String? {
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
    return out
  }

  /// The C expression of one instruction, as ``Program/run(_:delay:)`` computes it.
  static func expression(_ i: Program.Instruction) -> String? {
    let x = "v[\(i.a)]", y = "v[\(i.b)]", z = "v[\(i.c)]"
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
  public static func compile(_ programs: [Program], compiler: String? = nil) throws -> NativeCode {
    guard let source = cSource(programs) else { throw Failure(description: "a program uses delay()") }
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
    let p = Process()
    // The compiler may come with words of its own (`ccache gcc`, `gcc -m64`).
    let words = cc.split(whereSeparator: \.isWhitespace).map(String.init)
    guard let program = words.first else { throw Failure(description: "empty C compiler name") }
    p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
    let args = Array(words.dropFirst()) + ["-O2", "-fPIC", "-shared", "-ffp-contract=off", "-o", so.path, c.path, "-lm"]
    p.arguments = program.hasPrefix("/") ? args : [program] + args
    p.standardInput = FileHandle.nullDevice
    let errors = Pipe()
    p.standardError = errors
    p.standardOutput = FileHandle.nullDevice
    do { try p.run() } catch { throw Failure(description: "cannot run the C compiler \(cc) (\(error.localizedDescription))") }
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw Failure(description: "\(cc) failed (status \(p.terminationStatus)): \(String(decoding: message.prefix(2000), as: UTF8.self))")
    }
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
    return NativeCode(handle: handle, functions: functions, compiler: cc, seconds: Date().timeIntervalSince(start))
  }
}
