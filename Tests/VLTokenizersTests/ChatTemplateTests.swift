import Foundation
import XCTest
@testable import VLTokenizers

/// LLaVA-1.5, Vicuna, LLaMA-2, LLaMA-3 and Qwen2 templates rendered as transformers'
/// apply_chat_template does (tools/fixtures/make_chat_template_fixtures.py).
final class ChatTemplateTests: XCTestCase {
    func testTemplatesRenderAsTransformers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/chat_templates.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let templates = root["templates"] as! [String: String]
        let cases = root["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 25)
        for c in cases {
            let name = c["template"] as! String
            let template = try ChatTemplate(templates[name]!)
            let variables: [String: TemplateValue] = [
                "messages": TemplateValue(json: c["messages"]), "add_generation_prompt": .bool(c["add_generation_prompt"] as! Bool),
                "bos_token": .string(root["bos_token"] as! String), "eos_token": .string(root["eos_token"] as! String),
            ]
            if let expected = c["text"] as? String {
                XCTAssertEqual(try template.render(variables), expected, "\(name) \(c["messages"]!)")
            } else {
                XCTAssertThrowsError(try template.render(variables), name) {
                    XCTAssertEqual("\($0)", c["error"] as? String)
                }
            }
        }
    }

    func testUnsupportedConstructsAreNamed() {
        XCTAssertThrowsError(try ChatTemplate("{% macro m() %}x{% endmacro %}")) { XCTAssertTrue("\($0)".contains("{% macro %} is not supported")) }
        XCTAssertThrowsError(try ChatTemplate("{{ x | wordwrap(3) }}").render([:])) { XCTAssertTrue("\($0)".contains("filter wordwrap")) }
        XCTAssertThrowsError(try ChatTemplate("{% if x %}unclosed")) { XCTAssertTrue("\($0)".contains("missing {% elif or else or endif %}")) }
        XCTAssertThrowsError(try ChatTemplate("{{ 'a' ")) { XCTAssertTrue("\($0)".contains("not closed"), "\($0)") }
    }

    func testBlockWhitespaceFollowsJinja() throws {
        // trim_blocks eats the newline after a tag; lstrip_blocks the indentation before one.
        let t = try ChatTemplate("{% for m in messages %}\n    {% if m %}\n[{{ m }}]\n    {% endif %}\n{% endfor %}")
        XCTAssertEqual(try t.render(["messages": .list([.string("a"), .string("b")])]), "[a]\n[b]\n")
        XCTAssertEqual(try ChatTemplate("  {{- ' x ' -}}  y").render([:]), " x y")
    }

    func testNamespacesAndLoops() throws {
        let t = try ChatTemplate("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ loop.index }}/{{ loop.length }} {% endfor %}{{ ns.n }}")
        XCTAssertEqual(try t.render(["messages": .list([.string("a"), .string("b")])]), "1/2 2/2 2")
        XCTAssertThrowsError(try ChatTemplate("{{ range(end=3) }}").render([:])) { XCTAssertTrue("\($0)".contains("only supported for namespace")) }
    }
}
