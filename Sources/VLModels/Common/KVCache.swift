import VLTensor

/// Keys and values of past positions for every decoder layer, in preallocated buffers
/// [rows, Hkv, capacity, D] that grow by doubling; attention reads the filled part in place.
///
/// Batch rows may hold different numbers of positions (continuous batching: a sequence joins the
/// batch with its own prefilled cache and leaves when it is done). Such ragged rows take one new
/// position at a time, and the forward pass masks each row's unused tail with `keyPadding(adding:)`.
public final class KVCache {
    final class Layer {
        var keys: Tensor
        var values: Tensor
        init(_ shape: [Int]) {
            keys = Tensor.zeros(shape)
            values = Tensor.zeros(shape)
        }
        var rowCapacity: Int { keys.shape[0] }
        var capacity: Int { keys.shape[2] }
    }

    private var layers: [Layer] = []
    /// Positions stored in each batch row (set by the first forward pass or by `appendRows`).
    public private(set) var rowLengths: [Int] = []
    private var pending = 0

    public init() {}

    /// Positions stored (the longest row; every row once a uniform forward pass completes).
    public var length: Int { rowLengths.max() ?? 0 }

    /// Batch rows held.
    public var rows: Int { rowLengths.count }

    var isUniform: Bool { rowLengths.allSatisfy { $0 == rowLengths.first } }

    /// Appends k, v [B, Hkv, L, D] for `layer` and returns all keys and values so far (views of
    /// `length + L` positions; a shorter row's extra positions are for `keyPadding` to mask).
    public func update(layer index: Int, keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
        let (b, h, l, d) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        if rowLengths.isEmpty { rowLengths = [Int](repeating: 0, count: b) }
        precondition(b == rows, "a batch of \(b) rows for a cache of \(rows)")
        precondition(l == 1 || isUniform, "rows of different lengths take one new position at a time")
        if index == layers.count { layers.append(Layer([b, h, Swift.max(16, l), d])) }
        let layer = layers[index]
        let needed = length + l
        reserve(layer, rows: b, positions: needed)
        if isUniform {
            layer.keys.narrowView(0, start: 0, length: b).narrowView(2, start: length, length: l).copyIn(k)
            layer.values.narrowView(0, start: 0, length: b).narrowView(2, start: length, length: l).copyIn(v)
        } else {
            for r in 0..<b {
                layer.keys.narrowView(0, start: r, length: 1).narrowView(2, start: rowLengths[r], length: 1).copyIn(
                    k.narrow(0, start: r, length: 1))
                layer.values.narrowView(0, start: r, length: 1).narrowView(2, start: rowLengths[r], length: 1).copyIn(
                    v.narrow(0, start: r, length: 1))
            }
        }
        pending = l
        return (
            layer.keys.narrowView(0, start: 0, length: b).narrowView(2, start: 0, length: needed),
            layer.values.narrowView(0, start: 0, length: b).narrowView(2, start: 0, length: needed)
        )
    }

    /// The key padding [rows, length + added] for a forward pass adding `added` positions: 1 where
    /// a row has a key, 0 past its end. Nil when every row has the same length.
    public func keyPadding(adding added: Int) -> Tensor? {
        guard !isUniform else { return nil }
        let width = length + added
        let mask = rowLengths.flatMap { n in (0..<width).map { $0 < n + added ? Float(1) : 0 } }
        return Tensor(mask, shape: [rows, width])
    }

    /// Marks the positions appended by the last forward pass as stored.
    public func commit() {
        rowLengths = rowLengths.map { $0 + pending }
        pending = 0
    }

    /// Forgets everything (a new conversation).
    public func reset() {
        rowLengths = []
        pending = 0
    }

    /// Appends the rows of `other` (a cache of the same model after a complete forward pass) as
    /// new rows that keep their lengths.
    public func appendRows(of other: KVCache) {
        precondition(layers.isEmpty || other.layers.count == layers.count, "caches of different models")
        let first = rows, added = other.rows
        for (i, source) in other.layers.enumerated() {
            if i == layers.count {
                var shape = source.keys.shape
                shape[0] = added
                layers.append(Layer(shape))
            }
            let layer = layers[i]
            reserve(layer, rows: first + added, positions: other.length)
            for kp in [\Layer.keys, \Layer.values] {
                layer[keyPath: kp].narrowView(0, start: first, length: added).narrowView(
                    2, start: 0, length: other.length
                )
                .copyIn(
                    source[keyPath: kp].narrowView(0, start: 0, length: added).narrowView(
                        2, start: 0, length: other.length))
            }
        }
        rowLengths += other.rowLengths
    }

    /// Removes batch row `row`; the last row moves into its place, so rows stay contiguous.
    public func removeRow(_ row: Int) {
        precondition(row >= 0 && row < rows, "row \(row) of a cache of \(rows)")
        let last = rows - 1
        if row != last {
            for layer in layers {
                for kp in [\Layer.keys, \Layer.values] {
                    layer[keyPath: kp].narrowView(0, start: row, length: 1).narrowView(
                        2, start: 0, length: rowLengths[last]
                    )
                    .copyIn(
                        layer[keyPath: kp].narrowView(0, start: last, length: 1).narrowView(
                            2, start: 0, length: rowLengths[last]))
                }
            }
            rowLengths[row] = rowLengths[last]
        }
        rowLengths.removeLast()
    }

    /// Grows a layer's buffers (by doubling) to hold `rows` rows of `positions` positions.
    private func reserve(_ layer: Layer, rows wanted: Int, positions: Int) {
        guard layer.rowCapacity < wanted || layer.capacity < positions else { return }
        var shape = layer.keys.shape
        shape[0] = Swift.max(wanted, layer.rowCapacity < wanted ? 2 * layer.rowCapacity : layer.rowCapacity)
        shape[2] = Swift.max(positions, layer.capacity < positions ? 2 * layer.capacity : layer.capacity)
        let kept = Swift.min(rows, layer.rowCapacity), keptLength = Swift.min(length, layer.capacity)
        for kp in [\Layer.keys, \Layer.values] {
            let bigger = Tensor.zeros(shape)
            if kept > 0 && keptLength > 0 {
                bigger.narrowView(0, start: 0, length: kept).narrowView(2, start: 0, length: keptLength)
                    .copyIn(
                        layer[keyPath: kp].narrowView(0, start: 0, length: kept).narrowView(
                            2, start: 0, length: keptLength))
            }
            layer[keyPath: kp] = bigger
        }
    }
}
