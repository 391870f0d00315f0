"""Fine-tuning: instruction data, LoRA training on a tiny Llama, adapter loading, export."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import HumanMessage, SystemMessage

from i2cr.cli import main
from i2cr.datasets import load_release
from i2cr.errors import InputError
from i2cr.finetune.data import (
    DataOptions,
    InstructionExample,
    build_examples,
    read_examples,
    write_examples,
)
from i2cr.finetune.export import merge_adapter
from i2cr.finetune.train import IGNORE_INDEX, TrainConfig, tokenize_example, train
from i2cr.models.adapters import SHIPPED_ADAPTERS
from i2cr.models.local_chat import LocalChatModel, load_causal_lm, to_chat_messages
from i2cr.ranking import best_first, embedder_scores
from i2cr.selection import build_messages, parse_answer
from i2cr.state import Candidate

NAMES = [f"Candidate Person {letter}" for letter in "ABCDEFGH"]
CLUES = {"ocr": "", "caption": "a man at a podium", "dense_caption": "", "tags": "person; suit"}


def release_row(mention: str, names: list[str]) -> dict:
    return {
        "mention": mention,
        "mention_context": f"{mention} spoke at the opening.",
        "mention_imgpath": "x.jpg",
        "Candentity": [{"name": n, "desc": f"Name: {n}. Occupation: politician."} for n in names],
        "mention_imgdesc_Azure": {
            "Caption": CLUES["caption"],
            "Dense Captions": "",
            "Tags": CLUES["tags"],
            "OCR text": "",
        },
    }


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A release-format file: gold first in the released order, one unknown gold, one NIL."""
    rows = {str(i): release_row(f"Person {NAMES[i][-1]}", NAMES) for i in range(4)}
    rows["10"] = release_row("Somebody", NAMES)
    rows["11"] = release_row("Nobody", NAMES)
    labels = {str(i): NAMES[i] for i in range(4)} | {"10": "Not A Candidate", "11": "nil"}
    path = tmp_path / "mini_train.json"
    path.write_text(json.dumps(rows))
    (tmp_path / "mini_train_label.json").write_text(json.dumps(labels))
    return path


def shown_order(example: InstructionExample) -> list[str]:
    user = example["messages"][1]["content"]
    return sorted(NAMES, key=lambda n: user.index(f". {n}'"))


def test_examples_use_the_inference_prompt_with_shuffled_candidates(release: Path) -> None:
    samples = load_release(release)
    examples = build_examples(samples, DataOptions(seed=3, clues="one"))
    by_id = {e["id"]: e for e in examples}
    assert [i.split(":")[0] for i in by_id] == ["0", "0", "1", "1", "2", "2", "3", "3", "11", "11"]
    assert {i.split(":")[1] for i in by_id} == {"text", "caption", "tags"}
    gold_positions = set()
    for sample in samples[:4]:
        text, with_clue = [e for e in examples if e["id"].startswith(f"{sample.id}:")]
        order = shown_order(text)
        assert shown_order(with_clue) == order
        candidates = [c for n in order for c in sample.candidates if c["name"] == n]
        expected = build_messages(
            mention=sample.mention, context=sample.context, candidates=candidates
        )
        assert text["messages"] == to_chat_messages(expected)
        assert text["answer"] == f"<|ANSWER|>: {sample.gold_name}"
        answered = parse_answer(text["answer"], candidates, allow_nil=False)
        assert answered.match == "exact" and answered.index is not None
        assert candidates[answered.index]["name"] == sample.gold_name
        clue = CLUES[with_clue["id"].split(":")[1]]
        assert f"image information: {clue}" in with_clue["messages"][1]["content"]
        gold_positions.add(order.index(sample.gold_name))
    assert len(gold_positions) > 1  # released order has the gold first; shuffled it moves
    nil = by_id["11:text"]
    assert nil["answer"] == "<|ANSWER|>: nil"
    assert "ANSWER: nil" in nil["messages"][0]["content"]


def test_missing_gold_becomes_nil_on_request_and_clues_can_be_left_out(release: Path) -> None:
    samples = load_release(release)
    examples = build_examples(samples, DataOptions(clues="none", missing_as_nil=True))
    assert [e["id"] for e in examples] == [
        "0:text",
        "1:text",
        "2:text",
        "3:text",
        "10:text",
        "11:text",
    ]
    assert examples[4]["answer"] == "<|ANSWER|>: nil"
    everything = build_examples(samples, DataOptions(clues="all"))
    assert sum(e["id"].startswith("0:") for e in everything) == 3  # text, caption, tags


def test_ranker_orders_and_trims_the_shuffled_candidates(release: Path) -> None:
    samples = load_release(release)
    ranked = build_examples(
        samples, DataOptions(clues="none", ranker="embedder", ranker_keep=3, missing_as_nil=True)
    )
    for example in ranked:
        user = example["messages"][1]["content"]
        shown = sorted((n for n in NAMES if f". {n}'" in user), key=lambda n: user.index(f". {n}'"))
        sample = next(s for s in samples if s.id == example["id"].split(":")[0])
        order = best_first(
            embedder_scores("minilm", sample.mention, sample.context, sample.candidates)
        )
        assert shown == [sample.candidates[i]["name"] for i in order[:3]]
        gold_kept = sample.gold_name in shown
        assert example["answer"].endswith(sample.gold_name if gold_kept else "nil")


def test_shuffle_kept_moves_the_rankers_first_candidate_but_keeps_the_same_ones(
    release: Path,
) -> None:
    def shown(example: InstructionExample) -> list[str]:
        user = example["messages"][1]["content"]
        return sorted((n for n in NAMES if f". {n}'" in user), key=lambda n: user.index(f". {n}'"))

    samples = load_release(release)
    options = DataOptions(clues="none", ranker="embedder", ranker_keep=5)
    ranked = build_examples(samples, options)
    reshuffled = build_examples(samples, replace(options, shuffle_kept=True))
    assert [e["id"] for e in reshuffled] == [e["id"] for e in ranked]
    for plain, shuffled in zip(ranked, reshuffled, strict=True):
        assert sorted(shown(shuffled)) == sorted(shown(plain)) and len(shown(plain)) == 5
        assert shuffled["answer"] == plain["answer"]
    assert any(shown(s)[0] != shown(p)[0] for p, s in zip(ranked, reshuffled, strict=True))


def test_ranked_data_embeds_many_samples_per_batch(release: Path, monkeypatch) -> None:
    from i2cr.models import embedder

    samples = load_release(release)
    options = DataOptions(clues="none", ranker="embedder", ranker_keep=3, missing_as_nil=True)
    embedder._embeddings.clear()
    one_by_one = [e for s in samples for e in build_examples([s], options)]
    embedder._embeddings.clear()
    model = embedder.load_embedder("minilm")
    batches: list[int] = []
    encode = model.encode
    monkeypatch.setattr(
        model, "encode", lambda texts, **kw: batches.append(len(texts)) or encode(texts, **kw)
    )
    assert build_examples(samples, options) == one_by_one
    assert len(batches) == 1 and len(samples) > 1


def test_read_examples_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"messages": [], "answer": "<|ANSWER|>: X"}\n{"messages": [\n')
    with pytest.raises(InputError, match="data.jsonl:2"):
        list(read_examples(path))


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer and chat template."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_causal_lm("smollm2")[1]
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    embeddings = model.get_input_embeddings()
    assert isinstance(embeddings, torch.nn.Embedding)
    # Larger tied embeddings than the default init let a few LoRA steps move the logits far.
    torch.nn.init.normal_(embeddings.weight, 0, 0.3)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_loss_is_on_the_answer_tokens_only(tiny_base: str, release: Path) -> None:
    tokenizer: Any = load_causal_lm(tiny_base)[1]
    example = build_examples(load_release(release), DataOptions(clues="none"))[0]
    item = tokenize_example(tokenizer, example)
    answer = [
        t for t, label in zip(item.input_ids, item.labels, strict=True) if label != IGNORE_INDEX
    ]
    assert tokenizer.decode(answer).startswith(example["answer"])
    prompt = tokenizer.apply_chat_template(example["messages"], add_generation_prompt=True)
    assert item.input_ids[: len(prompt["input_ids"])] == prompt["input_ids"]


@pytest.mark.slow
def test_training_lowers_the_loss_and_the_adapter_changes_the_answer(
    tiny_base: str, release: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.jsonl"
    examples = build_examples(load_release(release), DataOptions(clues="none"))[:1]
    write_examples(examples, data)
    adapter = tmp_path / "adapter"
    config = TrainConfig(
        data=str(data),
        output=str(adapter),
        base=tiny_base,
        epochs=20,
        learning_rate=3e-2,
        warmup_steps=0,
        grad_accum=1,
        save_every=8,
        progress=False,
    )
    result = train(config)
    assert result.steps == 20
    assert result.first_loss is not None and result.last_loss is not None
    assert result.last_loss < result.first_loss / 3
    assert (adapter / "adapter_model.safetensors").stat().st_size < 1_000_000
    assert list((adapter / "checkpoints").glob("step-20"))

    messages = [
        SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
        for m in examples[0]["messages"]
    ]
    plain = LocalChatModel(base=tiny_base, max_new_tokens=12).invoke(messages).text
    tuned = LocalChatModel(base=tiny_base, adapter=str(adapter), max_new_tokens=12)
    answer = tuned.invoke(messages).text
    assert answer != plain
    assert answer.startswith("<|ANSWER|")

    # Rerunning with more epochs resumes after the last checkpoint instead of starting over.
    resumed = train(TrainConfig(**{**config.__dict__, "epochs": 22}))
    log = [json.loads(line) for line in (adapter / "train_log.jsonl").read_text().splitlines()]
    assert resumed.steps == 22
    assert [r["step"] for r in log] == list(range(1, 23))

    merged = merge_adapter(tiny_base, str(adapter), tmp_path / "merged")
    assert LocalChatModel(base=str(merged), max_new_tokens=12).invoke(messages).content == (
        LocalChatModel(base=tiny_base, adapter=str(adapter), max_new_tokens=12)
        .invoke(messages)
        .content
    )


def test_training_in_bfloat16_keeps_float32_lora_weights(
    tiny_base: str, release: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    data = tmp_path / "data.jsonl"
    write_examples(build_examples(load_release(release), DataOptions(clues="none"))[:2], data)
    adapter = tmp_path / "adapter"
    train(
        TrainConfig(
            data=str(data),
            output=str(adapter),
            base=tiny_base,
            precision="bfloat16",
            epochs=1,
            grad_accum=1,
            progress=False,
        )
    )
    weights = load_file(adapter / "adapter_model.safetensors")
    assert weights and {w.dtype for w in weights.values()} == {torch.float32}
    assert json.loads((adapter / "i2cr_finetune.json").read_text())["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(data=str(data), output=str(adapter), precision="float16")  # type: ignore[arg-type]


def test_cli_builds_data_and_trains(
    tiny_base: str, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.jsonl"
    assert main(["finetune", "data", "--dataset", str(release), "--output", str(data)]) == 0
    assert "from 5 of 6 samples" in capsys.readouterr().out
    args = ["finetune", "train", "--input", str(data), "--output", str(tmp_path / "a")]
    args += ["--base", tiny_base, "--epochs", "0.5", "--grad-accum", "2", "--top-layers", "1"]
    assert main(args) == 0
    saved = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert saved["r"] == 8 and saved["lora_alpha"] == 16
    assert saved["layers_to_transform"] == [1]
    assert (
        main(
            [
                "finetune",
                "data",
                "--dataset",
                str(release),
                "--output",
                str(data),
                "--clue-tools",
                "ocr,logo",
            ]
        )
        == 2
    )


@pytest.mark.slow
def test_shipped_adapter_answers_in_format_with_a_candidate_name() -> None:
    adapter = SHIPPED_ADAPTERS / "smollm2-wikimel-emb5"
    assert (adapter / "adapter_model.safetensors").stat().st_size < 5_000_000
    candidates = [
        Candidate(name="Ed Rendell", desc="Name: Ed Rendell. Occupation: politician."),
        Candidate(name="Ruth Rendell", desc="Name: Ruth Rendell. Occupation: novelist."),
        Candidate(name="Don Rendell", desc="Name: Don Rendell. Occupation: saxophonist."),
    ]
    messages = build_messages(
        mention="Ruth Rendell",
        context="Ruth Rendell signing her novels in 2007",
        candidates=candidates,
    )
    answer = LocalChatModel(base="smollm2", adapter=str(adapter)).invoke(messages).text
    assert answer.startswith("<|ANSWER|>: ")
    assert parse_answer(answer, candidates, allow_nil=False).match == "exact"
