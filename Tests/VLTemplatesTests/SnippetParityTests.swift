import Foundation
import VLTemplates
import XCTest

/// One jinja feature a snippet (loops, macros, filters, tests, operators, whitespace control,
/// undefined, errors), each rendered as transformers renders it, or failing where it fails.
final class SnippetParityTests: XCTestCase {
    func testSnippetsRenderAsTransformers() throws {
        let fixtures = try TemplateSnippets.load()
        let clock = try TemplateFixtures.load().clock
        XCTAssertGreaterThanOrEqual(fixtures.snippets.count, 90)
        var failures: [String] = []
        for s in fixtures.snippets {
            do {
                let text = try ChatTemplate(s.source).render(fixtures.variables, clock: clock)
                if let expected = s.text {
                    if text != expected {
                        failures.append(
                            "\(s.source)\n  rendered \(text.debugDescription)\n  expected "
                                + expected.debugDescription)
                    }
                } else {
                    failures.append(
                        "\(s.source)\n  rendered \(text.debugDescription), transformers failed: "
                            + (s.error ?? ""))
                }
            } catch let e as TemplateError {
                if let expected = s.text {
                    failures.append("\(s.source)\n  failed: \(e)\n  expected \(expected.debugDescription)")
                } else if s.raised, e.kind != .raised || e.message != s.error {
                    failures.append("\(s.source)\n  failed: \(e), expected raise_exception(\(s.error ?? ""))")
                }
            }
        }
        XCTAssert(
            failures.isEmpty,
            "\(failures.count) of \(fixtures.snippets.count) snippets differ:\n"
                + failures.joined(separator: "\n"))
    }
}
