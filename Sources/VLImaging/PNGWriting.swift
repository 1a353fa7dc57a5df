import CImageCodecs
import Foundation
import VLFiles

extension RGBImage {
    /// The image as a PNG: 8-bit RGB, not interlaced, zlib's default compression.
    public func pngData() throws -> Data {
        var encoded = ci_buffer()
        let code = pixels.withUnsafeBufferPointer {
            ci_encode_png($0.baseAddress, Int32(width), Int32(height), &encoded)
        }
        defer { ci_free_buffer(&encoded) }
        guard code == 0, let bytes = encoded.data else {
            throw ImageError(
                withUnsafeBytes(of: encoded.error) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
        }
        return Data(bytes: bytes, count: encoded.size)
    }

    /// Writes the image as a PNG file atomically (a temporary file beside `url`, then a rename), so
    /// a failure leaves no partial file.
    public func writePNG(to url: URL) throws {
        let data = try pngData()
        let folder = url.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ImageError("\(url.path): cannot write: no folder \(folder.path)")
        }
        do { try writeAtomically(data, to: url) } catch let error as FileWriteError {
            throw ImageError(error.description)
        }
    }
}
