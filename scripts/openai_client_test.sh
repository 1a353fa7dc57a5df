#!/usr/bin/env bash
# Drives `vlkit serve` with the official `openai` Python package: a chat completion with an image,
# the same streamed, and an embeddings call; each answer must equal what `vlkit generate` /
# `vlkit clip embed` give for the same input and seed. Servers listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! build_log=$(swift build -c release -Xswiftc -enable-testing --product vlkit 2>&1); then echo "$build_log" >&2; exit 1; fi
vlkit=.build/release/vlkit
if [ ! -x .venv-openai/bin/python ] || ! .venv-openai/bin/python -c "import openai" 2>/dev/null; then
  python3 -m venv .venv-openai
  .venv-openai/bin/pip install -q "openai>=1.0"
fi
python=.venv-openai/bin/python
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
llava=Tests/Fixtures/generate/llava
clip=Tests/Fixtures/clip/real_vocab
# A LLaVA saved by transformers 5 (processor_config.json, the Hub's llava-1.5 template, 30 px images).
saved=Tests/Fixtures/layouts/llava_t5_f32
chat_port=$(free_port)
embed_port=$(free_port)
saved_port=$(free_port)
blip2_port=$(free_port)
logs=$(mktemp -d)
servers=()
cleanup() {
  status=$?
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then tail -n 20 "$logs"/*.log >&2 || true; fi
  rm -rf "$logs"
}
trap cleanup EXIT
"$vlkit" serve --model "$llava" --host 127.0.0.1 --port "$chat_port" --verbose >"$logs/chat.log" 2>&1 & servers+=($!)
"$vlkit" serve --model "$clip" --host 127.0.0.1 --port "$embed_port" --verbose >"$logs/embed.log" 2>&1 & servers+=($!)
"$vlkit" serve --model "$saved" --host 127.0.0.1 --port "$saved_port" --verbose >"$logs/saved.log" 2>&1 & servers+=($!)
"$vlkit" serve --model Tests/Fixtures/layouts/blip2_t5_f32 --host 127.0.0.1 --port "$blip2_port" --verbose >"$logs/blip2.log" 2>&1 &
servers+=($!)
for port in "$chat_port" "$embed_port" "$saved_port" "$blip2_port"; do
  for _ in $(seq 1 300); do
    if "$python" -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then break; fi
    sleep 0.1
  done
done
# References from the command line, with the same prompt, image and seed.
prompt="What is in the image?"
image=Tests/Fixtures/images/rgb.png
"$vlkit" generate --model "$llava" --prompt "$prompt" --image "$image" --temperature 0.8 --seed 3 --max-tokens 12 --json > "$logs/plain.json"
"$vlkit" generate --model "$llava" --prompt "$prompt" --image "$image" --temperature 0.8 --top-p 0.9 --seed 11 --max-tokens 16 --json > "$logs/streamed.json"
"$vlkit" clip embed --model "$clip" --text "a photo of a cat" --image "$image" --json > "$logs/clip.json"
"$python" - "$chat_port" "$embed_port" "$logs" "$image" "$prompt" "$saved_port" "$saved" "$blip2_port" <<'PY'
import base64, json, sys
from openai import OpenAI

chat_port, embed_port, logs, image, prompt, saved_port, saved, blip2_port = sys.argv[1:9]
data_url = "data:image/png;base64," + base64.b64encode(open(image, "rb").read()).decode()
messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url}}, {"type": "text", "text": prompt}]}]
chat = OpenAI(base_url=f"http://127.0.0.1:{chat_port}/v1", api_key="unused")
embed = OpenAI(base_url=f"http://127.0.0.1:{embed_port}/v1", api_key="unused")
reference = lambda name: json.load(open(f"{logs}/{name}.json"))
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + ok, failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

try:
    r = chat.chat.completions.create(model="llava", messages=messages, temperature=0.8, seed=3, max_tokens=12)
    want = reference("plain")
    check("chat completion with an image", r.choices[0].message.content == want["text"] and r.usage.prompt_tokens == want["prompt_tokens"]
          and r.usage.completion_tokens == len(want["tokens"]), f"{r.choices[0].message.content!r} {r.usage} vs {want}")
except Exception as e:
    check("chat completion with an image", False, repr(e))

try:
    pieces = []
    for chunk in chat.chat.completions.create(model="llava", messages=messages, temperature=0.8, top_p=0.9, seed=11, max_tokens=16, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    want = reference("streamed")
    check("streamed chat completion", "".join(pieces) == want["text"], f"{''.join(pieces)!r} vs {want['text']!r}")
except Exception as e:
    check("streamed chat completion", False, repr(e))

try:
    r = embed.embeddings.create(model="real_vocab", input=["a photo of a cat", data_url])
    want = reference("clip")
    expected = [want["text_embeds"][0], want["image_embeds"][0]]
    worst = max(abs(a - b) for got, ref in zip([d.embedding for d in r.data], expected) for a, b in zip(got, ref))
    check("embeddings of a text and an image", len(r.data) == 2 and worst < 1e-4, f"max difference {worst}")
except Exception as e:
    check("embeddings of a text and an image", False, repr(e))

try:
    # The OpenAI documentation's order of parts (text, then the image): transformers' greedy answer.
    case = json.load(open(f"{saved}/reference.json"))
    want = next(p for p in case["prompts"] if p["name"] == "text_then_image")
    saved_image = "data:image/png;base64," + base64.b64encode(open("Tests/Fixtures/layouts/image.png", "rb").read()).decode()
    client = OpenAI(base_url=f"http://127.0.0.1:{saved_port}/v1", api_key="unused")
    r = client.chat.completions.create(model="llava_t5_f32", temperature=0, max_tokens=len(want["greedy_ids"]), messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is in the image?"},
                                     {"type": "image_url", "image_url": {"url": saved_image}}]}])
    check("[text, image_url] on a LLaVA saved by transformers 5", r.choices[0].message.content == want["greedy_text"]
          and r.usage.prompt_tokens == len(want["input_ids"]), f"{r.choices[0].message.content!r} {r.usage} vs {want['greedy_text']!r}")
except Exception as e:
    check("[text, image_url] on a LLaVA saved by transformers 5", False, repr(e))

try:
    # BLIP-2 saved by transformers 5 (Blip2Processor: BlipImageProcessor without a centre crop, 40 px).
    case = json.load(open("Tests/Fixtures/layouts/blip2_t5_f32/reference.json"))
    want = next(p for p in case["prompts"] if p["name"] == "question")
    client = OpenAI(base_url=f"http://127.0.0.1:{blip2_port}/v1", api_key="unused")
    r = client.chat.completions.create(model="blip2_t5_f32", temperature=0, max_tokens=len(want["greedy_ids"]), messages=[
        {"role": "user", "content": [{"type": "text", "text": "Question: What is in the image? Answer:"},
                                     {"type": "image_url", "image_url": {"url": saved_image}}]}])
    check("[text, image_url] on a BLIP-2 saved by transformers 5", r.choices[0].message.content == want["greedy_text"],
          f"{r.choices[0].message.content!r} vs {want['greedy_text']!r}")
except Exception as e:
    check("[text, image_url] on a BLIP-2 saved by transformers 5", False, repr(e))

print(f"openai client: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
