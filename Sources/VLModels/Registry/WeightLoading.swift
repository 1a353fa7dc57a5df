import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

/// How weights are held in memory for computing.
public enum WeightFormat: String, CaseIterable {
    /// Every floating-point weight as f32 (f16/bf16 checkpoints are widened once at load).
    case f32
    /// Matrices as bf16 (2 bytes a weight; bf16 GEMM/GEMV kernels), the vision tower's too (its
    /// encode is GEMM-bound: twice the f32 speed with AVX512-BF16); vectors and convolutions stay f32.
    case bf16
    /// As the file stores the weights where VLKit has kernels for that: a GGUF file's quantised
    /// matrices stay in their blocks, f16/bf16 matrices become bf16; everything else as `.f32`.
    case auto
}

/// Loads the weights of a Hugging Face directory into `model` by name, strictly: every missing,
/// unexpected or mis-shaped key is reported at once. `keyMap` renames checkpoint keys onto the
/// model's names; `ignore` drops keys that the model legitimately lacks (e.g. a tied lm_head);
/// `keepInitialised` names parameters the checkpoint may lack (heads added for training).
public func loadWeights(
    into model: Module, from directory: ModelDirectory, keyMap: (String) -> String = { $0 },
    ignore: (String) -> Bool = { _ in false }, keepInitialised: (String) -> Bool = { _ in false },
    format: WeightFormat = .f32
) throws {
    let checkpoint = try directory.checkpoint()
    var state: [String: Tensor] = [:]
    // A GGUF file's quantised matrices go to their Linear layers as they are (unless de-quantising: .f32).
    let linears =
        format == .f32 || directory.gguf == nil
        ? [:]
        : Dictionary(
            model.namedModules().compactMap { name, m in
                (m as? Linear).map { (name.isEmpty ? "weight" : name + ".weight", $0) }
            }, uniquingKeysWith: { a, _ in a })
    for name in checkpoint.names where !ignore(name) {
        let key = keyMap(name)
        if let linear = linears[key], let q = try checkpoint.quantizedMatrix(name) {
            guard q.n == linear.outFeatures && q.k == linear.inFeatures else {
                throw ConfigError(
                    "\(directory.url.path): \(name) is \(q.n)×\(q.k), the model expects \(linear.weight.shape)")
            }
            linear.use(q)
            state[key] = linear.weight.value
            continue
        }
        let t = try checkpoint.tensor(name)
        let lowPrecision =
            (format == .bf16 || (format == .auto && directory.gguf != nil && t.dtype != .f32)) && t.rank == 2
            && t.dtype.isFloatingPoint
        let value =
            lowPrecision
            ? (t.dtype == .bf16 ? t : t.to(.bf16, hugePages: true))
            : (t.dtype == .f16 || t.dtype == .bf16 ? t.to(.f32, hugePages: true) : t)
        if value.dtype != t.dtype { checkpoint.releasePages(name) }  // the converted copy is what stays
        state[key] = value
    }
    for (name, p) in model.namedParameters() where state[name] == nil && keepInitialised(name) { state[name] = p.value }
    do {
        try model.load(stateDict: state)
    } catch let e as StateDictError {
        throw ConfigError("\(directory.url.path): \(e)")
    }
}
