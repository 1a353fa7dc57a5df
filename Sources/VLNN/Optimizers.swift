import CKernels
import Foundation
import VLTensor

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Applies one update to every trainable parameter that has a gradient.
    func step()
}

extension Optimizer {
    /// Clears the gradients of the optimised parameters.
    public func zeroGrad(_ params: [Parameter]) { for p in params { p.value.grad = nil } }
}

/// AdamW with decoupled weight decay, bias correction computed exactly as torch.optim.AdamW.
public final class AdamW: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1, beta2, eps, weightDecay: Float
    public private(set) var stepCount = 0
    private var m: [ObjectIdentifier: Tensor] = [:]
    private var v: [ObjectIdentifier: Tensor] = [:]

    public init(
        _ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        eps: Float = 1e-8, weightDecay: Float = 0.01
    ) {
        self.parameters = parameters
        learningRate = lr
        (beta1, beta2) = betas
        self.eps = eps
        self.weightDecay = weightDecay
    }

    public func step() {
        stepCount += 1
        let bc1 = 1 - Foundation.pow(beta1, Float(stepCount))
        let bc2Sqrt = (1 - Foundation.pow(beta2, Float(stepCount))).squareRoot()
        let stepSize = learningRate / bc1
        for p in parameters where p.isTrainable {
            guard let g = p.value.grad?.dense else { continue }
            let w = ownedF32(p)
            let id = ObjectIdentifier(p)
            let mt = m[id] ?? Tensor.zeros(w.shape), vt = v[id] ?? Tensor.zeros(w.shape)
            (m[id], v[id]) = (mt, vt)
            let pw = w.mutablePointer, pg = g.pointer, pm = mt.mutablePointer, pv = vt.mutablePointer
            let h = ck_adamw_params(
                decay: 1 - learningRate * weightDecay, beta1: beta1, beta2: beta2,
                bias2_sqrt: bc2Sqrt, eps: eps, step_size: stepSize)
            withUnsafePointer(to: h) { hp in
                Parallel.forRange(w.count, grain: 1 << 14) { r in
                    let i = r.lowerBound
                    ck_adamw(pw + i, pg + i, pm + i, pv + i, r.count, hp)
                }
            }
        }
    }

    /// Moment estimates by parameter, for checkpoints.
    public func state(of p: Parameter) -> (m: Tensor, v: Tensor)? {
        let id = ObjectIdentifier(p)
        guard let mt = m[id], let vt = v[id] else { return nil }
        return (mt, vt)
    }

    public func setState(of p: Parameter, m mt: Tensor, v vt: Tensor, step: Int) {
        m[ObjectIdentifier(p)] = mt.clone()
        v[ObjectIdentifier(p)] = vt.clone()
        stepCount = step
    }
}

/// SGD with momentum and weight decay as torch.optim.SGD (dampening 0, optional Nesterov).
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum, weightDecay: Float
    public let nesterov: Bool
    private var buffers: [ObjectIdentifier: Tensor] = [:]

    public init(
        _ parameters: [Parameter], lr: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false
    ) {
        self.parameters = parameters
        learningRate = lr
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step() {
        for p in parameters where p.isTrainable {
            guard let g0 = p.value.grad?.dense else { continue }
            let w = ownedF32(p)
            let g = g0.clone()
            let pw = w.mutablePointer, pg = g.mutablePointer
            for i in 0..<w.count { pg[i] += weightDecay * pw[i] }
            if momentum != 0 {
                let id = ObjectIdentifier(p)
                if let buf = buffers[id] {
                    let pb = buf.mutablePointer
                    for i in 0..<w.count { pb[i] = momentum * pb[i] + pg[i] }
                } else {
                    buffers[id] = g.clone()
                }
                let pb = buffers[id]!.pointer
                for i in 0..<w.count { pg[i] = nesterov ? pg[i] + momentum * pb[i] : pb[i] }
            }
            for i in 0..<w.count { pw[i] -= learningRate * pg[i] }
        }
    }
}

/// Makes sure a parameter owns writable f32 memory (a loaded bf16 or mmap'd weight is copied once).
func ownedF32(_ p: Parameter) -> Tensor {
    if p.value.dtype != .f32 || !p.value.isContiguous || p.value.storage.isBorrowed {
        let grad = p.value.grad
        p.value = p.value.clone().to(.f32).detach()
        p.value.grad = grad
    }
    return p.value
}

/// Scales all gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_).
/// Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ params: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in params {
        guard let g = p.value.grad else { continue }
        let d = g.dense
        for i in 0..<d.count { total += Double(d.pointer[i]) * Double(d.pointer[i]) }
    }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in params {
            guard let g = p.value.grad else { continue }
            let gp = g.mutablePointer
            for i in 0..<g.count { gp[i] *= coef }
        }
    }
    return norm
}

/// Learning rate at a step: linear warm-up from 0, then cosine decay to `minLR` (HF's
/// get_cosine_schedule_with_warmup when minLR = 0).
public struct WarmupCosineSchedule {
    public let baseLR: Float
    public let warmupSteps: Int
    public let totalSteps: Int
    public let minLR: Float

    public init(baseLR: Float, warmupSteps: Int, totalSteps: Int, minLR: Float = 0) {
        (self.baseLR, self.warmupSteps, self.totalSteps, self.minLR) = (baseLR, warmupSteps, totalSteps, minLR)
    }

    /// The rate for optimiser step `step` (0-based, the value used by that step).
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return baseLR * Float(step) / Float(Swift.max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
        let cosine = 0.5 * (1 + cos(Double.pi * Swift.min(progress, 1)))
        return minLR + (baseLR - minLR) * Float(cosine)
    }
}
