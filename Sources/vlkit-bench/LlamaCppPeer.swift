import Foundation

extension Peer {
    /// How to get the llama.cpp peer, printed when it is not there.
    static let llamaCppSetup = "bash tools/bench/setup_llamacpp.sh"

    /// The llama.cpp peer of the LLaMA cases (llama-cpp-python in the bench's venv). Its first run
    /// converts a random TinyLlama-shaped checkpoint to GGUF in $VLKIT_BENCH_CACHE (default
    /// .bench-cache/); it exits with status 3 when `import llama_cpp` fails.
    static let llamaCppScript = "llama_cpp_peer.py"
}
