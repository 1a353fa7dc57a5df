import ArgumentParser
import VLModels

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The architectures VLKit runs, and what each can do.")
    @Flag(help: "Print JSON.") var json = false

    struct Row {
        let modelType: String
        let architecture: String
        let inference: String
        let training: String
        let commands: String
    }

    static let rows = [
        Row(modelType: "clip", architecture: "CLIPModel (ViT + text transformer)", inference: "yes",
            training: "pre-training with the ITC loss (recipe clip)", commands: "clip embed|classify|search|capture, train, eval, serve"),
        Row(modelType: "llama, mistral, qwen2", architecture: "LlamaForCausalLM family", inference: "yes (f32, bf16, q8, q4)",
            training: "causal-LM pre-training, LoRA / adapters / prefix tuning (recipe language-model)",
            commands: "generate, chat, train, serve"),
        Row(modelType: "opt", architecture: "OPTForCausalLM", inference: "yes (f32, bf16, q8, q4)", training: "gradients",
            commands: "generate, chat"),
        Row(modelType: "llava", architecture: "LlavaForConditionalGeneration (CLIP + MLP projector + LLaMA)",
            inference: "yes", training: "stage 1 (projector) and stage 2 (projector + LLM or LoRA): recipes llava-stage1, llava-stage2",
            commands: "generate, chat, train, eval, serve, demo"),
        Row(modelType: "llava, llava_llama", architecture: "original LLaVA repository (LlavaLlamaForCausalLM, mm_projector linear or mlp2x_gelu)",
            inference: "yes (vision tower from mm_vision_tower)", training: "gradients", commands: "generate, chat, serve"),
        Row(modelType: "blip-2", architecture: "Blip2ForConditionalGeneration (EVA ViT + Q-Former + OPT/LLaMA)",
            inference: "yes", training: "stage 2: queries + Q-Former + projection into a frozen LLaMA (recipe blip2-stage2)",
            commands: "generate, chat, train, eval, serve, demo"),
        Row(modelType: "blip-2", architecture: "Blip2ForImageTextRetrieval, Blip2Text/VisionModelWithProjection (stage-1 Q-Former)",
            inference: "ITM, ITC similarity, embeddings",
            training: "stage 1: ITC + ITM + ITG with LAVIS's captioning head on a frozen Blip2VisionModel (recipes blip2-vision, blip2-stage1)",
            commands: "train, eval (ITC retrieval)"),
        Row(modelType: "minigpt4 (config.json naming blip2/, language_model/, llama_proj.safetensors)",
            architecture: "MiniGPT4 (BLIP-2 ViT + Q-Former, one linear llama_proj, LLaMA)",
            inference: "yes: one image, MiniGPT-4's ###Human: <Img><ImageHere></Img> … ###Assistant: prompt, stops at ###",
            training: "llama_proj alone (recipe minigpt4)", commands: "generate, chat, train, eval, serve"),
        Row(modelType: "flamingo", architecture: "Flamingo (CLIP ViT + Perceiver Resampler + gated cross-attention in a LLaMA; OpenFlamingo's names)",
            inference: "yes: interleaved multi-image and few-shot prompts (<image> … <|endofchunk|>), KV-cached decoding",
            training: "resampler, gated cross-attention and media-token rows; vision and LLM frozen (recipe flamingo)",
            commands: "generate, chat, train, serve"),
        Row(modelType: "bert", architecture: "BertModel (sentence-transformers directories)", inference: "yes", training: "gradients",
            commands: "embed"),
        Row(modelType: "albef", architecture: "ALBEF (ViT-B/16 + BERT text/fusion layers, ALBEF's names)",
            inference: "ITC features, ITM, MLM", training: "ITC + ITM + MLM with momentum distillation and queues (recipe albef)",
            commands: "train, eval (ITC retrieval)"),
        Row(modelType: "mplug-owl", architecture: "MplugOwlForConditionalGeneration (released ViT or CLIP ViT + visual abstractor + LLaMA)",
            inference: "yes: released checkpoints' layout and prompt format", training: "stage 1 (vision + abstractor) and stage 2 (LoRA on the LLM): recipes mplug-owl-stage1, mplug-owl-stage2",
            commands: "generate, chat, train, eval, serve"),
    ]

    func run() {
        if json {
            printJSON(Models.rows.map { ["model_type": $0.modelType, "architecture": $0.architecture, "inference": $0.inference,
                                         "training": $0.training, "commands": $0.commands] })
            return
        }
        for r in Models.rows {
            let commands = r.commands.isEmpty ? "library API, no command yet" : "vlkit \(r.commands)"
            print("\(r.modelType)\n  \(r.architecture)\n  inference: \(r.inference); training: \(r.training); \(commands)")
        }
        print("Checkpoints: Hugging Face directories (config.json, model.safetensors or a sharded index, f32/f16/bf16).")
    }
}
