import CARTSimCore
import Foundation
import Parallel

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An exclusive lock on a data folder (`flock` on `cartsim.lock`), held for the life of the
/// server: a second server on the same folder is refused before it touches the store, so it
/// can neither mark the first one's live runs interrupted nor resume them a second time. The
/// kernel releases the lock when the process ends, however it ends.
public final class DataFolderLock: Sendable {
  private let fd: Shared<Int32?>

  /// Takes the lock, or throws ``InputError`` naming the folder and the process holding it.
  public init(folder: String) throws {
    let path = (folder as NSString).appendingPathComponent("cartsim.lock")
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw InputError(file: folder, path: "", message: "cannot open \(path) (\(String(cString: strerror(errno))))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
      close(fd)
      throw InputError(
        file: folder, path: "",
        message:
          "another cartsim serve\(holder.isEmpty ? "" : " (process \(holder))") is using this data folder; stop it or choose another --data"
      )
    }
    let pid = "\(getpid())\n"
    _ = ftruncate(fd, 0)
    _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    self.fd = Shared(fd)
  }

  /// Lets another server take the folder (at shutdown).
  public func release() {
    fd.withLock { fd in
      if let f = fd { close(f) }
      fd = nil
    }
  }

  deinit { release() }
}
