import VLImaging
import VLTensor

/// The built-in world (DESIGN §4): small RGB scenes of 1–3 coloured shapes, deterministic from a
/// seed, with captions and question–answer pairs, so every recipe runs offline on two cores.

public enum ShapeKind: String, CaseIterable, Codable, Sendable {
    case circle, square, triangle, diamond
}

public enum ShapeColor: String, CaseIterable, Codable, Sendable {
    case red, green, blue, yellow, purple, cyan

    var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: return (220, 40, 40)
        case .green: return (40, 180, 60)
        case .blue: return (40, 70, 220)
        case .yellow: return (235, 215, 40)
        case .purple: return (150, 60, 190)
        case .cyan: return (40, 200, 210)
        }
    }
}

public enum ShapeSize: String, CaseIterable, Codable, Sendable {
    case small, large
}

/// One shape of a scene: what it is and where (centre and radius in pixels).
public struct SceneObject: Equatable, Codable, Sendable {
    public var shape: ShapeKind
    public var color: ShapeColor
    public var size: ShapeSize
    public var x: Int
    public var y: Int
    public var radius: Int

    /// "small red circle"
    public var phrase: String { "\(size.rawValue) \(color.rawValue) \(shape.rawValue)" }
}

/// A scene: its objects, left to right, and the seed of its background noise.
public struct Scene: Equatable, Codable, Sendable {
    public var objects: [SceneObject]
    public var noiseSeed: UInt64
    public var imageSize: Int

    /// Draws the scene: a light background with noise, then each shape in flat colour.
    public func render() -> RGBImage {
        let n = imageSize
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        var rng = RandomGenerator(seed: noiseSeed)
        for i in 0..<(n * n) {
            let v = UInt8(200 + Int(rng.nextFloat() * 40))
            pixels[3 * i] = v; pixels[3 * i + 1] = v; pixels[3 * i + 2] = v
        }
        for o in objects {
            let (r, g, b) = o.color.rgb
            for y in max(0, o.y - o.radius)...min(n - 1, o.y + o.radius) {
                for x in max(0, o.x - o.radius)...min(n - 1, o.x + o.radius) where o.covers(x, y) {
                    let p = 3 * (y * n + x)
                    pixels[p] = r; pixels[p + 1] = g; pixels[p + 2] = b
                }
            }
        }
        return RGBImage(width: n, height: n, pixels: pixels)
    }
}

extension SceneObject {
    /// Whether pixel (x, y) is inside the shape.
    func covers(_ px: Int, _ py: Int) -> Bool {
        let dx = Float(px - x), dy = Float(py - y), r = Float(radius)
        switch shape {
        case .circle: return dx * dx + dy * dy <= r * r
        case .square: return abs(dx) <= r * 0.85 && abs(dy) <= r * 0.85
        case .diamond: return abs(dx) + abs(dy) <= r
        case .triangle:
            // Apex up: rows from y - r to y + r widen linearly to the full base.
            guard dy >= -r && dy <= r else { return false }
            return abs(dx) <= (dy + r) / 2
        }
    }
}
