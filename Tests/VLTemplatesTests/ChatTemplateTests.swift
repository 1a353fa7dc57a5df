import Foundation
import VLTemplates
import XCTest

/// The public API: errors that name what and where, whitespace as jinja, the clock, JSON order,
/// finding a model's template; the tests that lived in VLTokenizersTests, ported.
final class ChatTemplateTests: XCTestCase {
    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testUnsupportedAndBrokenConstructsAreNamed() {
        XCTAssertTrue(
            message { try ChatTemplate("{% call m() %}x{% endcall %}") }
                .contains("{% call %} is not supported"))
        XCTAssertTrue(message { try ChatTemplate("{{ x | wordwrap(3) }}") }.contains("no filter named 'wordwrap'"))
        XCTAssertTrue(message { try ChatTemplate("{% if x %}unclosed") }.contains("'endif'"))
        XCTAssertTrue(message { try ChatTemplate("{{ 'a' ") }.contains("unexpected end of template"))
        XCTAssertTrue(message { try ChatTemplate("{% frobnicate %}") }.contains("unknown tag 'frobnicate'"))
        // Inside an `if`, an unknown filter fails only when it runs, as in jinja.
        XCTAssertEqual(try ChatTemplate("{% if false %}{{ x | nosuch }}{% endif %}ok").render([:]), "ok")
        XCTAssertTrue(
            message { try ChatTemplate("{% if true %}{{ x | nosuch }}{% endif %}").render([:]) }
                .contains("no filter named 'nosuch'"))
    }

    func testErrorsNameTheirLine() throws {
        let t = try ChatTemplate("line one\n{% for m in messages %}\n{{ m.content + 1 }}\n{% endfor %}")
        XCTAssertThrowsError(try t.render(["messages": .list([.object([("content", .string("x"))])])])) {
            let e = $0 as? TemplateError
            XCTAssertEqual(e?.line, 3)
            XCTAssertEqual(e?.kind, .render)
            XCTAssertEqual(e?.description, "chat template line 3: can only concatenate str (not \"int\") to str")
        }
        XCTAssertThrowsError(try ChatTemplate("\n\n{{ (1 }}")) { XCTAssertEqual(($0 as? TemplateError)?.line, 3) }
    }

    func testRaiseExceptionCarriesTheTemplatesMessage() {
        let t = "{{ raise_exception('Roles must alternate, got ' ~ n) }}"
        XCTAssertThrowsError(try ChatTemplate(t).render(["n": .int(2)])) {
            let e = $0 as? TemplateError
            XCTAssertEqual(e?.kind, .raised)
            XCTAssertEqual(e?.message, "Roles must alternate, got 2")
            XCTAssertEqual(e?.description, "Roles must alternate, got 2")
            XCTAssertEqual(e?.line, 1)
        }
    }

    func testBlockWhitespaceFollowsJinja() throws {
        // trim_blocks eats the newline after a tag; lstrip_blocks the indentation before one.
        let t = try ChatTemplate("{% for m in messages %}\n    {% if m %}\n[{{ m }}]\n    {% endif %}\n{% endfor %}")
        XCTAssertEqual(try t.render(["messages": .list([.string("a"), .string("b")])]), "[a]\n[b]\n")
        XCTAssertEqual(try ChatTemplate("  {{- ' x ' -}}  y").render([:]), " x y")
        XCTAssertEqual(try ChatTemplate("a\n").render([:]), "a", "the last newline goes (keep_trailing_newline=False)")
    }

    func testNamespacesAndLoops() throws {
        let t = try ChatTemplate(
            "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                + "{{ loop.index }}/{{ loop.length }} {% endfor %}{{ ns.n }}")
        XCTAssertEqual(try t.render(["messages": .list([.string("a"), .string("b")])]), "1/2 2/2 2")
        XCTAssertTrue(message { try ChatTemplate("{{ range(end=3) }}").render([:]) }.contains("no keyword arguments"))
    }

    func testStrftimeNowReadsTheClock() throws {
        let date = Date(timeIntervalSince1970: 1_741_338_303)  // 2025-03-07 09:05:03 UTC, a Friday
        let t = try ChatTemplate("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B %Y %H:%M:%S %A') }}")
        XCTAssertEqual(try t.render([:], clock: .fixed(date)), "07 Mar 2025|7 March 2025 09:05:03 Friday")
        let tokyo = TimeZone(identifier: "Asia/Tokyo") ?? .current
        let zoned = try ChatTemplate("{{ strftime_now('%H %z') }}")
        XCTAssertEqual(try zoned.render([:], clock: .fixed(date, timeZone: tokyo)), "18 +0900")
    }

    func testJSONTextKeepsKeyOrder() throws {
        let v = try TemplateValue(parsingJSON: #"{"b": 1, "a": {"d": [true, null, 2.5, "é\n"], "c": -3}}"#)
        XCTAssertEqual(
            try ChatTemplate("{{ v | tojson }}|{{ v.a.keys() | list }}").render(["v": v]),
            #"{"b": 1, "a": {"d": [true, null, 2.5, "é\n"], "c": -3}}|['d', 'c']"#)
        XCTAssertThrowsError(try TemplateValue(parsingJSON: "[1, 2"))
        let repeated = try TemplateValue(parsingJSON: #"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(try ChatTemplate("{{ v | tojson }}").render(["v": repeated]), #"{"a": 3, "b": 2}"#)
    }

    func testPipelineStyleMessages() throws {
        // GenerationPipeline passes `.object` messages whose content is image parts then a text part.
        let fixtures = try TemplateFixtures.load()
        let llava = try ChatTemplate(try XCTUnwrap(fixtures.templates["llava-hf-llava-1.5-7b-hf"]))
        let content = TemplateValue.list([
            .object([("type", .string("image"))]),
            .object([("type", .string("text")), ("text", .string("Hi"))]),
        ])
        let messages = TemplateValue.list([.object([("role", .string("user")), ("content", content)])])
        XCTAssertEqual(
            try llava.render(["messages": messages, "add_generation_prompt": .bool(true)]),
            "USER: <image>\nHi ASSISTANT:")
        XCTAssertEqual(TemplateValue.string("x").text, "x")
        XCTAssertEqual(TemplateValue.list([.int(1), .string("a"), .none]).text, "[1, 'a', None]")
    }

    func testToolsAndDocumentsAreNoneUnlessGivenAsInTransformers() throws {
        let t = try ChatTemplate(
            "{{ tools is defined }}{{ tools is none }}{{ documents is none }}"
                + "{{ add_generation_prompt }}")
        XCTAssertEqual(try t.render([:]), "TrueTrueTrueFalse")
        XCTAssertEqual(try t.render(["tools": .list([]), "add_generation_prompt": .bool(true)]), "TrueFalseTrueTrue")
    }

    func testOneTemplateRendersFromManyThreads() throws {
        let t = try ChatTemplate("{% for m in messages %}<{{ m }}>{% endfor %}")
        let variables: [String: TemplateValue] = ["messages": .list((0..<50).map { .int($0) })]
        let expected = try t.render(variables)
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 16)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 16) { i in results[i] = (try? t.render(variables)) == expected }
        XCTAssertTrue(results.allSatisfy { $0 })
    }
}
