import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written; names the file and the reason.
public struct FileWriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot write: \(reason)" }
}

/// Writes `data` to a temporary file beside `url`, then renames it over `url`; on failure no file is left.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    do {
        try data.write(to: temp)
    } catch {
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(path: url.path, reason: error.localizedDescription)
    }
    if rename(temp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temp)
        throw FileWriteError(path: url.path, reason: reason)
    }
}

/// Streams a file to a temporary file beside `url`, then renames it over `url`, for output too large to hold in
/// memory at once. `body` gets a function that appends bytes; an error from `body` (passed on as it is) or from
/// writing (a `FileWriteError`) leaves no file behind.
public func writeAtomically(
    to url: URL, _ body: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
)
    throws
{
    let dir = url.deletingLastPathComponent()
    let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
    let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
    var closed = false
    defer {
        if !closed { close(fd) }
    }
    do {
        try body { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
                done += n
            }
        }
        closed = true
        guard close(fd) == 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
    } catch {
        unlink(temp.path)
        throw error
    }
    if rename(temp.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(temp.path)
        throw FileWriteError(path: url.path, reason: reason)
    }
}
