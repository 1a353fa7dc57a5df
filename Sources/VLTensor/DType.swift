/// Element types a tensor can be stored in. Compute is always f32; f16/bf16 are storage formats
/// (weights), integer types hold ids and indices, u8/bool hold masks and raw bytes.
public enum DType: String, Sendable, CaseIterable {
    case f32, f16, bf16, i64, i32, u8, bool

    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64: return 8
        case .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// The dtype names used in safetensors headers.
    public init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "I64": self = .i64
        case "I32": self = .i32
        case "U8": self = .u8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    public var safetensorsName: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i64: return "I64"
        case .i32: return "I32"
        case .u8: return "U8"
        case .bool: return "BOOL"
        }
    }
}

// MARK: - Scalar conversions (bit-exact, round-to-nearest-even like PyTorch)

@inline(__always) public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

@inline(__always) public func floatToBF16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding = ((bits >> 16) & 1) &+ 0x7FFF
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

@inline(__always) public func f16ToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // Subnormal half: value = mant * 2^-24.
        let v = Float(mant) * Float(bitPattern: 0x3380_0000)
        return sign != 0 ? -v : v
    }
    if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

@inline(__always) public func floatToF16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let absBits = bits & 0x7FFF_FFFF
    if absBits >= 0x7F80_0000 {  // inf or nan
        return sign | 0x7C00 | (absBits > 0x7F80_0000 ? 0x200 : 0)
    }
    if absBits >= 0x477F_F000 { return sign | 0x7C00 }  // rounds to inf
    if absBits < 0x3880_0000 {  // subnormal or zero in half
        let v = Float(bitPattern: absBits) * Float(bitPattern: 0x4B80_0000)  // * 2^24
        return sign | UInt16(v.rounded(.toNearestOrEven))
    }
    let rounded = absBits &+ 0xFFF &+ ((absBits >> 13) & 1)
    return sign | UInt16(truncatingIfNeeded: (rounded &- 0x3800_0000) >> 13)
}
