import VLTensor

/// Resampling filters with Pillow's numbering (`Image.Resampling`).
public enum ResampleFilter: Int {
    case bilinear = 2
    case bicubic = 3

    var support: Double { self == .bicubic ? 2 : 1 }

    func weight(_ x0: Double) -> Double {
        let x = abs(x0)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:  // a = -0.5
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

extension RGBImage {
    /// Resizes exactly as Pillow's `Image.resize((width, height), resample)` on an 8-bit RGB image
    /// (libImaging/Resample.c): antialiasing support scaled when downscaling, coefficients
    /// normalised then rounded to 22-bit fixed point, two passes, each rounded and clipped to 8
    /// bits. The order of the passes is Pillow 13's (`ImagingResampleInner`): vertical first when
    /// the height shrinks by more than twice as many pixels as the width does, else horizontal
    /// first (Pillow 12 and older always went horizontal first; the two orders differ by at most
    /// one level on some pixels).
    public func resized(width outW: Int, height outH: Int, filter: ResampleFilter = .bicubic) -> RGBImage {
        precondition(outW > 0 && outH > 0, "resize to \(outW)×\(outH)")
        var image = self
        let verticalFirst = height - outH > 0 && height - outH > (width - outW) * 2
        if verticalFirst {
            if outH != height { image = image.resampledVertically(to: outH, filter: filter) }
            if outW != width { image = image.resampledHorizontally(to: outW, filter: filter) }
        } else {
            if outW != width { image = image.resampledHorizontally(to: outW, filter: filter) }
            if outH != height { image = image.resampledVertically(to: outH, filter: filter) }
        }
        return image
    }

    static let precisionBits = 32 - 8 - 2

    /// Per output pixel: the first input index, the count, and `taps` fixed-point weights.
    struct Coefficients {
        let starts: [Int]
        let counts: [Int]
        let weights: [Int32]
        let taps: Int
    }

    static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = Swift.max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outSize), counts = starts
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let inverse = 1 / filterScale
            let xmin = Swift.max(Int(center - support + 0.5), 0)
            let count = Swift.min(Int(center + support + 0.5), inSize) - xmin
            var total = 0.0
            for x in 0..<Swift.max(count, 0) {
                k[x] = filter.weight((Double(x + xmin) - center + 0.5) * inverse)
                total += k[x]
            }
            for x in 0..<Swift.max(count, 0) {
                let w = total != 0 ? k[x] / total : k[x]
                let fixed = w * Double(1 << precisionBits)
                weights[xx * taps + x] = Int32(w < 0 ? -0.5 + fixed : 0.5 + fixed)
            }
            starts[xx] = xmin
            counts[xx] = Swift.max(count, 0)
        }
        return Coefficients(starts: starts, counts: counts, weights: weights, taps: taps)
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        if v >= Int32(1) << (precisionBits + 8) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> precisionBits)
    }

    func resampledHorizontally(to outW: Int, filter: ResampleFilter) -> RGBImage {
        let c = RGBImage.coefficients(inSize: width, outSize: outW, filter: filter)
        var out = [UInt8](repeating: 0, count: outW * height * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                Parallel.forRange(height, grain: 16) { rows in
                    for y in rows {
                        for xx in 0..<outW {
                            var s0 = Int32(1) << (RGBImage.precisionBits - 1), s1 = s0, s2 = s0
                            let k = xx * c.taps
                            for x in 0..<c.counts[xx] {
                                let p = (y * width + c.starts[xx] + x) * 3, w = c.weights[k + x]
                                s0 &+= Int32(src[p]) &* w
                                s1 &+= Int32(src[p + 1]) &* w
                                s2 &+= Int32(src[p + 2]) &* w
                            }
                            let d = (y * outW + xx) * 3
                            dst[d] = RGBImage.clip8(s0)
                            dst[d + 1] = RGBImage.clip8(s1)
                            dst[d + 2] = RGBImage.clip8(s2)
                        }
                    }
                }
            }
        }
        return RGBImage(width: outW, height: height, pixels: out)
    }

    func resampledVertically(to outH: Int, filter: ResampleFilter) -> RGBImage {
        let c = RGBImage.coefficients(inSize: height, outSize: outH, filter: filter)
        var out = [UInt8](repeating: 0, count: width * outH * 3)
        let rowBytes = width * 3
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                Parallel.forRange(outH, grain: 16) { rows in
                    for yy in rows {
                        let k = yy * c.taps
                        for i in 0..<rowBytes {
                            var s = Int32(1) << (RGBImage.precisionBits - 1)
                            for y in 0..<c.counts[yy] {
                                s &+= Int32(src[(c.starts[yy] + y) * rowBytes + i]) &* c.weights[k + y]
                            }
                            dst[yy * rowBytes + i] = RGBImage.clip8(s)
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: outH, pixels: out)
    }
}
