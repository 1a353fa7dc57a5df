import CImageCodecs
import Foundation

/// A problem with an image from outside, naming the file (when there is one) and what is wrong.
public struct ImageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// An 8-bit RGB image, pixels interleaved row by row.
public struct RGBImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for a \(width)×\(height) RGB image")
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// The image centred on a square of `background` colour whose side is its longer edge
    /// (LLaVA's `expand2square`).
    public func paddedToSquare(background: [UInt8]) -> RGBImage {
        guard width != height else { return self }
        let side = Swift.max(width, height)
        var out = [UInt8](repeating: 0, count: side * side * 3)
        for i in 0..<(side * side) { for c in 0..<3 { out[i * 3 + c] = background[c] } }
        let top = (side - height) / 2, left = (side - width) / 2
        for y in 0..<height {
            let src = y * width * 3, dst = ((top + y) * side + left) * 3
            out.replaceSubrange(dst..<(dst + width * 3), with: pixels[src..<(src + width * 3)])
        }
        return RGBImage(width: side, height: side, pixels: out)
    }

    /// Pillow's default decompression-bomb limit.
    public static let defaultMaxPixels = 178_956_970

    /// Decodes a JPEG or PNG as Pillow's `Image.open(…).convert("RGB")` with
    /// `ImageOps.exif_transpose` applied. The pixel count is checked against `maxPixels` from the
    /// header, before the pixels are decoded.
    public init(data: Data, maxPixels: Int = RGBImage.defaultMaxPixels, source: String = "image") throws {
        guard !data.isEmpty else { throw ImageError("\(source): the file is empty") }
        var decoded = ci_image()
        let code = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return -1 }
            return ci_decode(base, raw.count, Int64(maxPixels), &decoded)
        }
        defer { ci_free(&decoded) }
        guard code == 0, let rgb = decoded.rgb else {
            let reason =
                code == -1
                ? "the file is empty"
                : withUnsafeBytes(of: decoded.error) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            throw ImageError("\(source): \(reason)")
        }
        let w = Int(decoded.width), h = Int(decoded.height)
        self.init(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
        self = oriented(Int(decoded.orientation))
    }

    /// Reads and decodes an image file.
    public init(contentsOf url: URL, maxPixels: Int = RGBImage.defaultMaxPixels) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let exists = FileManager.default.fileExists(atPath: url.path)
            throw ImageError("\(url.path): \(exists ? "cannot be read" : "no such file")")
        }
        try self.init(data: data, maxPixels: maxPixels, source: url.path)
    }

    /// The image turned upright for an EXIF orientation (1–8), as `ImageOps.exif_transpose`.
    public func oriented(_ orientation: Int) -> RGBImage {
        switch orientation {
        case 2: return remap(width, height) { x, y in (width - 1 - x, y) }
        case 3: return remap(width, height) { x, y in (width - 1 - x, height - 1 - y) }
        case 4: return remap(width, height) { x, y in (x, height - 1 - y) }
        case 5: return remap(height, width) { x, y in (y, x) }
        case 6: return remap(height, width) { x, y in (y, height - 1 - x) }
        case 7: return remap(height, width) { x, y in (width - 1 - y, height - 1 - x) }
        case 8: return remap(height, width) { x, y in (width - 1 - y, x) }
        default: return self
        }
    }

    /// A new w×h image whose pixel (x, y) is this image's pixel `source(x, y)`.
    private func remap(_ w: Int, _ h: Int, _ source: (Int, Int) -> (Int, Int)) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = source(x, y)
                let s = (sy * width + sx) * 3, d = (y * w + x) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Width and height from the header alone.
    public static func size(of data: Data) throws -> (width: Int, height: Int) {
        guard !data.isEmpty else { throw ImageError("the file is empty") }
        var probe = ci_image()
        let code = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return -1 }
            return ci_probe(base, raw.count, &probe)
        }
        guard code == 0 else {
            throw ImageError(
                code == -1
                    ? "the file is empty"
                    : withUnsafeBytes(of: probe.error) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
        }
        return (Int(probe.width), Int(probe.height))
    }
}
