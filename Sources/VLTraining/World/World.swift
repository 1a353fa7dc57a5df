import VLTensor

/// The kinds of question the world asks; VQA accuracy is reported per kind.
public enum QuestionType: String, CaseIterable, Codable, Sendable {
    case color, shape, count, position
    case yesNo = "yes/no"
}

public struct QuestionAnswer: Equatable, Codable, Sendable {
    public var question: String
    public var answer: String
    public var type: QuestionType
}

/// One scene with its caption and questions.
public struct WorldSample: Equatable, Codable, Sendable {
    public var id: String
    public var scene: Scene
    public var caption: String
    public var questions: [QuestionAnswer]
}

/// The world's splits. `train`, `validation` and `test` never contain a held-out colour–shape
/// pair; every `compositional` scene contains at least one, to test generalisation to new pairs.
public enum WorldSplit: String, CaseIterable, Codable, Sendable {
    case train, validation, test, compositional

    var seedOffset: UInt64 {
        switch self {
        case .train: return 0
        case .validation: return 1_000_003
        case .test: return 2_000_003
        case .compositional: return 3_000_017
        }
    }
}

/// A deterministic generator of the world: the same seed, split and count give the same samples.
public struct World: Sendable {
    public var imageSize = 64
    /// Colour–shape pairs never seen in training (each colour and shape still appears elsewhere).
    public var heldOut: Set<String> = ["red triangle", "green diamond", "blue square", "yellow circle"]

    public init(imageSize: Int = 64) { self.imageSize = imageSize }

    public static let numberWords = ["zero", "one", "two", "three"]

    /// `count` samples of `split`; sample i depends only on (seed, split, i).
    public func samples(_ split: WorldSplit, count: Int, seed: UInt64 = 0) -> [WorldSample] {
        (0..<count).map { i in
            var rng = RandomGenerator(seed: seed &* 0x9E37_79B9 &+ split.seedOffset &+ UInt64(i) &* 7919)
            let scene = makeScene(compositional: split == .compositional, rng: &rng)
            return WorldSample(
                id: "\(split.rawValue)-\(i)", scene: scene, caption: caption(scene),
                questions: questions(scene, rng: &rng))
        }
    }

    /// Every word a caption, question or answer can use, in a fixed order.
    public static var vocabulary: [String] {
        var words = [
            "a", "the", "of", "to", "left", "right", "and", ",", "from", "?", "is", "there", "what", "color",
            "shape", "object", "how", "many", "shapes", "are", "which", "on", "yes", "no",
        ]
        words +=
            ShapeSize.allCases.map(\.rawValue) + ShapeColor.allCases.map(\.rawValue)
            + ShapeKind.allCases.map(\.rawValue)
        words += numberWords.dropFirst()
        return words
    }

    // MARK: - Scenes

    func makeScene(compositional: Bool, rng: inout RandomGenerator) -> Scene {
        while true {
            let count = 1 + Int(rng.next() % 3)
            var objects: [SceneObject] = []
            var attempts = 0
            while objects.count < count && attempts < 200 {
                attempts += 1
                let shape = ShapeKind.allCases[Int(rng.next() % 4)]
                let color = ShapeColor.allCases[Int(rng.next() % 6)]
                // One object per shape and per colour, so "the circle" and "the red object" are unambiguous.
                if objects.contains(where: { $0.shape == shape || $0.color == color }) { continue }
                if !compositional && heldOut.contains("\(color.rawValue) \(shape.rawValue)") { continue }
                let size: ShapeSize = rng.next() % 2 == 0 ? .small : .large
                let radius = size == .small ? imageSize / 8 + Int(rng.next() % 2) : imageSize / 5 + Int(rng.next() % 3)
                let x = radius + Int(rng.next() % UInt64(imageSize - 2 * radius))
                let y = radius + Int(rng.next() % UInt64(imageSize - 2 * radius))
                let candidate = SceneObject(shape: shape, color: color, size: size, x: x, y: y, radius: radius)
                // Apart, and far enough apart horizontally for "left" and "right" to be clear.
                if objects.contains(where: { o in
                    let d = (o.x - x) * (o.x - x) + (o.y - y) * (o.y - y)
                    return d <= (o.radius + radius + 2) * (o.radius + radius + 2) || abs(o.x - x) < 6
                }) {
                    continue
                }
                objects.append(candidate)
            }
            guard objects.count == count else { continue }
            objects.sort { $0.x < $1.x }
            let scene = Scene(objects: objects, noiseSeed: rng.next(), imageSize: imageSize)
            if compositional
                && !objects.contains(where: { heldOut.contains("\($0.color.rawValue) \($0.shape.rawValue)") })
            {
                continue
            }
            return scene
        }
    }

    /// The same scene with one object's shape changed (to a shape the scene lacks, never making a
    /// held-out pair): a hard negative that only shape tells apart, as NegCLIP-style training uses.
    public func shapeTwin(of sample: WorldSample, rng: inout RandomGenerator) -> WorldSample? {
        var scene = sample.scene
        for k in (0..<scene.objects.count).shuffled(using: &rng) {
            let o = scene.objects[k]
            let options = ShapeKind.allCases.filter { s in
                !scene.objects.contains { $0.shape == s } && !heldOut.contains("\(o.color.rawValue) \(s.rawValue)")
            }
            guard let shape = options.randomElement(using: &rng) else { continue }
            scene.objects[k].shape = shape
            return WorldSample(id: sample.id + "-twin", scene: scene, caption: caption(scene), questions: [])
        }
        return nil
    }

    // MARK: - Language

    /// Objects left to right: "a small red circle", "… to the left of …", "… , … and … from left to right".
    func caption(_ scene: Scene) -> String {
        let phrases = scene.objects.map { "a \($0.phrase)" }
        switch phrases.count {
        case 1: return phrases[0]
        case 2: return "\(phrases[0]) to the left of \(phrases[1])"
        default: return "\(phrases[0]) , \(phrases[1]) and \(phrases[2]) from left to right"
        }
    }

    /// One question of each kind that applies to the scene, in a fixed order of kinds.
    func questions(_ scene: Scene, rng: inout RandomGenerator) -> [QuestionAnswer] {
        let objects = scene.objects
        let pick = objects[Int(rng.next() % UInt64(objects.count))]
        var qa = [
            QuestionAnswer(
                question: "what color is the \(pick.shape.rawValue) ?", answer: pick.color.rawValue, type: .color),
            QuestionAnswer(
                question: "what shape is the \(pick.color.rawValue) object ?", answer: pick.shape.rawValue, type: .shape
            ),
            QuestionAnswer(
                question: "how many shapes are there ?", answer: World.numberWords[objects.count], type: .count),
        ]
        if objects.count > 1 {
            let leftSide = rng.next() % 2 == 0
            let o = leftSide ? objects.first! : objects.last!
            qa.append(
                QuestionAnswer(
                    question: "which shape is on the \(leftSide ? "left" : "right") ?",
                    answer: o.shape.rawValue, type: .position))
        }
        // Half the yes/no questions ask about a pair that is there, half about one that is not.
        let present = rng.next() % 2 == 0
        var color = pick.color, shape = pick.shape
        if !present {
            repeat {
                color = ShapeColor.allCases[Int(rng.next() % 6)]
                shape = ShapeKind.allCases[Int(rng.next() % 4)]
            } while objects.contains(where: { $0.color == color && $0.shape == shape })
        }
        qa.append(
            QuestionAnswer(
                question: "is there a \(color.rawValue) \(shape.rawValue) ?", answer: present ? "yes" : "no",
                type: .yesNo))
        return qa
    }
}
