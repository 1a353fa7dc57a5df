import Foundation
import VLTemplates
import VLTestSupport
import XCTest

/// Thousands of broken templates: the real ones mutated and cut, and random bytes. Each either
/// renders or throws a `TemplateError`, within a time bound; nothing traps (a trap would end the
/// test process).
final class FuzzTests: XCTestCase {

    /// Pieces of template syntax to splice in.
    static let fragments = [
        "{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "(", ")", "[", "]", "{", "}", "'", "\"", "|",
        ".", ",", ":", "-", "+", "*", "**", "//", "%", "~", "==", "!=", "<", "not ", " in ", " is ", " if ", " else ",
        "{% endfor %}", "{% endif %}", "{% else %}", "{% for x in messages %}", "{% if x %}", "{% set ns.a = 1 %}",
        "{% macro m(a, b=2) %}", "{% endmacro %}", "{{ m(1) }}", "loop.index", "| tojson", "| join(', ')", "range(",
        "namespace(", "raise_exception('x')", "\\", "\n", " ", "é", "😀", "\u{0}", "9223372036854775807", "1e308",
        "{% break %}", "{% continue %}", "{% raw %}", "{% endraw %}", "{% filter upper %}", "{% endfilter %}",
        "| selectattr('type', 'equalto', 'image')", "[::-1]", "[1:]", "{% set x %}", "{% endset %}", "caller()",
    ]

    func mutate(_ source: String, _ rng: inout SplitMix) -> String {
        var s = Array(source.unicodeScalars)
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = s.isEmpty ? 0 : Int.random(in: 0...s.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: s = Array(s[..<at])  // truncate
            case 1:  // delete a range
                let end = min(s.count, at + Int.random(in: 1...40, using: &rng))
                if at < end { s.removeSubrange(at..<end) }
            case 2:  // duplicate a range
                let end = min(s.count, at + Int.random(in: 1...200, using: &rng))
                if at < end { s.insert(contentsOf: s[at..<end], at: at) }
            case 3:  // splice in syntax
                let piece = Self.fragments.randomElement(using: &rng) ?? ""
                s.insert(contentsOf: piece.unicodeScalars, at: at)
            case 4:  // replace one character with a random one
                if at < s.count { s[at] = Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng)) }
            default:  // swap two ranges
                let other = s.isEmpty ? 0 : Int.random(in: 0..<s.count, using: &rng)
                let (a, b) = (min(at, other), max(at, other))
                let n = min(Int.random(in: 1...30, using: &rng), (b - a) / 2)
                if n > 0 && b + n <= s.count {
                    let first = Array(s[a..<a + n]), second = Array(s[b..<b + n])
                    s.replaceSubrange(b..<b + n, with: first)
                    s.replaceSubrange(a..<a + n, with: second)
                }
            }
        }
        return String(String.UnicodeScalarView(s))
    }

    /// Parses and renders; false when something other than a TemplateError came out.
    func survives(
        _ source: String, _ variables: [String: TemplateValue], _ limits: TemplateLimits,
        _ clock: TemplateClock
    ) -> Bool {
        do {
            _ = try ChatTemplate(source, limits: limits).render(variables, clock: clock)
            return true
        } catch is TemplateError {
            return true
        } catch {
            return false
        }
    }

    func testMutatedRealTemplatesRenderOrThrow() throws {
        let fixtures = try TemplateFixtures.load()
        let sources = fixtures.templates.sorted { $0.key < $1.key }.map(\.value)
        let variables = fixtures.cases.map(\.variables)
        // Smaller than the defaults so that thousands of runs stay quick in a debug build.
        let limits = TemplateLimits(
            maxOutputBytes: 1 << 20, maxSteps: 20_000, maxValueSize: 1 << 20,
            maxBuiltBytes: 16 << 20)
        // VLTEMPLATES_FUZZ=N runs N mutations (with a seed of N) instead of 5,000.
        let count = ProcessInfo.processInfo.environment["VLTEMPLATES_FUZZ"].flatMap(Int.init) ?? 5_000
        var rng = SplitMix(seed: 20_241_204 &+ UInt64(count))
        let start = Date()
        var slowest = 0.0, rendered = 0
        for i in 0..<count {
            let source = mutate(sources[i % sources.count], &rng)
            let t = Date()
            XCTAssertTrue(survives(source, variables[i % variables.count], limits, fixtures.clock), source)
            slowest = max(slowest, Date().timeIntervalSince(t))
            if (try? ChatTemplate(source)) != nil { rendered += 1 }
        }
        XCTAssertLessThan(slowest, 2, "one mutation took \(slowest) s")
        XCTAssertLessThan(Date().timeIntervalSince(start), Double(count) / 20)
        XCTAssertGreaterThan(rendered, 100, "the mutations should not all be syntax errors")
    }

    func testRandomBytesRenderOrThrow() throws {
        var rng = SplitMix(seed: 7)
        let clock = TemplateClock.fixed(Date(timeIntervalSince1970: 0))
        let alphabet = Array("{}%#-+()[]'\"|.,:~*/ \nabcxyz0123456789=<>!ifornotinsetendmacro_\\".unicodeScalars)
        let start = Date()
        for i in 0..<3_000 {
            let length = Int.random(in: 0...300, using: &rng)
            let source: String
            if i % 2 == 0 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                source = String(decoding: bytes, as: UTF8.self)
            } else {
                let scalars = (0..<length).compactMap { _ in alphabet.randomElement(using: &rng) }
                source = String(String.UnicodeScalarView(scalars))
            }
            let messages = TemplateValue.list([.object([("role", .string("user"))])])
            XCTAssertTrue(survives(source, ["messages": messages], .default, clock), source)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
    }
}
