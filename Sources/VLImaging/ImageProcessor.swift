import Foundation
import VLFiles
import VLTensor

/// transformers' CLIPImageProcessor (its PIL backend, which transformers 5 uses without
/// torchvision), driven by `preprocessor_config.json`: resize (shortest edge or fixed size) with
/// Pillow's resampling, center crop (zero-padded when the image is smaller), rescale in float64,
/// normalise in float32, channels first. LLaVA and BLIP-2 processors use the same steps.
public struct ImageProcessor: Equatable {
    public enum Size: Equatable {
        case shortestEdge(Int)
        case exact(height: Int, width: Int)
    }

    /// LLaVA-1.5's padding of the image to a square, centred on the mean colour, before resizing.
    public var doPad = false
    public var doResize = true
    public var size: Size = .shortestEdge(224)
    public var resample: ResampleFilter = .bicubic
    public var doCenterCrop = true
    public var cropHeight = 224, cropWidth = 224
    public var doRescale = true
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init() {}

    /// Reads `preprocessor_config.json` from a model directory.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ImageError("\(directory.path): no preprocessor_config.json")
        }
        try self.init(ConfigReader(contentsOf: url))
    }

    public init(_ r: ConfigReader) throws {
        self.init()
        doPad = try r.bool("do_pad", doPad)
        doResize = try r.bool("do_resize", doResize)
        if let s = try r.sub("size") {
            if let edge = try s.optionalInt("shortest_edge") {
                size = .shortestEdge(edge)
            } else {
                size = .exact(height: try s.int("height", 224), width: try s.int("width", 224))
            }
        } else if let edge = try r.optionalInt("size") {
            size = .shortestEdge(edge)
        }
        let filter = try r.int("resample", 3)
        guard let f = ResampleFilter(rawValue: filter) else {
            throw ConfigError("\(r.source): resample \(filter) is not supported (2 bilinear, 3 bicubic)")
        }
        resample = f
        doCenterCrop = try r.bool("do_center_crop", doCenterCrop)
        if let c = try r.sub("crop_size") {
            cropHeight = try c.int("height", cropHeight)
            cropWidth = try c.int("width", cropWidth)
        } else if let c = try r.optionalInt("crop_size") {
            (cropHeight, cropWidth) = (c, c)
        }
        doRescale = try r.bool("do_rescale", doRescale)
        rescaleFactor = Double(try r.float("rescale_factor", Float(rescaleFactor)))
        if let v = r.values["rescale_factor"] as? NSNumber { rescaleFactor = v.doubleValue }  // keep the double
        doNormalize = try r.bool("do_normalize", doNormalize)
        mean = try floats(r, "image_mean") ?? mean
        std = try floats(r, "image_std") ?? std
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 }) else {
            throw ConfigError("\(r.source): image_mean and image_std need three values (std non-zero)")
        }
    }

    private func floats(_ r: ConfigReader, _ key: String) throws -> [Float]? {
        guard r.has(key) else { return nil }
        if let n = r.values[key] as? NSNumber { return [Float](repeating: n.floatValue, count: 3) }
        guard let list = r.values[key] as? [NSNumber] else { throw ConfigError("\(r.source): \"\(key)\" should be a list of numbers") }
        return list.map(\.floatValue)
    }

    /// The size after resizing (height, width), as transformers computes it.
    public func resizedSize(height h: Int, width w: Int) -> (Int, Int) {
        switch size {
        case .exact(let eh, let ew): return (eh, ew)
        case .shortestEdge(let edge):
            let (short, long) = w <= h ? (w, h) : (h, w)
            let newLong = Int(Double(edge) * Double(long) / Double(short))
            return w <= h ? (newLong, edge) : (edge, newLong)
        }
    }

    /// One image → [3, H, W] f32.
    public func callAsFunction(_ image: RGBImage) -> Tensor {
        var img = image
        if doPad { img = img.paddedToSquare(background: mean.map { UInt8(Double($0) * 255) }) }
        if doResize {
            let (h, w) = resizedSize(height: img.height, width: img.width)
            img = img.resized(width: w, height: h, filter: resample)
        }
        var (h, w) = (img.height, img.width)
        var top = 0, left = 0
        if doCenterCrop {
            top = (img.height - cropHeight) >= 0 ? (img.height - cropHeight) / 2 : -Int((Double(cropHeight - img.height) / 2).rounded(.up))
            left = (img.width - cropWidth) >= 0 ? (img.width - cropWidth) / 2 : -Int((Double(cropWidth - img.width) / 2).rounded(.up))
            (h, w) = (cropHeight, cropWidth)
        }
        let out = Tensor.uninitialized([3, h, w])
        let o = out.mutablePointer
        for c in 0..<3 {
            for y in 0..<h {
                for x in 0..<w {
                    let sy = y + top, sx = x + left
                    let inside = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width
                    let raw = inside ? img.pixels[(sy * img.width + sx) * 3 + c] : 0
                    var v = doRescale ? Float(Double(raw) * rescaleFactor) : Float(raw)
                    if doNormalize { v = (v - mean[c]) / std[c] }
                    o[(c * h + y) * w + x] = v
                }
            }
        }
        return out
    }

    /// Images → [B, 3, H, W].
    public func batch(_ images: [RGBImage]) -> Tensor { stack(images.map { self($0) }, dim: 0) }
}

extension ImageProcessor {
    /// `preprocessor_config.json` as transformers' CLIPImageProcessor writes it.
    public var jsonObject: [String: Any] {
        let sizeObject: [String: Int]
        switch size {
        case .shortestEdge(let edge): sizeObject = ["shortest_edge": edge]
        case .exact(let h, let w): sizeObject = ["height": h, "width": w]
        }
        return ["image_processor_type": "CLIPImageProcessor", "do_resize": doResize, "size": sizeObject,
                "resample": resample.rawValue, "do_center_crop": doCenterCrop,
                "crop_size": ["height": cropHeight, "width": cropWidth], "do_rescale": doRescale, "rescale_factor": rescaleFactor,
                "do_normalize": doNormalize, "image_mean": mean.map { Double("\($0)") ?? Double($0) }, "image_std": std.map { Double("\($0)") ?? Double($0) },
                "do_convert_rgb": true]
    }
}
