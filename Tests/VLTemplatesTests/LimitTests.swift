import Foundation
import VLTemplates
import XCTest

/// Every bound of `TemplateLimits` (and jinja's sandbox range bound): a template that would hang,
/// overflow the stack or allocate without end before VLTemplates (the engine in VLTokenizers built
/// `range(100000000)` as a list, recursed once per `(`, multiplied strings and integers unchecked)
/// now ends quickly in a `TemplateError` that names the limit and the line.
final class LimitTests: XCTestCase {
    /// Renders `source` expecting a failure of `kind` within `seconds`; returns the error.
    @discardableResult
    func assertFails(
        _ source: String, _ kind: TemplateError.Kind, line: Int? = 1, contains text: String? = nil,
        limits: TemplateLimits = .default, variables: [String: TemplateValue] = [:],
        within seconds: Double = 3, file: StaticString = #filePath,
        lineNumber: UInt = #line
    ) -> TemplateError? {
        let start = Date()
        var caught: TemplateError?
        do {
            _ = try ChatTemplate(source, limits: limits).render(variables)
            XCTFail("rendered, expected \(kind)", file: file, line: lineNumber)
        } catch let e as TemplateError {
            caught = e
        } catch {
            XCTFail("not a TemplateError: \(error)", file: file, line: lineNumber)
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertLessThan(elapsed, seconds, "took \(elapsed) s", file: file, line: lineNumber)
        guard let e = caught else { return nil }
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: lineNumber)
        if let line {
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: lineNumber)
            XCTAssertTrue(e.description.contains("line \(line)"), e.description, file: file, line: lineNumber)
        }
        if let text { XCTAssertTrue(e.description.contains(text), e.description, file: file, line: lineNumber) }
        if case .limit(let name) = kind {
            XCTAssertTrue(e.description.contains("TemplateLimits.\(name)"), e.description, file: file, line: lineNumber)
        }
        return e
    }

    // MARK: - Loop iterations and macro calls

    func testHugeRangeIsRefusedBeforeAllocating() {
        assertFails(
            "{% for i in range(100000000) %}x{% endfor %}", .render, contains: "MAX_RANGE (100000)",
            within: 0.5)
        assertFails(
            "{{ range(-9223372036854775807 - 1, 9223372036854775807) | length }}", .render,
            contains: "Range too big")
    }

    func testNestedLoopsStopAtTheStepLimit() {
        let source = "\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        assertFails(source, .limit("maxSteps"), line: 2, within: 5)
        assertFails(
            "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", .limit("maxSteps"),
            limits: TemplateLimits(maxSteps: 5000))
        let hundred = "{% for i in range(100) %}{% endfor %}"
        XCTAssertNoThrow(try ChatTemplate(hundred, limits: TemplateLimits(maxSteps: 200)).render([:]))
    }

    func testExponentialMacroCallsStopAtTheStepLimit() {
        let source = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}\n{{ f(40) }}"
        assertFails(source, .limit("maxSteps"), line: nil, limits: TemplateLimits(maxSteps: 100_000))
    }

    func testFiltersWalkingBigListsCountSteps() {
        let source =
            "{% set l = [1] * 1000000 %}{% for i in range(1000) %}{{ l | length }}"
            + "{{ l | select | list | length }}{% endfor %}"
        assertFails(source, .limit("maxSteps"), within: 10)
    }

    // MARK: - Output

    func testOutputStopsAtItsLimit() {
        assertFails("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", .limit("maxOutputBytes"))
        assertFails("hello {{ 'world' }}!", .limit("maxOutputBytes"), limits: TemplateLimits(maxOutputBytes: 8))
        assertFails(
            "{% macro m() %}{{ 'x' * 1000 }}{% endmacro %}"
                + "{% for i in range(10000) %}{% set y = m() %}{% endfor %}", .limit("maxOutputBytes"))
    }

    // MARK: - Nesting

    func testDeepParenthesesAreAnErrorNotAStackOverflow() {
        for (open, close) in [
            ("(", ")"), ("[", "]"), ("{'a': ", "}"), ("not ", ""), ("-", ""), ("x if (", ")"),
            ("f(", ")"), ("x[", "]"), ("[1, ", "]"),
        ] {
            let source =
                "{{ " + String(repeating: open, count: 100_000) + "1"
                + String(repeating: close, count: 100_000) + " }}"
            assertFails(source, .limit("maxDepth"), contains: "nested more than")
        }
        // Unbalanced: the lexer finds no end of the tag (jinja's does not either).
        assertFails("{{ " + String(repeating: "(", count: 100_000) + " }}", .syntax)
    }

    func testLongOperatorChainsAreBounded() {
        assertFails("{{ 1" + String(repeating: " + 1", count: 100_000) + " }}", .limit("maxDepth"))
        assertFails("{{ x" + String(repeating: " | trim", count: 100_000) + " }}", .limit("maxDepth"))
        assertFails("{{ x" + String(repeating: ".a", count: 100_000) + " }}", .limit("maxDepth"))
        assertFails("{{ x" + String(repeating: "[0]", count: 100_000) + " }}", .limit("maxDepth"))
        // A comparison chain is one node with many operands, as in jinja: it renders.
        let chain = "{{ 1" + String(repeating: " <= 1", count: 100_000) + " }}"
        XCTAssertEqual(try ChatTemplate(chain).render([:]), "True")
    }

    func testDeepBlocksAreBounded() {
        assertFails(String(repeating: "{% if true %}", count: 100_000), .limit("maxDepth"))
        assertFails(String(repeating: "{% for x in [1] %}", count: 100_000), .limit("maxDepth"))
        assertFails(String(repeating: "{% filter trim %}", count: 100_000), .limit("maxDepth"))
    }

    func testInfiniteMacroRecursionIsBounded() {
        assertFails("{% macro f() %}{{ f() }}{% endmacro %}\n\n{{ f() }}", .limit("maxDepth"), line: 1)
        assertFails(
            "{% macro f(n) %}{% for i in [n] %}{% if true %}{{ f(n + 1) }}{% endif %}{% endfor %}{% endmacro %}"
                + "{{ f(0) }}", .limit("maxDepth"))
    }

    func testValuesCannotNestWithoutBound() {
        // Each iteration wraps the list once more: a million levels would overflow printing it, and freeing it.
        assertFails(
            "{% set ns = namespace(x=[]) %}\n{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}"
                + "{{ ns.x }}", .limit("maxDepth"), line: 2)
        assertFails(String(repeating: "{% set x = [[x]] %}", count: 20_000) + "{{ x }}", .limit("maxDepth"))
        assertFails(
            "{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}", .render,
            contains: "cannot hold a namespace")
        var deep = TemplateValue.list([])
        for _ in 0..<5_000 { deep = .list([deep]) }
        assertFails("{{ x }}", .limit("maxDepth"), line: nil, variables: ["x": deep])
        XCTAssertThrowsError(try TemplateValue(parsingJSON: String(repeating: "[", count: 100_000)))
    }

    // MARK: - String and list sizes

    func testHugeRepetitionIsRefusedBeforeAllocating() {
        assertFails("{{ 'a' * 10**9 }}", .limit("maxValueSize"), within: 0.5)
        assertFails("{{ 'a' * 9223372036854775807 }}", .limit("maxValueSize"), within: 0.5)
        assertFails("{{ [0] * 10**9 }}", .limit("maxValueSize"), within: 0.5)
        assertFails("{{ ('a' * 4000000) ~ ('b' * 4000000) }}", .limit("maxValueSize"))
        assertFails("{{ ('a' * 4000000) + ('b' * 4000000) }}", .limit("maxValueSize"))
        assertFails("{{ 'ab'.center(10**9) }}", .limit("maxValueSize"))
        assertFails("{{ 'x\\ny' | indent(10**9) }}", .limit("maxValueSize"))
        assertFails("{{ [1] | tojson(indent=10**9) }}", .limit("maxValueSize"))
        assertFails("{{ [[[1]]] | tojson(indent='x' * 4000000) }}", .limit("maxValueSize"))
    }

    func testDoublingAStringStopsAtTheValueLimit() {
        assertFails(
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            .limit("maxValueSize"))
    }

    func testRepeatedBigConcatenationsStopAtTheBuiltLimit() {
        // 100,000 copies of 4 MB would be 400 GB of copying; the budget stops it after 256 MB.
        assertFails(
            "{% set s = 'x' * 4000000 %}{% for i in range(100000) %}{% set t = s ~ i %}{% endfor %}",
            .limit("maxBuiltBytes"))
        let small = TemplateLimits(maxValueSize: 1 << 20, maxBuiltBytes: 32 << 20)
        assertFails(
            "{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{% set t = s.replace('x', 'y') %}"
                + "{% endfor %}", .limit("maxBuiltBytes"), limits: small, within: 10)
    }

    func testPrintingAHugeSharedListIsBounded() {
        // A million references to one 1 MB string take little memory, but their text would take a terabyte.
        let big = "{% set l = ['x' * 1000000] * 1000000 %}"
        assertFails(big + "{{ l }}", .limit("maxValueSize"))
        assertFails(big + "{{ l | join }}", .limit("maxValueSize"))
        assertFails(big + "{{ l | tojson }}", .limit("maxValueSize"))
        assertFails(big + "{{ l ~ '' }}", .limit("maxValueSize"))
        // A missing key's name is not built from the huge key.
        let start = Date()
        XCTAssertEqual(try ChatTemplate(big + "{% for i in range(10000) %}{{ {}[l] }}{% endfor %}x").render([:]), "x")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testSubstringSearchIsLinear() throws {
        let source =
            "{{ ('a' * 1000000 + 'b') in ('a' * 3000000) }}{{ ('a' * 3000000).count('a' * 1000000 + 'b') }}"
            + "{{ ('a' * 3000000).replace('a' * 1000000 + 'b', '') | length }}"
        let start = Date()
        XCTAssertEqual(try ChatTemplate(source).render([:]), "False03000000")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    // MARK: - Integers

    func testIntegerOverflowIsAnErrorNotATrap() {
        for expression in [
            "2 ** 64", "9223372036854775807 + 1", "-(-9223372036854775807 - 1)", "9223372036854775807 * 2",
            "(-9223372036854775807 - 1) // -1", "(-9223372036854775807 - 1) % -1", "(-9223372036854775807 - 1) | abs",
            "-9223372036854775807 - 2", "3 ** 99",
        ] {
            assertFails("{{ \(expression) }}", .render, contains: "integer overflow")
        }
        assertFails("{{ 99999999999999999999 }}", .syntax, contains: "out of range")
        // Python's integers have no bound; these would print 301 digits there.
        for expression in ["1e300 | int", "'1e300' | int", "'%d' | format(1e300)", "'%d' % 1e300"] {
            assertFails("{{ \(expression) }}", .render, contains: "integer overflow")
        }
    }

    func testExtremeIndicesAndSlicesDoNotTrap() throws {
        let source =
            "{% set xs = [1, 2, 3] %}{{ xs[-9223372036854775807 - 1] }}|{{ xs[9223372036854775807] }}|"
            + "{{ xs[-9223372036854775807 - 1:9223372036854775807:9223372036854775807] }}|"
            + "{{ xs[::-9223372036854775807 - 1] }}|{{ 'abc'[-9223372036854775807 - 1:] }}|"
            + "{{ range(0, 10, -9223372036854775807 - 1) | list }}|{{ xs | batch(9223372036854775807) | list }}|"
            + "{{ xs | slice(3) | list }}"
        XCTAssertEqual(try ChatTemplate(source).render([:]), "||[1]|[3]|abc|[]|[[1, 2, 3]]|[[1], [2], [3]]")
        assertFails("{{ 'ab'.center(9223372036854775807) }}", .limit("maxValueSize"))
        assertFails("{{ 'ab' | center(9223372036854775807) }}", .limit("maxValueSize"))
        assertFails("{{ [1] | batch(9223372036854775807, 0) | list }}", .limit("maxValueSize"))
        assertFails("{{ [1] | slice(9223372036854775807) | list }}", .limit("maxValueSize"))
    }

    // MARK: - Source

    func testSourceSizeIsBounded() {
        let long = String(repeating: "x", count: 200)
        XCTAssertThrowsError(try ChatTemplate(long, limits: TemplateLimits(maxSourceBytes: 100))) {
            XCTAssertEqual(($0 as? TemplateError)?.kind, .limit("maxSourceBytes"))
        }
    }
}
