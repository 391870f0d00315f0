"""Merge a LoRA adapter into its base model and save a standalone checkpoint.

The merged folder serves anywhere a plain model does: `Context(selector="local:<folder>")`, or
an OpenAI-compatible server such as vLLM (`selector="openai:<name>"` + `selector_base_url`).
"""

from __future__ import annotations

from pathlib import Path


def merge_adapter(base: str, adapter: str, output: str | Path) -> Path:
    """Save base + adapter, merged, with the tokenizer, to `output`."""
    from peft import PeftModel

    from i2cr.models.local_chat import load_base_model

    if not Path(adapter, "adapter_config.json").is_file():
        raise FileNotFoundError(f"no LoRA adapter (adapter_config.json) in {adapter}")
    model, tokenizer = load_base_model(base)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    target = Path(output)
    merged.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
