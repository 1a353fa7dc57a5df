import Foundation
import VLTemplates
import XCTest

/// Every real template in the fixtures renders byte for byte as transformers renders it, and fails
/// where it fails (with the template's own message for `raise_exception`).
final class TransformersParityTests: XCTestCase {
    func testRealTemplatesRenderAsTransformers() throws {
        let fixtures = try TemplateFixtures.load()
        XCTAssertGreaterThanOrEqual(fixtures.templates.count, 20)
        XCTAssertGreaterThanOrEqual(fixtures.cases.count, 300)
        var parsed: [String: ChatTemplate] = [:]
        for (name, source) in fixtures.templates { parsed[name] = try ChatTemplate(source) }
        var failures: [String] = []
        for c in fixtures.cases {
            guard let template = parsed[c.template] else { failures.append("\(c.template): no template"); continue }
            let add = c.variables["add_generation_prompt"] == .bool(true)
            let what = "\(c.template) / \(c.conversation) / add_generation_prompt=\(add)"
            do {
                let text = try template.render(c.variables, clock: fixtures.clock)
                if let expected = c.text {
                    if text != expected { failures.append("\(what): rendered\n\(text)\n--- expected\n\(expected)") }
                } else {
                    failures.append("\(what): rendered, but transformers failed with \(c.error ?? "")")
                }
            } catch let e as TemplateError {
                if c.text != nil {
                    failures.append("\(what): \(e)")
                } else if c.raised, e.kind != .raised || e.message != c.error {
                    failures.append("\(what): \(e), expected raise_exception(\(c.error ?? ""))")
                }
            }
        }
        XCTAssert(
            failures.isEmpty,
            "\(failures.count) of \(fixtures.cases.count) cases differ:\n"
                + failures.prefix(15).joined(separator: "\n=====\n"))
    }
}
