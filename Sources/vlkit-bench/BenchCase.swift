import Foundation
import VLTensor

/// One measurement: ours, and the key of the peer's measurement of the same work.
struct BenchCase {
    let name: String
    let unit: String
    /// Runs the work once and returns the amount done in `unit`·seconds (e.g. GFLOP) — or, with
    /// `perCall`, the value directly.
    let work: Double
    let body: () -> Void
    /// The peer's script key (nil: no peer for this case).
    let peer: String?
    var lowerIsBetter = false

    /// Best rate over at least `repeats` timed runs and 0.3 s, after one warm-up.
    func measure(repeats: Int) -> Double {
        let best = bestTime(repeats: repeats, body)
        return lowerIsBetter ? best * work : work / best
    }
}

/// A measured row of the table; encodes `peer` and `peer_name` (the first peer) as null when no peer
/// ran; `peers` has every peer's value by name (PyTorch and llama.cpp for the LLaMA cases).
struct BenchResult: Encodable {
    let name: String
    let unit: String
    let vlkit: Double
    let peer: Double?
    let peer_name: String?
    var peers: [String: Double] = [:]

    enum CodingKeys: String, CodingKey { case name, unit, vlkit, peer, peer_name, peers }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(unit, forKey: .unit)
        try c.encode((vlkit * 10).rounded() / 10, forKey: .vlkit)
        try c.encode(peer.map { ($0 * 10).rounded() / 10 }, forKey: .peer)
        try c.encode(peer_name, forKey: .peer_name)
        try c.encode(peers.mapValues { ($0 * 10).rounded() / 10 }, forKey: .peers)
    }
}

/// Seconds taken by `body`: the best of at least `repeats` runs and of 0.3 s of runs, after a warm-up.
func bestTime(repeats: Int, minSeconds: Double = 0.3, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity, total = 0.0, runs = 0
    while runs < repeats || total < minSeconds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        best = min(best, t)
        total += t
        runs += 1
    }
    return best
}
