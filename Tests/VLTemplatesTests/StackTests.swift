import Foundation
import VLTemplates
import XCTest

/// The deepest nesting the limits allow, on a thread whose stack is small: it renders or stops
/// with a `TemplateError`, and never overflows.
final class StackTests: XCTestCase {
    /// Runs `body` on a thread with a stack of `bytes`.
    func onStack(_ bytes: Int, _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = bytes
        thread.start()
        done.wait()
    }

    static let deepest: [String] = {
        let parens = String(repeating: "(", count: 95) + "x" + String(repeating: ")", count: 95)
        let chain = "1" + String(repeating: " + 1", count: 150)
        let blocks =
            String(repeating: "{% if true %}", count: 95) + "{{ \(parens) ~ (\(chain)) }}"
            + String(repeating: "{% endif %}", count: 95)
        return [
            // Macro recursion to the limit, each level inside blocks and an expression.
            "{% macro f(n) %}{% if n > 0 %}{% for i in [1] %}{{ (((f(n - 1)))) }}{% endfor %}{% endif %}{% endmacro %}"
                + "{{ f(1000) }}",
            blocks,
            "{% macro f(n) %}" + blocks + "{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            "{{ " + String(repeating: "[", count: 99) + "x" + String(repeating: "]", count: 99) + " | tojson }}",
        ]
    }()

    func testDeepestAllowedNestingOnSmallStacks() {
        for size in [256 << 10, 1 << 20, 4 << 20] {
            for source in Self.deepest {
                onStack(size) {
                    do {
                        _ = try ChatTemplate(source).render(["x": .string("x")])
                    } catch {
                        XCTAssertTrue(error is TemplateError, "\(error)")
                    }
                }
            }
        }
    }

    func testTheStackGuardNamesItself() {
        onStack(256 << 10) {
            let source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
            do {
                _ = try ChatTemplate(source, limits: TemplateLimits(maxDepth: 100_000)).render([:])
                XCTFail("rendered")
            } catch {
                XCTAssertTrue("\(error)".contains("nested too deep for this thread's stack"), "\(error)")
            }
        }
    }
}
