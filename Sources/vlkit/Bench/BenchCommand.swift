import ArgumentParser
import Foundation
import VLTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure VLKit's kernels and models against numpy / PyTorch run in the same invocation.")

    @Flag(help: "Print one JSON object per line instead of a table.") var json = false
    @Flag(help: "Fewer and smaller cases.") var quick = false
    @Option(help: "Only cases whose name contains this text.") var only: String?
    @Option(name: .customLong("repeat"), help: "Timed runs per case (the best counts).") var repeats = 5
    @Option(help: "The Python for the peers (needs numpy; torch and transformers for model cases).")
    var python = ProcessInfo.processInfo.environment["VLKIT_PYTHON"] ?? "python3"

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let cases = kernelBenchmarks(quick: quick).filter { only == nil || $0.name.contains(only!) }
        guard !cases.isEmpty else { throw ValidationError("no benchmark matches --only \(only ?? "")") }
        let peerNames = cases.compactMap(\.peer)
        let (peer, note) = peerNames.isEmpty ? ([:], nil)
            : Peer.run(script: Peer.numpyScript, python: python, cases: peerNames, repeats: repeats)
        if let note, !json { print("peer: not available (\(note))") }
        if !json {
            print("VLKit bench — \(Parallel.threadCount) threads, kernels \(String(cString: ck_isa_name()))")
            print(pad("case", 26) + pad("unit", 9) + pad("vlkit", 10) + pad("numpy", 10) + "ratio")
        }
        for c in cases {
            let ours = c.measure(repeats: repeats)
            let theirs = c.peer.flatMap { peer[$0] }
            let result = BenchResult(name: c.name, unit: c.unit, vlkit: ours, peer: theirs, peer_name: theirs == nil ? nil : "numpy")
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(data: try encoder.encode(result), encoding: .utf8)!)
            } else {
                let ratio = theirs.map { String(format: "%.2f×", ours / $0) } ?? "—"
                print(pad(c.name, 26) + pad(c.unit, 9) + pad(String(format: "%.1f", ours), 10)
                    + pad(theirs.map { String(format: "%.1f", $0) } ?? "—", 10) + ratio)
            }
        }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
