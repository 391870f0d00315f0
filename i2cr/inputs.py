"""One mention's input, checked and bounded where it enters the graph.

Types are checked here (a JSON client or a dataset can send a number where text belongs), so
no node meets an AttributeError; every text a model reads is cut to the operator's bound
(`Context.max_*`), so one huge input costs no more than a normal one. Each cut is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from i2cr.context import CLUE_TOOLS, Context
from i2cr.errors import InputError
from i2cr.images import ImageError, ImageSource, image_in_root
from i2cr.state import Candidate, InputState

# C0 controls and DEL, except tab and line breaks: no model should read terminal escapes.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class CheckedInput:
    """The input's texts and candidates within bounds, the image resolved, and the warnings."""

    mention: str
    context: str
    candidates: list[Candidate]
    clues: dict[str, str]
    image: ImageSource | None
    warnings: list[str] = field(default_factory=list)


def check_input(state: InputState, settings: Context, *, served: bool) -> CheckedInput:
    """The input checked (InputError for what cannot be used) and cut to the bounds.

    An image the run may not read (outside the image root) becomes no image, with a warning.
    """
    warnings: list[str] = []
    mention = bounded_text(
        "mention", state.mention, settings.max_mention_chars, warnings, "max_mention_chars"
    )
    if not mention.strip():
        raise InputError("the mention is empty or missing: give the text span to link")
    checked = CheckedInput(
        mention=mention,
        context=bounded_text(
            "context", state.context, settings.max_context_chars, warnings, "max_context_chars"
        ),
        candidates=bounded_candidates(state.candidates, settings, warnings),
        clues=bounded_clues(state.clues, settings.max_clue_chars, warnings),
        image=None,
        warnings=warnings,
    )
    checked.image = _usable_image(state.image, settings, served, warnings)
    return checked


def bounded_text(name: str, value: object, limit: int, warnings: list[str], setting: str) -> str:
    """The text without control characters, cut to `limit` characters.

    Each change is a warning; a cut names the `setting` that holds the limit. None is empty
    text.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, got {type(value).__name__}: {_preview(value)}")
    value, removed = CONTROL_CHARACTERS.subn("", value)
    if removed:
        warnings.append(f"{removed} control characters removed from {name}")
    if len(value) > limit:
        warnings.append(f"{name} cut from {len(value)} to {limit} characters ({setting})")
        return value[:limit]
    return value


def bounded_candidates(
    candidates: object, settings: Context, warnings: list[str]
) -> list[Candidate]:
    """Candidates with text names, descriptions cut to `max_desc_chars`, at most `max_candidates`.

    Used for given candidates and for those a knowledge graph returns.
    """
    if candidates is None:
        return []
    if not isinstance(candidates, list):
        raise InputError(
            f"candidates must be a list of {{name, desc, qid}} objects, got "
            f"{type(candidates).__name__}: {_preview(candidates)}"
        )
    if len(candidates) > settings.max_candidates:
        warnings.append(
            f"{len(candidates)} candidates given, the first {settings.max_candidates} kept "
            "(max_candidates)"
        )
        candidates = candidates[: settings.max_candidates]
    cut: list[str] = []
    kept = [
        _candidate(position, raw, settings, cut) for position, raw in enumerate(candidates, start=1)
    ]
    if cut:
        warnings.append(
            f"descriptions of {len(cut)} candidates cut to {settings.max_desc_chars} characters "
            "(max_desc_chars) "
            f"({', '.join(cut[:5])}{', ...' if len(cut) > 5 else ''})"
        )
    return kept


def bounded_clues(clues: object, limit: int, warnings: list[str]) -> dict[str, str]:
    """Clues keyed by known image-to-text tools, each text cut to `limit` characters."""
    if clues is None:
        return {}
    if not isinstance(clues, Mapping):
        raise InputError(f"clues must map a tool name to text, got {type(clues).__name__}")
    unknown = [str(tool) for tool in clues if tool not in CLUE_TOOLS]
    if unknown:
        raise InputError(f"clues name unknown tools {unknown}; the tools are {list(CLUE_TOOLS)}")
    return {
        tool: bounded_text(f"clue {tool}", text, limit, warnings, "max_clue_chars")
        for tool, text in clues.items()
    }


def _candidate(position: int, raw: object, settings: Context, cut: list[str]) -> Candidate:
    if not isinstance(raw, Mapping):
        raise InputError(f"candidate #{position} must be a {{name, desc, qid}} object: {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"candidate #{position} needs a name (text): {_preview(raw)}")
    if len(name) > settings.max_mention_chars:
        raise InputError(
            f"candidate #{position}'s name is {len(name)} characters long; names are kept up to "
            f"max_mention_chars ({settings.max_mention_chars}): {_preview(name)}"
        )
    desc = raw.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise InputError(f"candidate #{position} ({name}): desc must be text: {_preview(desc)}")
    qid = raw.get("qid")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if qid is not None and not isinstance(qid, str):
        raise InputError(f"candidate #{position} ({name}): qid must be text: {_preview(qid)}")
    candidate = Candidate(name=name, desc=desc or "")
    if len(candidate["desc"]) > settings.max_desc_chars:
        candidate["desc"] = candidate["desc"][: settings.max_desc_chars]
        cut.append(name)
    if qid is not None:
        candidate["qid"] = qid
    return candidate


def _usable_image(
    image: object, settings: Context, served: bool, warnings: list[str]
) -> ImageSource | None:
    if image is None or image == "":
        return None
    if not isinstance(image, str | bytes | Path):
        raise InputError(f"image must be a path or URL (text), got {type(image).__name__}")
    try:
        return image_in_root(image, settings.image_root, served=served)
    except ImageError as err:
        warnings.append(f"{err}; visual steps use only the clues given with the input")
        return None


def _preview(value: object, chars: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= chars else text[:chars] + "..."
