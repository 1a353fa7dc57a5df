/// A small seedable generator (xoshiro256**), so runs are reproducible across platforms.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        if let v = spareNormal {
            spareNormal = nil
            return v
        }
        var u1 = nextFloat()
        while u1 <= Float.leastNormalMagnitude { u1 = nextFloat() }
        let u2 = nextFloat()
        let r = (-2 * _log(u1)).squareRoot()
        let theta = 2 * Float.pi * u2
        spareNormal = r * _sin(theta)
        return r * _cos(theta)
    }

    /// The generator's full state (four words, plus a cached normal deviate as a fifth word when
    /// one is pending), so a training run can be checkpointed and resumed bit for bit.
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3] + (spareNormal.map { [UInt64($0.bitPattern)] } ?? []) }
        set {
            precondition(newValue.count == 4 || newValue.count == 5, "a generator state has 4 or 5 words")
            s = (newValue[0], newValue[1], newValue[2], newValue[3])
            spareNormal = newValue.count == 5 ? Float(bitPattern: UInt32(truncatingIfNeeded: newValue[4])) : nil
        }
    }

    /// Uniform integer in 0..<n.
    public mutating func nextInt(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) func _log(_ x: Float) -> Float { logf(x) }
@inline(__always) func _sin(_ x: Float) -> Float { sinf(x) }
@inline(__always) func _cos(_ x: Float) -> Float { cosf(x) }

/// The process-wide generator for parameter initialisation and dropout; `seed` makes runs repeat.
public enum GlobalRandom {
    public nonisolated(unsafe) static var generator = RandomGenerator(seed: 0)
    public static func seed(_ s: UInt64) { generator = RandomGenerator(seed: s) }
}
