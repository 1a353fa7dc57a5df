import Foundation
import VLFiles
import VLTensor

/// transformers' image processors (their PIL backend, which transformers 5 uses without
/// torchvision) for the classes in `ImageProcessor.supportedClasses`: an optional pad to a square
/// in the mean colour (LLaVA), resize with Pillow's resampling, center crop (zero-padded when the
/// image is smaller), rescale in float64, normalise in float32, channels first, an optional pad
/// of the result (bottom and right, zeros). The configuration comes from `preprocessor_config.json`
/// or the `"image_processor"` object of `processor_config.json` (see ImageProcessorConfig.swift),
/// with the defaults of the class the file names.
public struct ImageProcessor: Equatable {
    public enum Size: Equatable {
        /// `{"shortest_edge": n}`: the shorter side becomes n, the longer one keeps the aspect ratio (truncated).
        case shortestEdge(Int)
        /// `{"height": h, "width": w}`.
        case exact(height: Int, width: Int)
        /// `{"shortest_edge": s, "longest_edge": l}`: shortest edge s unless the longer one would exceed l.
        case shortestEdgeCapped(shortest: Int, longest: Int)
        /// `{"max_height": h, "max_width": w}`: the largest size within h×w that keeps the aspect ratio.
        case fitWithin(maxHeight: Int, maxWidth: Int)
    }

    /// A height and width in pixels.
    public struct PixelSize: Equatable {
        public var height: Int
        public var width: Int
        public init(height: Int, width: Int) { (self.height, self.width) = (height, width) }
    }

    /// The transformers class whose behaviour this is, without a `Fast` or `Pil` suffix
    /// (`CLIPImageProcessor`, `BlipImageProcessor`, …). Written back by `jsonObject`.
    public var imageProcessorType = "CLIPImageProcessor"
    /// LLaVA's padding of the image to a square, centred on the mean colour, before resizing
    /// (`do_pad` of LlavaImageProcessor).
    public var doPad = false
    public var doResize = true
    public var size: Size = .shortestEdge(224)
    public var resample: ResampleFilter = .bicubic
    /// ConvNeXT's resize: below a shortest edge of 384, resize the shortest edge to
    /// `shortest / cropPct` and center crop a square of the shortest edge; from 384 on, warp to a
    /// square. nil for every other class.
    public var cropPct: Double?
    public var doCenterCrop = true
    /// `crop_size`. When `doCenterCrop` is false and the file has no crop size, the exact resize
    /// size if there is one, else 224 (unused).
    public var cropHeight = 224, cropWidth = 224
    public var doRescale = true
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]
    /// `do_convert_rgb`. Images reach the processor as `RGBImage`s, already 3-channel RGB, so this
    /// changes no numbers here; it is kept to be written back. (transformers 5 composites
    /// transparent images onto white when it is set; `RGBImage`'s decoder drops alpha as
    /// Pillow's `convert("RGB")` does.)
    public var doConvertRgb = true
    /// `do_pad` of every class but LLaVA's: pad each result at the bottom and right with zeros
    /// (after normalising) to `padSize`, or when that is nil, a batch to its largest image.
    public var doPadBatch = false
    public var padSize: PixelSize?
    /// The mean as the file wrote it (doubles), for LLaVA's pad colour `int(mean * 255)`.
    var exactMean: [Double]? {
        get { fileMean.values }
        set { fileMean.values = newValue }
    }
    private var fileMean = FileMean()

    /// Not part of equality: it only refines the pad colour of the same `mean`, so two
    /// processors equal in every public field compare equal.
    struct FileMean: Equatable {
        var values: [Double]?
        static func == (_: FileMean, _: FileMean) -> Bool { true }
    }

    public init() {}

    /// The pad colour of `doPad`: `int(mean * 255)` per channel, as transformers computes it.
    public var padColor: [UInt8] {
        let m = exactMean.flatMap { e in e.map { Float($0) } == mean ? e : nil } ?? mean.map { Double($0) }
        return m.map { UInt8(clamping: Int(exactly: ($0 * 255).rounded(.towardZero)) ?? 0) }
    }

    /// The size after resizing (height, width), as transformers computes it.
    public func resizedSize(height h: Int, width w: Int) -> (Int, Int) {
        let (oh, ow) = Self.resizedSize(height: h, width: w, size: size)
        return (Swift.max(oh, 1), Swift.max(ow, 1))
    }

    static func resizedSize(height h: Int, width w: Int, size: Size) -> (Int, Int) {
        switch size {
        case .exact(let eh, let ew): return (eh, ew)
        case .shortestEdge(let edge):
            // get_resize_output_image_size(default_to_square=False)
            let (short, long) = w <= h ? (w, h) : (h, w)
            let newLong = Int(Double(edge) * Double(long) / Double(short))
            return w <= h ? (newLong, edge) : (edge, newLong)
        case .shortestEdgeCapped(var edge, let maxSize):
            // get_size_with_aspect_ratio
            let minOriginal = Double(Swift.min(h, w)), maxOriginal = Double(Swift.max(h, w))
            var raw: Double?
            if maxOriginal / minOriginal * Double(edge) > Double(maxSize) {
                raw = Double(maxSize) * minOriginal / maxOriginal
                edge = Int(raw!.rounded(.toNearestOrEven))
            }
            if (h <= w && h == edge) || (w <= h && w == edge) { return (h, w) }
            if w < h {
                let oh = raw.map { Int($0 * Double(h) / Double(w)) } ?? Int(Double(edge * h) / Double(w))
                return (oh, edge)
            }
            let ow = raw.map { Int($0 * Double(w) / Double(h)) } ?? Int(Double(edge * w) / Double(h))
            return (edge, ow)
        case .fitWithin(let maxH, let maxW):
            // get_image_size_for_max_height_width
            let scale = Swift.min(Double(maxH) / Double(h), Double(maxW) / Double(w))
            return (Int(Double(h) * scale), Int(Double(w) * scale))
        }
    }

    /// The output size (height, width) when it does not depend on the input image's size.
    public var fixedOutputSize: PixelSize? {
        if doPadBatch, let p = padSize { return p }
        return unpaddedFixedOutputSize
    }

    /// The fixed output size before any padding of the result.
    var unpaddedFixedOutputSize: PixelSize? {
        if doCenterCrop { return PixelSize(height: cropHeight, width: cropWidth) }
        guard doResize else { return nil }
        if cropPct != nil, case .shortestEdge(let edge) = size { return PixelSize(height: edge, width: edge) }
        if case .exact(let h, let w) = size { return PixelSize(height: h, width: w) }
        return nil
    }

    /// The output size for an input image of this size (padded to `padSize` when set; not the
    /// padding of a batch to its largest image).
    public func outputSize(height h: Int, width w: Int) -> PixelSize {
        var (h, w) = (h, w)
        if doPad { (h, w) = (Swift.max(h, w), Swift.max(h, w)) }
        if doResize {
            if cropPct != nil, case .shortestEdge(let edge) = size {
                (h, w) = (edge, edge)
            } else {
                (h, w) = resizedSize(height: h, width: w)
            }
        }
        if doCenterCrop { (h, w) = (cropHeight, cropWidth) }
        if doPadBatch, let p = padSize { (h, w) = (Swift.max(h, p.height), Swift.max(w, p.width)) }
        return PixelSize(height: h, width: w)
    }

    /// The resize step, ConvNeXT's rule included.
    func resize(_ img: RGBImage) -> RGBImage {
        if let pct = cropPct, case .shortestEdge(let edge) = size {
            if edge < 384 {
                let (h, w) = resizedSize(
                    height: img.height, width: img.width, size: .shortestEdge(Swift.max(Int(Double(edge) / pct), 1)))
                return img.resized(width: Swift.max(w, 1), height: Swift.max(h, 1), filter: resample).centerCropped(
                    height: edge, width: edge)
            }
            return img.resized(width: edge, height: edge, filter: resample)
        }
        let (h, w) = resizedSize(height: img.height, width: img.width)
        return img.resized(width: w, height: h, filter: resample)
    }

    private func resizedSize(height h: Int, width w: Int, size: Size) -> (Int, Int) {
        let (oh, ow) = Self.resizedSize(height: h, width: w, size: size)
        return (Swift.max(oh, 1), Swift.max(ow, 1))
    }

    /// One image → [3, H, W] f32.
    public func callAsFunction(_ image: RGBImage) -> Tensor {
        var img = image
        if doPad { img = img.paddedToSquare(background: padColor) }
        if doResize { img = resize(img) }
        if doCenterCrop { img = img.centerCropped(height: cropHeight, width: cropWidth) }
        let (h, w) = (img.height, img.width)
        let (outH, outW) =
            doPadBatch && padSize != nil ? (Swift.max(h, padSize!.height), Swift.max(w, padSize!.width)) : (h, w)
        let out = Tensor.zeros([3, outH, outW])
        let o = out.mutablePointer
        for c in 0..<3 {
            for y in 0..<h {
                for x in 0..<w {
                    let raw = img.pixels[(y * w + x) * 3 + c]
                    var v = doRescale ? Float(Double(raw) * rescaleFactor) : Float(raw)
                    if doNormalize { v = (v - mean[c]) / std[c] }
                    o[(c * outH + y) * outW + x] = v
                }
            }
        }
        return out
    }

    /// Images → [B, 3, H, W]. With `doPadBatch` and no `padSize`, each is padded (bottom, right,
    /// zeros) to the largest height and width in the batch, as transformers pads a batch.
    public func batch(_ images: [RGBImage]) -> Tensor {
        let each = images.map { self($0) }
        guard doPadBatch, padSize == nil, !each.isEmpty else { return stack(each, dim: 0) }
        let h = each.map { $0.shape[1] }.max()!, w = each.map { $0.shape[2] }.max()!
        return stack(
            each.map { t in t.shape[1] == h && t.shape[2] == w ? t : Self.padded(t, height: h, width: w) }, dim: 0)
    }

    static func padded(_ t: Tensor, height h: Int, width w: Int) -> Tensor {
        let (c, th, tw) = (t.shape[0], t.shape[1], t.shape[2])
        let out = Tensor.zeros([c, h, w])
        let src = t.toArray(), o = out.mutablePointer
        for ch in 0..<c {
            for y in 0..<th { for x in 0..<tw { o[(ch * h + y) * w + x] = src[(ch * th + y) * tw + x] } }
        }
        return out
    }
}

extension RGBImage {
    /// transformers' `center_crop`: the centred h×w region, the image zero-padded (centred, the
    /// extra pixel after) where it is smaller than the crop.
    public func centerCropped(height ch: Int, width cw: Int) -> RGBImage {
        if ch == height && cw == width { return self }
        let top = height >= ch ? (height - ch) / 2 : -Int((Double(ch - height) / 2).rounded(.up))
        let left = width >= cw ? (width - cw) / 2 : -Int((Double(cw - width) / 2).rounded(.up))
        var out = [UInt8](repeating: 0, count: ch * cw * 3)
        for y in 0..<ch {
            let sy = y + top
            guard sy >= 0 && sy < height else { continue }
            let x0 = Swift.max(0, -left), x1 = Swift.min(cw, width - left)
            guard x1 > x0 else { continue }
            let src = (sy * width + x0 + left) * 3, dst = (y * cw + x0) * 3
            out.replaceSubrange(dst..<(dst + (x1 - x0) * 3), with: pixels[src..<(src + (x1 - x0) * 3)])
        }
        return RGBImage(width: cw, height: ch, pixels: out)
    }
}
