"""Instruction data for the selector, built with the exact prompt the graph sends at inference.

Each example is a chat (`messages`: system + user from `i2cr.selection.build_messages`) and the
answer the selector should give (`<|ANSWER|>: <gold name>`, or `nil`). Candidates are shuffled
per sample with a seed, so the position of the gold entity carries no signal.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal, TypedDict

from i2cr import prompts
from i2cr.context import Context, RankerKind
from i2cr.datasets import Sample
from i2cr.errors import InputError
from i2cr.jsonl import json_lines
from i2cr.models.embedder import EMBEDDING_CACHE_SIZE, embed
from i2cr.models.local_chat import to_chat_messages
from i2cr.ranking import embedder_texts, rank_candidates
from i2cr.selection import build_messages, display_name
from i2cr.state import Candidate

ClueMode = Literal["none", "one", "all"]


class ChatTurn(TypedDict):
    """One chat-template message."""

    role: str
    content: str


class InstructionExample(TypedDict):
    """A prompt as the selector sees it and the answer it should give."""

    id: str
    messages: list[ChatTurn]
    answer: str


@dataclass(frozen=True)
class DataOptions:
    """How samples become instruction examples.

    `clues`: besides the text-only prompt of each sample, add none, one (a seeded random
    non-empty clue) or all of its carried clues as `mention image information` prompts.
    `missing_as_nil`: a sample whose gold entity is not among its candidates becomes a NIL
    example (prompt allowing NIL); otherwise it is skipped. Samples labelled `nil` are always
    NIL examples.
    `ranker`/`ranker_keep`: order and trim the shuffled candidates with the first stage the
    graph will run (`Context.ranker`), so training prompts look like inference prompts. Prefer
    a ranker that was not trained on the same split: DIM ranks its own training set almost
    perfectly, which would teach the selector to always copy candidate #1.
    `shuffle_kept`: shuffle the ranker's kept candidates again (seeded), so their position
    carries no signal and the selector must tell them apart by what they say: trained on
    the ranker's order, it learns to copy the ranker's first candidate.
    """

    seed: int = 0
    clues: ClueMode = "one"
    clue_tools: tuple[str, ...] = ("ocr", "caption", "dense_caption", "tags")
    desc_chars: int = 120
    missing_as_nil: bool = False
    shuffle: bool = True
    ranker: RankerKind = "none"
    ranker_keep: int = 10
    shuffle_kept: bool = False

    @cached_property
    def ranking_context(self) -> Context:
        """The graph settings that run this first stage (built once per options)."""
        return Context(ranker=self.ranker, ranker_keep=self.ranker_keep)


def answer_text(name: str | None) -> str:
    """The selector's answer line for an entity name (None: NIL)."""
    return f"{prompts.ANSWER_TAG} {prompts.NIL_ANSWER if name is None else display_name(name)}"


def _gold_index(candidates: list[Candidate], gold_name: str) -> int | None:
    names = [c["name"] for c in candidates]
    return names.index(gold_name) if gold_name in names else None


def sample_examples(sample: Sample, options: DataOptions) -> list[InstructionExample]:
    """The instruction examples of one labelled sample (empty when it cannot be used)."""
    if sample.gold_name is None or not sample.candidates:
        return []
    rng = random.Random(f"{options.seed}:{sample.id}")
    candidates = list(sample.candidates)
    if options.shuffle:
        rng.shuffle(candidates)
    candidates = rank_candidates(
        options.ranking_context, replace(sample, candidates=candidates)
    ).candidates
    if options.shuffle_kept:
        rng.shuffle(candidates)
    gold = _gold_index(candidates, sample.gold_name)
    nil = sample.is_nil or gold is None
    if nil and not (sample.is_nil or options.missing_as_nil):
        return []
    answer = answer_text(None if nil else sample.gold_name)
    clues = [(t, sample.clues[t]) for t in options.clue_tools if sample.clues.get(t, "").strip()]
    if options.clues == "none":
        clues = []
    elif options.clues == "one" and clues:
        clues = [rng.choice(clues)]
    variants = [("text", ""), *clues]
    return [
        InstructionExample(
            id=f"{sample.id}:{variant}",
            messages=[
                ChatTurn(role=m["role"], content=m["content"])
                for m in to_chat_messages(
                    build_messages(
                        mention=sample.mention,
                        context=sample.context,
                        candidates=candidates,
                        clue=clue,
                        allow_nil=nil,
                        desc_chars=options.desc_chars,
                    )
                )
            ],
            answer=answer,
        )
        for variant, clue in variants
    ]


def build_examples(samples: Iterable[Sample], options: DataOptions) -> list[InstructionExample]:
    """Instruction examples of every usable sample, in sample order."""
    examples: list[InstructionExample] = []
    for chunk in _embedding_chunks(samples, options):
        examples.extend(example for sample in chunk for example in sample_examples(sample, options))
    return examples


def _embedding_chunks(samples: Iterable[Sample], options: DataOptions) -> Iterator[list[Sample]]:
    """The samples in chunks whose ranker texts were embedded together, in large batches.

    Embedding sample by sample is about a third slower (`benchmarks/finetune_data_batching.py`);
    a chunk's texts stay within the embedding cache, so ranking its samples one by one then
    only reads the cache.
    """
    if options.ranker != "embedder":
        yield list(samples)
        return
    chunk: list[Sample] = []
    texts: list[str] = []
    for sample in samples:
        sample_texts = embedder_texts(sample.mention, sample.context, sample.candidates)
        if chunk and len(texts) + len(sample_texts) > EMBEDDING_CACHE_SIZE // 2:
            embed(
                options.ranking_context.embedder, texts, precision=options.ranking_context.precision
            )
            yield chunk
            chunk, texts = [], []
        chunk.append(sample)
        texts.extend(sample_texts)
    if chunk:
        embed(options.ranking_context.embedder, texts, precision=options.ranking_context.precision)
        yield chunk


def write_examples(examples: Iterable[InstructionExample], path: str | Path) -> int:
    """Write examples as JSONL; return how many were written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_examples(path: str | Path) -> Iterator[InstructionExample]:
    """Examples from a JSONL file written by `write_examples`, checked line by line."""
    for number, row in json_lines(path):
        if isinstance(row, InputError):
            raise row
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            raise InputError(f"{path}:{number}: expected an object with 'messages'")
        if not isinstance(row.get("answer"), str) or not row["answer"].strip():
            raise InputError(f"{path}:{number}: missing 'answer'")
        yield InstructionExample(
            id=str(row.get("id", f"line:{number}")),
            messages=row["messages"],
            answer=row["answer"],
        )
