import VLTensor

/// Keys and values of past positions for every decoder layer, in preallocated buffers
/// [B, Hkv, capacity, D] that grow by doubling; attention reads the filled part in place.
public final class KVCache {
    final class Layer {
        var keys: Tensor
        var values: Tensor
        init(_ shape: [Int]) {
            keys = Tensor.zeros(shape)
            values = Tensor.zeros(shape)
        }
    }

    private var layers: [Layer] = []
    /// Positions already stored (the same for every layer once a forward pass completes).
    public private(set) var length = 0
    private var pending = 0

    public init() {}

    /// Appends k, v [B, Hkv, L, D] for `layer` and returns all keys and values so far (views).
    public func update(layer index: Int, keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
        let (b, h, l, d) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        if index == layers.count { layers.append(Layer([b, h, Swift.max(16, l), d])) }
        let layer = layers[index]
        let needed = length + l
        if layer.keys.shape[2] < needed { grow(layer, to: Swift.max(needed, 2 * layer.keys.shape[2])) }
        layer.keys.narrowView(2, start: length, length: l).copyIn(k)
        layer.values.narrowView(2, start: length, length: l).copyIn(v)
        pending = l
        return (layer.keys.narrowView(2, start: 0, length: needed), layer.values.narrowView(2, start: 0, length: needed))
    }

    /// Marks the positions appended by the last forward pass as stored.
    public func commit() {
        length += pending
        pending = 0
    }

    /// Forgets everything (a new conversation).
    public func reset() {
        length = 0
        pending = 0
    }

    private func grow(_ layer: Layer, to capacity: Int) {
        var shape = layer.keys.shape
        shape[2] = capacity
        for kp in [\Layer.keys, \Layer.values] {
            let bigger = Tensor.zeros(shape)
            bigger.narrowView(2, start: 0, length: length).copyIn(layer[keyPath: kp].narrowView(2, start: 0, length: length))
            layer[keyPath: kp] = bigger
        }
    }
}
