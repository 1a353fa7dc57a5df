/// Reverse-mode autodiff. An op whose inputs require a gradient records a `GradNode` on its
/// output; `backward()` walks the graph in reverse topological order. Gradients are computed with
/// recording switched off (no higher-order gradients).
final class GradNode {
    let inputs: [Tensor]
    /// Maps the gradient of the output to the gradients of the inputs (nil: no gradient).
    let backward: (Tensor) -> [Tensor?]

    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

public enum GradMode {
    /// Whether ops record the graph. Process-wide; `noGrad` switches it off for a scope.
    public nonisolated(unsafe) static var isEnabled = true
}

/// Runs `body` without recording: no tape, no extra memory (inference).
public func noGrad<T>(_ body: () throws -> T) rethrows -> T {
    let previous = GradMode.isEnabled
    GradMode.isEnabled = false
    defer { GradMode.isEnabled = previous }
    return try body()
}

/// Attaches a backward function to `output` when recording is on and an input requires a gradient.
@inline(__always)
public func record(_ output: Tensor, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
    guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
    output.gradNode = GradNode(inputs: inputs, backward: backward)
    output.requiresGrad = true
    return output
}

extension Tensor {
    /// Whether this tensor was produced by a recorded op (as opposed to a leaf).
    public var isLeaf: Bool { gradNode == nil }

    /// Accumulates d(self)/d(leaf) into `leaf.grad` for every leaf that requires a gradient.
    /// `gradient` defaults to ones (a scalar loss). The graph is released on the way, so
    /// `backward()` runs once per forward pass.
    public func backward(_ gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require a gradient")
        let seed = gradient ?? Tensor.full(shape, 1)
        precondition(seed.shape == shape, "gradient shape \(seed.shape) does not match \(shape)")
        noGrad {
            let order = topologicalOrder()
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
            for t in order {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                guard let node = t.gradNode else {
                    t.accumulateGrad(g)
                    continue
                }
                let inputGrads = node.backward(g)
                // Free the graph as it is consumed (PyTorch's retain_graph=False): backward closures
                // that use their op's output would otherwise keep it, and the whole graph, alive.
                t.gradNode = nil
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.requiresGrad else { continue }
                    precondition(
                        ig.shape == input.shape,
                        "internal: gradient \(ig.shape) for input \(input.shape)")
                    let key = ObjectIdentifier(input)
                    if let existing = grads[key] { grads[key] = existing + ig } else { grads[key] = ig }
                }
            }
        }
    }

    func accumulateGrad(_ g: Tensor) {
        if let existing = grad {
            existing.addInPlace(g)
        } else {
            grad = g.materialize(as: .f32)  // own the memory: g may alias another buffer
        }
    }

    /// Nodes reachable from self, outputs before inputs.
    private func topologicalOrder() -> [Tensor] {
        var visited = Set<ObjectIdentifier>()
        var order: [Tensor] = []
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            let id = ObjectIdentifier(t)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((t, true))
            for input in t.gradNode?.inputs ?? [] where input.requiresGrad {
                if !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
            }
        }
        return order.reversed()
    }

    /// In-place `self += other` on an f32 tensor (same shape). Not recorded.
    public func addInPlace(_ other: Tensor) {
        precondition(shape == other.shape && isContiguous && dtype == .f32)
        let o = other.contiguous()
        let d = mutablePointer, s = o.pointer
        for i in 0..<count { d[i] += s[i] }
    }

    /// Clears the gradient.
    public func zeroGrad() { grad = nil }
}
