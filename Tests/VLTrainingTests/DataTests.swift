import Foundation
import VLImaging
import VLTensor
import XCTest
@testable import VLTraining

final class DataTests: XCTestCase {
    var folder: URL!
    var warnings: [String] = []

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("images"), withIntermediateDirectories: true)
        for (i, sample) in World().samples(.train, count: 3, seed: 1).enumerated() {
            try sample.scene.render().writePNG(to: url("images/\(i).png"))
        }
        // A PNG cut short: the header is fine, decoding fails.
        let png = try Data(contentsOf: url("images/0.png"))
        try png.prefix(png.count / 2).write(to: url("images/corrupt.png"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    func write(_ name: String, _ text: String) throws -> URL {
        try Data(text.utf8).write(to: url(name))
        return url(name)
    }

    var lenient: LoadOptions {
        var o = LoadOptions()
        o.warn = { [unowned self] in warnings.append($0) }
        return o
    }

    // MARK: - Image–caption JSONL

    func testBadCaptionEntriesAreSkippedCountedAndSummarised() throws {
        let file = try write(
            "captions.jsonl",
            """
            {"image": "images/0.png", "caption": "a small red circle"}
            {"image": "images/missing.png", "caption": "gone"}

            {"image": "images/corrupt.png", "caption": "cut short"}
            {"image": "images/1.png", "text": "text is a caption too"}
            {"image": "images/2.png", "caption": 7}
            {"image": "images/2.png"
            {"caption": "no image"}
            ["not", "an", "object"]
            """)
        let data = try Dataset.captions(file, options: lenient)
        XCTAssertEqual(data.entries.map(\.caption), ["a small red circle", "text is a caption too"])
        XCTAssertEqual(data.entries[0].image, url("images/0.png").standardizedFileURL)
        XCTAssertEqual(data.skipped.count, 6)
        XCTAssertEqual(data.skipped.reasons.count, SkippedEntries.reasonsKept)
        let reasons = data.skipped.reasons
        XCTAssertTrue(
            reasons[0].hasPrefix("line 2: image ") && reasons[0].hasSuffix("missing.png: no such file"), reasons[0])
        XCTAssertTrue(reasons[1].hasPrefix("line 4: image ") && reasons[1].contains("corrupt PNG"), reasons[1])
        XCTAssertEqual(reasons[2], "line 6: field \"caption\" should be a string, found a number")
        XCTAssertEqual(reasons[3], "line 7: not valid JSON")
        XCTAssertEqual(reasons[4], "line 8: field \"image\" is missing")
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(
            warnings[0].contains("skipped 6 of 8 entries") && warnings[0].hasSuffix("; and 1 more"), warnings[0])
    }

    func testStrictModeStopsAtTheFirstBadEntryNamingFileAndLine() throws {
        let file = try write(
            "captions.jsonl",
            """
            {"image": "images/0.png", "caption": "fine"}
            {"image": "images/1.png", "caption": ["a list"]}
            {"image": "images/missing.png", "caption": "later"}
            """)
        XCTAssertThrowsError(try Dataset.captions(file, options: LoadOptions(strict: true))) { error in
            XCTAssertEqual("\(error)", "\(file.path) line 2: field \"caption\" should be a string, found an array")
        }
        let corrupt = try write("corrupt.jsonl", "{\"image\": \"images/corrupt.png\", \"caption\": \"x\"}\n")
        XCTAssertThrowsError(try Dataset.captions(corrupt, options: LoadOptions(strict: true))) { error in
            XCTAssertTrue(
                "\(error)".hasPrefix("\(corrupt.path) line 1: image ") && "\(error)".contains("corrupt PNG"), "\(error)"
            )
        }
    }

    func testUnusableFilesAreClearErrors() throws {
        func assertError(_ file: URL, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try Dataset.captions(file, options: lenient), line: line) { error in
                XCTAssertTrue(
                    "\(error)".hasPrefix(file.path + (text.hasPrefix(" line") ? "" : ": "))
                        && "\(error)".contains(text),
                    "\(error)", line: line)
            }
        }
        assertError(try write("empty.jsonl", ""), "the file is empty")
        assertError(try write("blank.jsonl", "\n  \n"), "the file is empty")
        assertError(url("images"), "is a folder, not a dataset file")
        assertError(url("nothing.jsonl"), "no such file")
        try (Data("{\"image\": \"images/0.png\", \"caption\": \"ok\"}\n".utf8) + Data([0x7B, 0xFF, 0xFE, 0x7D, 0x0A]))
            .write(to: url("latin.jsonl"))
        assertError(url("latin.jsonl"), " line 2: is not UTF-8 text")
        assertError(
            try write("bad.jsonl", "{\"caption\": \"x\"}\nnot json\n"),
            "no usable entries — line 1: field \"image\" is missing; line 2: not valid JSON")
    }

    // MARK: - LLaVA conversations

    func testConversationsGiveTurnsInOrderAndSkipBadEntriesByLine() throws {
        let file = try write(
            "llava.json",
            """
            [
              {"id": "a", "image": "images/0.png", "conversations": [
                {"from": "human", "value": "<image>\\nwhat color is the circle ?"}, {"from": "gpt", "value": "red"},
                {"from": "human", "value": "how many shapes are there ?"}, {"from": "gpt", "value": "one"}]},
              {"id": 17, "conversations": [{"from": "human", "value": "no image here"}, {"from": "gpt", "value": "fine"}]},
              {"id": "c", "image": "images/1.png", "conversations": [{"from": "gpt", "value": "answer first"}, {"from": "human", "value": "?"}]},
              {"id": "d", "image": "images/1.png", "conversations": [{"from": "human", "value": "odd"}]},
              {"id": "e", "image": "images/missing.png", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
              {"id": "f", "image": "images/2.png", "conversations": [{"from": "human", "value": "<image> <image> two"}, {"from": "gpt", "value": "a"}]},
              {"id": "g", "image": "images/2.png", "conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "a"}]}
            ]
            """)
        let data = try Dataset.conversations(file, options: lenient)
        XCTAssertEqual(data.entries.map(\.id), ["a", "17"])
        XCTAssertEqual(
            data.entries[0].turns,
            [
                ConversationTurn(question: "what color is the circle ?", answer: "red"),
                ConversationTurn(question: "how many shapes are there ?", answer: "one"),
            ])
        XCTAssertNil(data.entries[1].image)
        XCTAssertEqual(data.skipped.count, 5)
        XCTAssertEqual(data.skipped.reasons[0], "line 6: conversations[0] is from \"gpt\", expected \"human\"")
        XCTAssertEqual(
            data.skipped.reasons[1], "line 7: \"conversations\" should hold human/gpt pairs, found 1 message(s)")
        XCTAssertTrue(data.skipped.reasons[2].hasPrefix("line 8: image "), data.skipped.reasons[2])
        XCTAssertEqual(data.skipped.reasons[3], "line 9: 2 <image> marker(s) for one image")
        XCTAssertEqual(
            data.skipped.reasons[4], "line 10: conversations[0] field \"value\" should be a string, found a number")
    }

    func testConversationFilesThatAreNotAnArrayOfEntriesAreErrors() throws {
        let object = try write("object.json", "{\"id\": \"a\"}")
        XCTAssertThrowsError(try Dataset.conversations(object)) {
            XCTAssertEqual("\($0)", "\(object.path): expected a JSON array of entries, found an object")
        }
        let broken = try write("broken.json", "[{\"id\": \"a\",]")
        XCTAssertThrowsError(try Dataset.conversations(broken)) {
            XCTAssertTrue("\($0)".hasPrefix("\(broken.path): not valid JSON"), "\($0)")
        }
    }

    // MARK: - Interleaved documents

    func testInterleavedDocumentsNeedOneMarkerPerImage() throws {
        let file = try write(
            "docs.jsonl",
            """
            {"images": ["images/0.png", "images/1.png"], "text": "<image>a red circle <|endofchunk|><image>a blue square <|endofchunk|>"}
            {"images": ["images/0.png"], "text": "<image>one <|endofchunk|><image>two <|endofchunk|>"}
            {"images": ["images/0.png", 3], "text": "<image><image>"}
            {"images": "images/0.png", "text": "<image>"}
            {"images": ["images/2.png", "images/corrupt.png"], "text": "<image><image>"}
            """)
        let data = try Dataset.interleaved(file, options: lenient)
        XCTAssertEqual(data.entries.count, 1)
        XCTAssertEqual(data.entries[0].images, [url("images/0.png"), url("images/1.png")].map(\.standardizedFileURL))
        XCTAssertEqual(data.skipped.reasons[0], "line 2: 2 <image> marker(s) for 1 image(s)")
        XCTAssertEqual(data.skipped.reasons[1], "line 3: images[1] should be a string, found a number")
        XCTAssertEqual(data.skipped.reasons[2], "line 4: field \"images\" should be an array, found a string")
        XCTAssertTrue(
            data.skipped.reasons[3].hasPrefix("line 5: image ") && data.skipped.reasons[3].contains("corrupt.png"))
        XCTAssertThrowsError(try Dataset.interleaved(file, options: LoadOptions(strict: true))) {
            XCTAssertEqual("\($0)", "\(file.path) line 2: 2 <image> marker(s) for 1 image(s)")
        }
    }

    // MARK: - The world written and read back

    func testSynthesisedWorldLoadsBackIdentically() throws {
        let samples = World().samples(.validation, count: 20, seed: 3)
        let out = url("world")
        var progress: [Int] = []
        try WorldExport.write(samples, to: out) { progress.append($0) }
        XCTAssertEqual(progress.last, 20)
        let strict = LoadOptions(strict: true)

        let captions = try Dataset.captions(out.appendingPathComponent(WorldExport.captionsFile), options: strict)
        XCTAssertEqual(captions.entries.map(\.caption), samples.map(\.caption))
        for (entry, sample) in zip(captions.entries, samples) {
            XCTAssertEqual(try RGBImage(contentsOf: entry.image), sample.scene.render(), sample.id)
        }

        let conversations = try Dataset.conversations(
            out.appendingPathComponent(WorldExport.conversationsFile), options: strict)
        XCTAssertEqual(conversations.entries.map(\.id), samples.map(\.id))
        for (c, s) in zip(conversations.entries, samples) {
            XCTAssertEqual(c.image, captions.entries[samples.firstIndex(of: s)!].image)
            XCTAssertEqual(c.turns.first, ConversationTurn(question: WorldEvaluation.captionRequest, answer: s.caption))
            XCTAssertEqual(
                c.turns.dropFirst().map { QuestionAnswerPair($0.question, $0.answer) },
                s.questions.map { QuestionAnswerPair($0.question, $0.answer) })
        }

        let questions = try Dataset.questions(out.appendingPathComponent(WorldExport.questionsFile), options: strict)
        let expected = samples.flatMap { s in s.questions.map { (s.id, $0) } }
        XCTAssertEqual(questions.entries.count, expected.count)
        for (q, (id, truth)) in zip(questions.entries, expected) {
            XCTAssertEqual(q.image.lastPathComponent, "\(id).png")
            XCTAssertEqual([q.question, q.answer, q.type], [truth.question, truth.answer, truth.type.rawValue])
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testAnImageTableOfTheWrittenWorldEqualsTheWorldsPixels() throws {
        let samples = World().samples(.train, count: 20, seed: 9)
        let out = url("world")
        try WorldExport.write(samples, to: out)
        let conversations = try Dataset.conversations(out.appendingPathComponent(WorldExport.conversationsFile))
        let questions = try Dataset.questions(out.appendingPathComponent(WorldExport.questionsFile))
        let processor = CLIPPretraining.worldProcessor(imageSize: 64)
        let table = try ImageTable(questions.entries.map(\.image), processor: processor, batchSize: 6)
        XCTAssertEqual(table.files, conversations.entries.map { $0.image! })
        XCTAssertEqual(table.pixels.toArray(), WorldData(samples, processor: processor).pixels.toArray())
        XCTAssertEqual(
            questions.entries.map { table.row(of: $0.image) },
            samples.indices.flatMap { i in samples[i].questions.map { _ in i } })
    }

    struct QuestionAnswerPair: Equatable {
        let question: String, answer: String
        init(_ q: String, _ a: String) { (question, answer) = (q, a) }
    }

    // MARK: - Shuffling, batching and prefetching

    func testShufflingIsDeterministicForASeed() {
        let order = BatchOrder(count: 10, batchSize: 4, seed: 7)
        XCTAssertEqual(order.batches(epoch: 0), BatchOrder(count: 10, batchSize: 4, seed: 7).batches(epoch: 0))
        XCTAssertEqual(order.batches(epoch: 0).map(\.count), [4, 4, 2])
        XCTAssertEqual(order.permutation(epoch: 0).sorted(), Array(0..<10))
        XCTAssertNotEqual(order.permutation(epoch: 0), order.permutation(epoch: 1))
        XCTAssertNotEqual(
            order.permutation(epoch: 0), BatchOrder(count: 10, batchSize: 4, seed: 8).permutation(epoch: 0))
        XCTAssertEqual(
            BatchOrder(count: 10, batchSize: 4, seed: 7, dropLast: true).batches(epoch: 0),
            Array(order.batches(epoch: 0).prefix(2)))
    }

    func testPrefetchedBatchesEqualSequentialOnes() throws {
        let images = (0..<3).map { url("images/\($0).png") }
        let batches = BatchOrder(count: 24, batchSize: 5, seed: 2).batches(epoch: 0).map { $0.map { $0 % 3 } }
        let processor = CLIPPretraining.worldProcessor(imageSize: 32)
        func collect(_ p: Prefetcher<ImageBatch>) throws -> [ImageBatch] {
            var out: [ImageBatch] = []
            while let b = try p.next() { out.append(b) }
            return out
        }
        let sequential = try collect(Prefetcher(images: images, batches: batches, processor: processor, depth: 0))
        let prefetched = try collect(
            Prefetcher(images: images, batches: batches, processor: processor, depth: 2, threads: 2))
        XCTAssertEqual(sequential.map(\.indices), batches)
        XCTAssertEqual(prefetched.map(\.indices), batches)
        XCTAssertEqual(prefetched.map(\.images), sequential.map(\.images))
        for (p, s) in zip(prefetched, sequential) {
            XCTAssertEqual(p.pixels.shape, [p.indices.count, 3, 32, 32])
            XCTAssertEqual(p.pixels.toArray(), s.pixels.toArray())
        }
    }

    func testPrefetchOrderDoesNotDependOnThreadTiming() throws {
        let prefetcher = Prefetcher(count: 40, depth: 3, threads: 3) { i -> Int in
            usleep(UInt32((i * 7919) % 5) * 1000)  // later jobs often finish first
            return i * i
        }
        var out: [Int] = []
        while let v = try prefetcher.next() { out.append(v) }
        XCTAssertEqual(out, (0..<40).map { $0 * $0 })
    }

    func testAJobsErrorReachesTheConsumerInOrder() throws {
        let images = [url("images/0.png"), url("images/corrupt.png")]
        let p = Prefetcher(
            images: images, batches: [[0], [1], [0]], processor: CLIPPretraining.worldProcessor(imageSize: 32))
        XCTAssertEqual(try p.next()?.indices, [0])
        XCTAssertThrowsError(try p.next()) { XCTAssertTrue("\($0)".contains("corrupt PNG"), "\($0)") }
        XCTAssertEqual(try p.next()?.indices, [0])
        XCTAssertNil(try p.next())
    }
}
