import VLTensor

/// Records named activations during a forward pass, for comparing a model layer by layer with
/// the Python reference (`tools/debug/compare_activations.py` dumps the same names there).
/// Names are dotted module paths (`vision_model.encoder.layers.3`) of modules that call
/// `captured(_:)` on their output.
public final class ActivationCapture {
    /// The capture in progress, if any.
    public nonisolated(unsafe) static var current: ActivationCapture?

    public private(set) var activations: [(String, Tensor)] = []
    private let include: (String) -> Bool

    public init(include: @escaping (String) -> Bool = { _ in true }) { self.include = include }

    /// Runs `body` with this capture active and the module paths of `model` assigned.
    public func run<T>(on model: Module, _ body: () throws -> T) rethrows -> T {
        for (path, m) in model.namedModules() { m.path = path }
        let previous = ActivationCapture.current
        ActivationCapture.current = self
        defer { ActivationCapture.current = previous }
        return try body()
    }

    func record(_ name: String, _ t: Tensor) {
        if include(name) { activations.append((name, t.detach().clone())) }
    }

    /// Activations by name; a name recorded twice (a module called twice) gets a `#n` suffix.
    public func byName() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, t) in activations {
            var key = name, n = 1
            while result[key] != nil { key = "\(name)#\(n)"; n += 1 }
            result[key] = t
        }
        return result
    }
}

extension Module {
    /// The seam every module's output passes through: applies an attached bottleneck adapter, then
    /// hands the result to the active capture under this module's path.
    @inline(__always)
    public func captured(_ output: Tensor) -> Tensor {
        let result = adapter.map { $0(output) } ?? output
        if let capture = ActivationCapture.current { capture.record(path, result) }
        return result
    }
}
