"""The llama.cpp peer of vlkit-bench's LLaMA cases (llama-cpp-python, installed by setup_llamacpp.sh
into the bench's venv). The first run writes a random TinyLlama-shaped transformers checkpoint,
converts it to GGUF (f32 and bf16 with llama.cpp's convert_hf_to_gguf.py; q8_0 and q4_0 quantised
from the f32 file by llama.cpp, as llama-quantize does) and keeps the GGUF files in
$VLKIT_BENCH_CACHE (default .bench-cache/ in the current directory); later runs only measure.
Prefill: one eval of the same 128-token prompt as ours; decode: a 1-token prompt then 64 greedy
tokens (65 evals, as ours and PyTorch's). 2 threads, best of `repeats`. Exits with status 3 when
`import llama_cpp` fails. Progress lines ("progress: ...") on stderr are shown while it runs.

The gguf_* cases time the very files VLKit reads: gguf_smollm2_* the real SmolLM2-135M-Instruct Q4_1
file (.downloads/smollm2/, fetched by scripts/test.sh), gguf_llama1b_<type>_* the random 1.1B model's
q8_0, q4_0 and q4_k_m files in the cache (q4_k_m quantised from the f32 file once, as llama-quantize does).

Run by vlkit-bench as `python llama_cpp_peer.py CASES REPEATS` (CASES: comma-separated case names); prints
one JSON object {case name: value} on stdout.
"""
import gc, json, os, random, shutil, subprocess, sys

from peer_timing import best

wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
try:
    import llama_cpp
except Exception as e:
    print(f"llama_cpp is not importable in {sys.executable} ({type(e).__name__})", file=sys.stderr)
    sys.exit(3)
import numpy as np

def progress(message):
    print("progress: llama.cpp peer: " + message, file=sys.stderr, flush=True)

FORMATS = {"f32": "f32", "bf16": "bf16", "q8": "q8_0", "q4": "q4_0"}  # our name → GGUF type
GGUF_FILES = {"q8_0": "q8", "q4_0": "q4"}  # gguf_llama1b_<type> → the file of that format
SMOLLM2 = os.path.join(".downloads", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
gguf_cases = sorted({c.rsplit("_", 1)[0] for c in wanted if c.startswith("gguf_")})  # e.g. gguf_llama1b_q4_k_m
formats = [f for f in FORMATS if f"llama1b_prefill128_{f}" in wanted or f"llama1b_decode64_{f}" in wanted
           or any(c == f"gguf_llama1b_{t}" for t, g in GGUF_FILES.items() if g == f for c in gguf_cases)]
if "gguf_llama1b_q4_k_m" in gguf_cases and "f32" not in formats:
    formats.append("f32")
cache = os.path.join(os.path.abspath(os.environ.get("VLKIT_BENCH_CACHE", ".bench-cache")), "llama1b-random")
hf_dir = os.path.join(cache, "hf")
converter = os.path.join(sys.prefix, "share", "llama.cpp", "convert_hf_to_gguf.py")
def gguf_path(f): return os.path.join(cache, f"llama1b-{FORMATS[f]}.gguf")

def write_checkpoint():
    """A random LLaMA with TinyLlama's shapes (transformers' initialisation, seed 0), f32, with a
    small SentencePiece tokenizer (the converter pads its vocabulary to 32000 unused tokens)."""
    import torch, sentencepiece as spm
    from transformers import LlamaConfig, LlamaForCausalLM
    tmp = hf_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                         num_key_value_heads=4, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(tmp)
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(600)]
    corpus = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(3000)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_prefix=os.path.join(tmp, "tokenizer"), model_type="bpe",
                                   vocab_size=512, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   minloglevel=2)
    os.remove(os.path.join(tmp, "tokenizer.vocab"))
    with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f)
    os.rename(tmp, hf_dir)

def make_ggufs():
    os.makedirs(cache, exist_ok=True)
    log = os.path.join(cache, "convert.log")
    for f in ["f32", "bf16"]:
        if os.path.exists(gguf_path(f)):
            continue
        if not os.path.exists(converter):
            raise SystemExit(f"{converter} is missing: run tools/bench/setup_llamacpp.sh")
        if not os.path.isdir(hf_dir):
            progress(f"writing a random TinyLlama-shaped checkpoint to {hf_dir} (once)")
            write_checkpoint()
        progress(f"converting it to {gguf_path(f)} (once; log: {log})")
        with open(log, "a") as out:
            r = subprocess.run([sys.executable, converter, hf_dir, "--outtype", f, "--outfile", gguf_path(f) + ".tmp"],
                               stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        if r.returncode != 0:
            raise SystemExit(f"convert_hf_to_gguf.py failed for {f}: see {log}")
        os.rename(gguf_path(f) + ".tmp", gguf_path(f))
    for f, ftype in [("q8", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0), ("q4", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0)]:
        if os.path.exists(gguf_path(f)):
            continue
        progress(f"quantising the f32 GGUF to {gguf_path(f)} (once)")
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.nthread = ftype, 2
        tmp = gguf_path(f) + ".tmp"
        if llama_cpp.llama_model_quantize(gguf_path("f32").encode(), tmp.encode(), params) != 0:
            raise SystemExit(f"llama_model_quantize failed for {f}")
        os.rename(tmp, gguf_path(f))
    if all(os.path.exists(gguf_path(f)) for f in FORMATS):
        shutil.rmtree(hf_dir, ignore_errors=True)  # 4.4 GB no longer needed
    q4km = os.path.join(cache, "llama1b-q4_k_m.gguf")
    if "gguf_llama1b_q4_k_m" in gguf_cases and not os.path.exists(q4km):
        progress(f"quantising the f32 GGUF to {q4km} (once)")
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.nthread = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, 2
        if llama_cpp.llama_model_quantize(gguf_path("f32").encode(), (q4km + ".tmp").encode(), params) != 0:
            raise SystemExit("llama_model_quantize failed for q4_k_m")
        os.rename(q4km + ".tmp", q4km)

def gguf_case_path(case):
    if case == "gguf_smollm2":
        return SMOLLM2
    kind = case[len("gguf_llama1b_"):]
    return gguf_path(GGUF_FILES[kind]) if kind in GGUF_FILES else os.path.join(cache, f"llama1b-{kind}.gguf")

if formats:
    make_ggufs()
progress(f"llama-cpp-python {llama_cpp.__version__}; {llama_cpp.llama_print_system_info().decode().strip()}")
out = {}

def measure(path, prefill_key, decode_key):
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=128, n_ubatch=128, n_threads=2, n_threads_batch=2,
                          seed=0, verbose=False)
    n_vocab = llm.n_vocab()
    prompt = [(i * 37) % n_vocab for i in range(128)]
    def prefill():
        llm.reset()
        llm.eval(prompt)
    def decode():
        llm.reset()
        llm.eval([1])
        for _ in range(64):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(n_vocab,))
            llm.eval([int(logits.argmax())])
    if prefill_key in wanted:
        out[prefill_key] = 128 / best(prefill, repeats)
    if decode_key in wanted:
        out[decode_key] = 64 / best(decode, repeats)
    llm.close()
    del llm
    gc.collect()

for f in formats:
    measure(gguf_path(f), f"llama1b_prefill128_{f}", f"llama1b_decode64_{f}")
for case in gguf_cases:
    if os.path.exists(gguf_case_path(case)):
        measure(gguf_case_path(case), case + "_prefill128", case + "_decode64")
print(json.dumps(out))
