"""Limits and resources of the process running the graph (all operator settings)."""

from __future__ import annotations

from dataclasses import dataclass

from i2cr.context.setting import setting


@dataclass(kw_only=True)
class ServerSettings:
    """Limits and resources of the process running the graph (all operator settings)."""

    kg: str = setting(
        "",
        "Knowledge graph for mentions without candidates: an SQLite store built by `i2cr kg "
        "build` (indexed) or an entities JSONL (searched exhaustively).",
        operator=True,
    )
    clue_cache_dir: str = setting(
        "",
        "Directory keeping image-to-text outputs per image content hash across runs; empty: "
        "kept in memory for this process only.",
        operator=True,
    )
    allow_image_urls: bool = setting(
        False, "Accept http(s) URLs as the mention image (fetched).", operator=True
    )
    image_max_bytes: int = setting(
        20_000_000, "Largest image file or download accepted, in bytes.", operator=True, at_least=1
    )
    image_max_pixels: int = setting(
        50_000_000, "Largest image accepted, in pixels (width x height).", operator=True, at_least=1
    )
    image_timeout_s: float = setting(
        10.0, "Seconds allowed for fetching an image URL.", operator=True
    )
    image_root: str = setting(
        "",
        "Folder the mention images are read from: relative image paths resolve inside it and "
        "paths outside it are refused. Empty: any path, except in runs from a server's clients,"
        " which then may not name image files at all.",
        operator=True,
    )
    max_mention_chars: int = setting(
        1000,
        "Longest mention text kept; longer ones are cut (a warning).",
        operator=True,
        at_least=1,
    )
    max_context_chars: int = setting(
        2000,
        "Longest mention context kept for the selector and the embedder; longer ones are cut (a"
        " warning).",
        operator=True,
        at_least=1,
    )
    max_desc_chars: int = setting(
        2000, "Longest candidate description kept; longer ones are cut.", operator=True, at_least=1
    )
    max_clue_chars: int = setting(
        3000, "Longest image clue text kept; longer ones are cut.", operator=True, at_least=1
    )
    max_candidates: int = setting(
        100, "Most candidates given with an input that are kept.", operator=True, at_least=1
    )
    max_prompt_chars: int = setting(
        16000,
        "Longest selector prompt, in characters (about 4,000 tokens). A longer one has its "
        "candidate descriptions shortened, then its last candidates left out of the prompt (a "
        "warning).",
        operator=True,
        at_least=1,
    )
    max_seconds_per_mention: float = setting(
        600.0,
        "Wall-clock seconds one mention's run may spend (model loading included); checked after"
        " each step, a run past it stops with a TimeBudgetError naming what it did. 0: no "
        "limit.",
        operator=True,
        at_least=0,
    )
    client_commands: bool = setting(
        False,
        "Whether the clients of a LangGraph server may send run commands "
        "(`command`: update, goto, resume). Off: such a run is refused with HTTP 403 naming "
        "I2CR_CLIENT_COMMANDS. On, every node still checks the state it is given against the "
        "input limits.",
        server_only=True,
    )
    client_state_writes: bool = setting(
        False,
        "Whether the clients of a LangGraph server may write thread state "
        "(POST /threads/{id}/state, threads created with supersteps). Off: refused with HTTP "
        "403 naming I2CR_CLIENT_STATE_WRITES. On, every node still checks the state it is given"
        " against the input limits.",
        server_only=True,
    )
