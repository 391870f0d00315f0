"""The per-candidate scores every first stage is built from, computed for one query.

Each signal is a list with one score per candidate, in the candidates' order. None of them
reads the candidates' positions: a first stage built from them ranks any order of the same
candidates alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from i2cr.datasets.sample import Sample
from i2cr.models.embedder import cosine
from i2cr.models.precision import Precision
from i2cr.rankers.signal_cache import cached_scores
from i2cr.selection import display_name
from i2cr.texts import entity_text, mention_text

OCR_TOOL = "ocr"

Signal = Callable[[Sample, str, Precision], list[float]]


def embedder_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """cosine(mention + context, name + description) of each candidate."""
    entity_sides = [entity_text(c) for c in query.candidates]
    return cosine(
        embedder, mention_text(query.mention, query.context), entity_sides, precision=precision
    )


def dim_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """The shipped DIM ranker's score of each candidate (its own embedder)."""
    from i2cr.rankers.dim.ranker import load_ranker

    return load_ranker().score_samples([query], precision)[0]


def cross_encoder_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """The shipped cross-encoder's logit of each candidate."""
    from i2cr.rankers.cross_encoder.ranker import load_cross_encoder

    return load_cross_encoder().sample_scores(query)


def name_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """How closely each candidate's name spells the mention (rapidfuzz WRatio, 0-1)."""
    return [
        fuzz.WRatio(query.mention, display_name(c["name"]), processor=default_process) / 100
        for c in query.candidates
    ]


def clue_text(clues: Mapping[str, str]) -> str:
    """Every clue the image gave, as one text ('' without any)."""
    return " ".join(text.strip() for text in clues.values() if text and text.strip())


def clue_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """cosine(the image's clue text, name + description); 0 for every candidate without clues."""
    said = clue_text(query.clues)
    if not said:
        return [0.0] * len(query.candidates)
    return cosine(embedder, said, [entity_text(c) for c in query.candidates], precision=precision)


def ocr_name_scores(query: Sample, embedder: str, precision: Precision) -> list[float]:
    """How well each candidate's name is found in the text read off the image (0-1)."""
    read = query.clues.get(OCR_TOOL, "")
    if not read.strip():
        return [0.0] * len(query.candidates)
    return [
        fuzz.partial_ratio(display_name(c["name"]), read, processor=default_process) / 100
        for c in query.candidates
    ]


SIGNALS: dict[str, Signal] = {
    "embedder": embedder_scores,
    "dim": dim_scores,
    "cross_encoder": cross_encoder_scores,
    "name": name_scores,
    "clue": clue_scores,
    "ocr_name": ocr_name_scores,
}


def signal_scores(
    query: Sample, names: tuple[str, ...], embedder: str, precision: Precision = "auto"
) -> dict[str, list[float]]:
    """The named signals of the query's candidates."""
    unknown = sorted(set(names) - set(SIGNALS))
    if unknown:
        raise ValueError(f"unknown first-stage signals {unknown}; known: {sorted(SIGNALS)}")
    return {
        name: cached_scores(
            name, embedder, query, partial(SIGNALS[name], query, embedder, precision)
        )
        for name in names
    }
