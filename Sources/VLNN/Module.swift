import VLTensor

/// A trainable tensor slot. Loading a checkpoint replaces `value` (possibly with a zero-copy,
/// f16/bf16 tensor); freezing switches off its gradient.
public final class Parameter {
    public var value: Tensor {
        didSet { value.requiresGrad = isTrainable }
    }
    public var isTrainable: Bool {
        didSet { value.requiresGrad = isTrainable }
    }

    /// Added by parameter-efficient fine-tuning (LoRA, bottleneck adapters, prefixes): not part of
    /// the base checkpoint, so strict loading of a base checkpoint does not miss it.
    public let isAdapter: Bool

    public init(_ value: Tensor, trainable: Bool = true, adapter: Bool = false) {
        self.value = value
        self.isTrainable = trainable
        self.isAdapter = adapter
        value.requiresGrad = trainable
    }

    public var grad: Tensor? { value.grad }
    public var shape: [Int] { value.shape }
}

/// A non-trainable tensor that belongs to the state dict (running statistics, fixed tables).
public final class Buffer {
    public var value: Tensor
    public init(_ value: Tensor) { self.value = value }
}

/// A node of the model tree. Children and parameters are found by reflection: a stored property
/// of type `Parameter`, `Buffer`, `Module` or `[Module]` (names "0", "1", …; optionals allowed)
/// is addressed by its property name, so properties are named exactly as the PyTorch/HF
/// checkpoint keys (`q_proj`, `layer_norm1`, `weight`) and state dicts load by name.
open class Module {
    /// Training mode (dropout active) or evaluation mode.
    public private(set) var isTraining = true
    /// Dotted path from the root, assigned when activations are captured.
    public internal(set) var path = ""
    /// Set by `attachBottleneckAdapters`: applied to the output this module hands to `captured(_:)`.
    public internal(set) var adapter: BottleneckAdapter?

    public init() {}

    /// Direct children with their names, in declaration order (containers that mirror a PyTorch
    /// `Sequential`/`ModuleList` override this to name them by index).
    open func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        for (name, value) in storedProperties() {
            if let m = value as? Module {
                result.append((name, m))
            } else if let list = value as? [Module] {
                for (i, m) in list.enumerated() { result.append(("\(name).\(i)", m)) }
            }
        }
        return result
    }

    /// Every module in the tree with its dotted path ("" for self).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var result = [(prefix, self)]
        for (name, child) in namedChildren() {
            result += child.namedModules(prefix: join(prefix, name))
        }
        return result
    }

    /// Every parameter with its dotted name, e.g. `encoder.layers.3.self_attn.q_proj.weight`.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        var result: [(String, Parameter)] = []
        for (name, value) in storedProperties() {
            if let p = value as? Parameter { result.append((join(prefix, name), p)) }
        }
        for (name, child) in namedChildren() {
            result += child.namedParameters(prefix: join(prefix, name))
        }
        return result
    }

    /// Every buffer with its dotted name.
    public func namedBuffers(prefix: String = "") -> [(String, Buffer)] {
        var result: [(String, Buffer)] = []
        for (name, value) in storedProperties() {
            if let b = value as? Buffer { result.append((join(prefix, name), b)) }
        }
        for (name, child) in namedChildren() {
            result += child.namedBuffers(prefix: join(prefix, name))
        }
        return result
    }

    public func parameters() -> [Parameter] { namedParameters().map(\.1) }
    public func trainableParameters() -> [Parameter] { parameters().filter(\.isTrainable) }

    /// Number of scalar parameters (all, or only trainable ones).
    public func parameterCount(trainableOnly: Bool = false) -> Int {
        parameters().filter { !trainableOnly || $0.isTrainable }.reduce(0) { $0 + $1.value.count }
    }

    /// Freezes every parameter whose name starts with one of `prefixes` (all when empty).
    public func freeze(_ prefixes: [String] = []) { setTrainable(false, prefixes) }
    public func unfreeze(_ prefixes: [String] = []) { setTrainable(true, prefixes) }

    private func setTrainable(_ trainable: Bool, _ prefixes: [String]) {
        for (name, p) in namedParameters()
        where prefixes.isEmpty || prefixes.contains(where: { name == $0 || name.hasPrefix($0 + ".") }) {
            p.isTrainable = trainable
        }
    }

    /// Quantises every Linear layer whose path starts with `prefix` (all when empty) for inference;
    /// returns how many were quantised and their size in bytes.
    @discardableResult
    public func quantize(_ format: QuantizationFormat, prefix: String = "") -> (layers: Int, bytes: Int) {
        var count = 0, bytes = 0
        for (name, m) in namedModules() where prefix.isEmpty || name == prefix || name.hasPrefix(prefix + ".") {
            if let linear = m as? Linear, !linear.weight.isAdapter, linear.quantize(format) {
                count += 1
                bytes += linear.quantized?.byteCount ?? 0
            }
        }
        return (count, bytes)
    }

    /// Switches the whole tree to training or evaluation mode.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on }
    }
    public func eval() { train(false) }

    /// Clears the gradients of every parameter.
    public func zeroGrad() { for p in parameters() { p.value.grad = nil } }

    /// Parameters and buffers by name; without adapter parameters, the keys of the base checkpoint.
    public func stateDict(includingAdapters: Bool = true) -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, p) in namedParameters() where includingAdapters || !p.isAdapter { d[n] = p.value }
        for (n, b) in namedBuffers() { d[n] = b.value }
        return d
    }

    /// Loads tensors by name. Strict loading reports every missing, unexpected and
    /// shape-mismatched key in one error; non-strict loading only reports mismatched shapes.
    /// Adapter parameters are never missing: a base checkpoint loads strictly into a model with
    /// adapters attached and leaves them as they are. Tensors keep their stored dtype (ops convert on use).
    public func load(stateDict: [String: Tensor], strict: Bool = true) throws {
        let params = Dictionary(namedParameters(), uniquingKeysWith: { a, _ in a })
        let buffers = Dictionary(namedBuffers(), uniquingKeysWith: { a, _ in a })
        try load(stateDict, into: params, buffers: buffers, strict: strict, requireAdapters: false)
    }

    /// Loads `stateDict` into exactly these slots, checking every name and shape first.
    func load(
        _ stateDict: [String: Tensor], into params: [String: Parameter], buffers: [String: Buffer],
        strict: Bool = true, requireAdapters: Bool
    ) throws {
        var report = StateDictError()
        for (name, t) in stateDict {
            if let p = params[name] {
                if p.shape != t.shape { report.mismatched.append((name, expected: p.shape, found: t.shape)) }
            } else if let b = buffers[name] {
                if b.value.shape != t.shape {
                    report.mismatched.append((name, expected: b.value.shape, found: t.shape))
                }
            } else {
                report.unexpected.append(name)
            }
        }
        let required = params.filter { requireAdapters || !$0.value.isAdapter }.map(\.key) + Array(buffers.keys)
        report.missing = required.filter { stateDict[$0] == nil }
        if !report.mismatched.isEmpty || (strict && !(report.missing.isEmpty && report.unexpected.isEmpty)) {
            throw report.sorted()
        }
        for (name, t) in stateDict {
            if let p = params[name] { p.value = t.detach() } else if let b = buffers[name] { b.value = t.detach() }
        }
    }

    private func storedProperties() -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let current = m {
            mirrors.append(current)
            m = current.superclassMirror
        }
        return mirrors.reversed().flatMap { mirror in
            mirror.children.compactMap { child in child.label.map { (Module.stripWrapperPrefix($0), child.value) } }
        }
    }

    /// `lazy var x` shows up as `$__lazy_storage_$_x`; report it as `x`.
    private static func stripWrapperPrefix(_ label: String) -> String {
        label.hasPrefix("$__lazy_storage_$_") ? String(label.dropFirst(18)) : label
    }

    private func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
}

/// Everything wrong with a state dict against a model, in one error.
public struct StateDictError: Error, CustomStringConvertible {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [(String, expected: [Int], found: [Int])] = []

    func sorted() -> StateDictError {
        var s = self
        s.missing.sort()
        s.unexpected.sort()
        s.mismatched.sort { $0.0 < $1.0 }
        return s
    }

    public var description: String {
        var lines = ["state dict does not match the model:"]
        if !missing.isEmpty { lines.append("  missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty {
            lines.append("  unexpected keys (\(unexpected.count)): " + unexpected.joined(separator: ", "))
        }
        for (n, e, f) in mismatched { lines.append("  shape mismatch for \(n): model \(e), checkpoint \(f)") }
        return lines.joined(separator: "\n")
    }
}
