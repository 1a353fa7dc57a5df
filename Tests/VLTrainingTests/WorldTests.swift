import Foundation
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining

final class WorldTests: XCTestCase {
    let world = World()

    func testTheSameSeedGivesTheSameWorldAndOtherSeedsAnother() {
        XCTAssertEqual(world.samples(.train, count: 30, seed: 5), world.samples(.train, count: 30, seed: 5))
        XCTAssertNotEqual(
            world.samples(.train, count: 30, seed: 5).map(\.caption),
            world.samples(.train, count: 30, seed: 6).map(\.caption))
        XCTAssertNotEqual(world.samples(.train, count: 30).map(\.scene), world.samples(.test, count: 30).map(\.scene))
    }

    func testHeldOutPairsAppearOnlyInTheCompositionalSplit() {
        func pairs(_ s: WorldSample) -> [String] { s.scene.objects.map { "\($0.color.rawValue) \($0.shape.rawValue)" } }
        for split in [WorldSplit.train, .validation, .test] {
            for s in world.samples(split, count: 300) {
                XCTAssertTrue(Set(pairs(s)).isDisjoint(with: world.heldOut), "\(s.id): \(s.caption)")
            }
        }
        for s in world.samples(.compositional, count: 100) {
            XCTAssertFalse(Set(pairs(s)).isDisjoint(with: world.heldOut), "\(s.id): \(s.caption)")
        }
    }

    func testQuestionsAreAnsweredByTheScene() {
        for s in world.samples(.train, count: 200) {
            let objects = s.scene.objects
            XCTAssertEqual(objects.map(\.x), objects.map(\.x).sorted(), "objects are stored left to right")
            for qa in s.questions {
                let words = qa.question.split(separator: " ").map(String.init)
                switch qa.type {
                case .color:
                    XCTAssertEqual(objects.first { $0.shape.rawValue == words[4] }?.color.rawValue, qa.answer)
                case .shape:
                    XCTAssertEqual(objects.first { $0.color.rawValue == words[4] }?.shape.rawValue, qa.answer)
                case .count:
                    XCTAssertEqual(World.numberWords[objects.count], qa.answer)
                case .position:
                    XCTAssertEqual((words[5] == "left" ? objects.first : objects.last)?.shape.rawValue, qa.answer)
                case .yesNo:
                    let present = objects.contains { $0.color.rawValue == words[3] && $0.shape.rawValue == words[4] }
                    XCTAssertEqual(present ? "yes" : "no", qa.answer)
                }
            }
            XCTAssertTrue(s.caption.hasPrefix("a \(objects[0].phrase)"), s.caption)
        }
    }

    func testEveryWordOfTheWorldIsInTheVocabulary() {
        let vocabulary = Set(World.vocabulary)
        for s in world.samples(.train, count: 200) + world.samples(.compositional, count: 50) {
            for text in [s.caption] + s.questions.flatMap({ [$0.question, $0.answer] }) {
                for word in text.split(separator: " ") {
                    XCTAssertTrue(vocabulary.contains(String(word)), "\(word) in \(text)")
                }
            }
        }
    }

    func testTheLanguageModelTokenizerRoundTripsTheWorldsText() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-world-tok-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: dir)
        let tokenizer = try Tokenizer(directory: dir)
        XCTAssertEqual(tokenizer.bosTokenId, 1)
        XCTAssertEqual(tokenizer.eosTokenId, 2)
        XCTAssertEqual(tokenizer.padTokenId, 3)
        let prompt = LlavaAlignment.prompt("what color is the circle ?")
        let ids = tokenizer.encode(prompt)
        XCTAssertEqual(ids.first, 1)
        XCTAssertEqual(ids.filter { $0 == 4 }.count, 1, "<image> is one token")
        // As LLaMA-2's tokenizer, the text after a special token starts a new "▁" word.
        XCTAssertEqual(
            tokenizer.decode(ids, skipSpecialTokens: false), "<s> USER: <image> \nwhat color is the circle ? ASSISTANT:"
        )
        for s in world.samples(.train, count: 50) {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(s.caption), skipSpecialTokens: true), s.caption)
            XCTAssertFalse(tokenizer.encode(s.caption).contains(0), "no unknown tokens in \(s.caption)")
        }
        for word in World.vocabulary + WorldTokenizers.conversationWords {
            XCTAssertEqual(tokenizer.encode(word, addSpecialTokens: false).count, 1, "\(word) is one token")
        }
    }

    func testTheCLIPTokenizerRoundTripsCaptionsAndEndsWithItsSpecialTokens() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-world-clip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let size = try WorldTokenizers.writeCLIPTokenizer(to: dir, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: dir)
        XCTAssertEqual(tokenizer.bosTokenId, size - 2)
        XCTAssertEqual(tokenizer.eosTokenId, size - 1)
        XCTAssertEqual(tokenizer.maxLength, 32)
        for s in world.samples(.train, count: 50) {
            let ids = tokenizer.encode(s.caption)
            XCTAssertLessThanOrEqual(ids.count, 32)
            XCTAssertEqual(tokenizer.decode(ids).trimmingCharacters(in: .whitespaces), s.caption)
        }
        for word in World.vocabulary {
            XCTAssertEqual(tokenizer.encode(word, addSpecialTokens: false).count, 1, "\(word) is one token")
        }
    }
}

extension WorldTests {
    func testShapeTwinsDifferInExactlyOneShapeAndStayInTheTrainingDistribution() {
        var rng = RandomGenerator(seed: 9)
        var twins = 0
        for s in world.samples(.train, count: 200) {
            guard let t = world.shapeTwin(of: s, rng: &rng) else { continue }
            twins += 1
            let changed = zip(s.scene.objects, t.scene.objects).filter { $0.shape != $1.shape }
            XCTAssertEqual(changed.count, 1, s.caption)
            XCTAssertEqual(
                zip(s.scene.objects, t.scene.objects).filter { $0.color != $1.color || $0.x != $1.x }.count, 0)
            XCTAssertEqual(Set(t.scene.objects.map(\.shape)).count, t.scene.objects.count, "shapes stay unique")
            XCTAssertTrue(
                t.scene.objects.allSatisfy { !world.heldOut.contains("\($0.color.rawValue) \($0.shape.rawValue)") })
            XCTAssertNotEqual(t.caption, s.caption)
            XCTAssertEqual(t.caption.split(separator: " ").count, s.caption.split(separator: " ").count)
        }
        XCTAssertGreaterThan(twins, 190, "almost every scene has a twin")
    }
}
