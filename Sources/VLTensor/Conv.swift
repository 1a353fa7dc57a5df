// 2-D convolution as im2col + GEMM. When kernel == stride and there is no padding (ViT patch
// embedding), the columns are a plain rearrangement of the pixels.

/// Convolution of x [B, C, H, W] with weight [O, C, kh, kw] → [B, O, Ho, Wo].
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d expects [B,C,H,W] input and [O,C,kh,kw] weight")
    let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
    precondition(weight.shape[1] == c, "conv2d: input has \(c) channels, weight expects \(weight.shape[1])")
    let geo = ConvGeometry(c: c, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding)
    precondition(geo.ho > 0 && geo.wo > 0, "conv2d: kernel \(kh)×\(kw) larger than padded input \(h)×\(w)")
    let xd = x.dense, wd = weight.dense
    let out = Tensor.uninitialized([b, o, geo.ho, geo.wo])
    let rows = c * kh * kw, cols = geo.ho * geo.wo
    let col = Tensor.uninitialized([b, rows, cols])
    Parallel.forRange(b) { r in
        for i in r { geo.im2col(xd.pointer + i * c * h * w, col.mutablePointer + i * rows * cols) }
    }
    for i in 0..<b {
        let po = out.mutablePointer + i * o * cols
        var beta: Float = 0
        if let bias {
            let bp = bias.dense.pointer
            for oc in 0..<o { (po + oc * cols).update(repeating: bp[oc], count: cols) }
            beta = 1
        }
        sgemm(
            transA: false, transB: false, m: o, n: cols, k: rows, alpha: 1, a: wd.pointer, lda: rows,
            b: col.pointer + i * rows * cols, ldb: cols, beta: beta, c: po, ldc: cols)
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return record(out, inputs) { g in
        let gd = g.dense.reshape([b, o, cols])
        let w2 = wd.reshape([o, rows])
        var gx: Tensor?
        if x.requiresGrad {
            let gcol = matmulForward(w2.mT, gd)  // [b, rows, cols]
            let dx = Tensor.zeros(x.shape)
            Parallel.forRange(b) { r in
                for i in r { geo.col2im(gcol.pointer + i * rows * cols, dx.mutablePointer + i * c * h * w) }
            }
            gx = dx
        }
        let gw = weight.requiresGrad ? matmulForward(gd, col.mT).sum(0).reshape(weight.shape) : nil
        var grads: [Tensor?] = [gx, gw]
        if let bias { grads.append(bias.requiresGrad ? gd.sum(axes: [0, 2]) : nil) }
        return grads
    }
}

/// Index arithmetic shared by im2col and its adjoint.
struct ConvGeometry {
    let c, h, w, kh, kw, stride, padding, ho, wo: Int

    init(c: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, padding: Int) {
        (self.c, self.h, self.w, self.kh, self.kw, self.stride, self.padding) = (c, h, w, kh, kw, stride, padding)
        ho = (h + 2 * padding - kh) / stride + 1
        wo = (w + 2 * padding - kw) / stride + 1
    }

    /// col[(ci, ky, kx), (oy, ox)] = x[ci, oy·s + ky − p, ox·s + kx − p] (0 outside).
    func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        let cols = ho * wo
        for ci in 0..<c {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = col + ((ci * kh + ky) * kw + kx) * cols
                    for oy in 0..<ho {
                        let iy = oy * stride + ky - padding
                        let dst = row + oy * wo
                        if iy < 0 || iy >= h {
                            dst.update(repeating: 0, count: wo)
                            continue
                        }
                        let src = x + (ci * h + iy) * w
                        for ox in 0..<wo {
                            let ix = ox * stride + kx - padding
                            dst[ox] = ix >= 0 && ix < w ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: accumulates columns back into the image.
    func col2im(_ col: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>) {
        let cols = ho * wo
        for ci in 0..<c {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = col + ((ci * kh + ky) * kw + kx) * cols
                    for oy in 0..<ho {
                        let iy = oy * stride + ky - padding
                        if iy < 0 || iy >= h { continue }
                        let dst = x + (ci * h + iy) * w
                        for ox in 0..<wo {
                            let ix = ox * stride + kx - padding
                            if ix >= 0 && ix < w { dst[ix] += row[oy * wo + ox] }
                        }
                    }
                }
            }
        }
    }
}
