"""The results files under `<out>/runs`: naming, packing with gzip, and reading them back.

A run appends to `<config>.jsonl`; `pack_runs` gzips finished files into `<config>.jsonl.gz`
(what the tracked `evals/runs` holds), and a later run on the same configuration unpacks it
first (`unpack_for_run`), so resuming works on either.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from i2cr.evals.configs import BY_NAME
from i2cr.evals.metrics import summarize
from i2cr.jsonl import PACKED_SUFFIX, complete_records, pack, unpack

RELEASED = "released"
RUNS = "runs"
PLAIN = ".jsonl"
PACKED = PLAIN + PACKED_SUFFIX


def config_name(results: Path) -> str:
    """The configuration a results file holds: its name without `.jsonl` or `.jsonl.gz`."""
    return results.name.removesuffix(PACKED_SUFFIX).removesuffix(PLAIN)


def meta_path(results: Path) -> Path:
    """The `<config>.meta.json` beside a results file (packed or not)."""
    return results.with_name(config_name(results) + ".meta.json")


def results_files(out: Path) -> list[Path]:
    """Every results file under `out/runs`, one per (dataset, order, configuration)."""
    packed, plain = (sorted((out / RUNS).glob(f"*/*/*{suffix}")) for suffix in (PACKED, PLAIN))
    for path in packed:
        if path.with_name(config_name(path) + PLAIN) in plain:
            raise ValueError(
                f"{path} and its plain {PLAIN} both exist: keep one (`i2cr eval --compress` "
                "packs a finished plain file)"
            )
    # Ordered as the plain names would be, packed or not.
    return sorted([*packed, *plain], key=lambda path: path.with_name(config_name(path) + PLAIN))


def unpack_for_run(results: Path) -> None:
    """Before a run appends to `results` (plain JSONL): restore it from its packed copy."""
    packed = results.with_name(results.name + PACKED_SUFFIX)
    if not packed.exists():
        return
    if results.exists():
        raise ValueError(f"{results} and {packed} both exist: keep one, then run again")
    unpack(packed)


def _in_use(results: Path) -> bool:
    """Another process holds the results file's lock (a run still writing it)."""
    with results.open("a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def pack_runs(out: Path) -> list[Path]:
    """Gzip every plain results file under `out/runs` that no run is writing; the packed paths."""
    packed = []
    for results in results_files(out):
        if results.name.endswith(PLAIN) and not _in_use(results):
            packed.append(pack(results))
    return packed


def collect(out: Path) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Summaries by dataset, order and config of every results file under `out/runs`."""
    found: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for results in results_files(out):
        name = config_name(results)
        order_dir = results.parent
        meta_file = meta_path(results)
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}
        known = BY_NAME.get(name)
        meta.setdefault("group", known.group if known else "")
        meta.setdefault("label", known.title if known else name)
        records = complete_records(results)
        entry = {"summary": summarize(records), "meta": meta, "records": records}
        found.setdefault(order_dir.parent.name, {}).setdefault(order_dir.name, {})[name] = entry
    return found


def candidate_orders(runs: dict[str, Any]) -> list[str]:
    """The candidate orders of a dataset's runs, released first."""
    return sorted(runs, key=lambda o: (o != RELEASED, o))


def configs_in(runs: dict[str, Any], groups: Iterable[str]) -> list[str]:
    """The configurations of these groups that ran, known ones in their defined order."""
    wanted = set(groups)
    names: dict[str, None] = {}
    for order in candidate_orders(runs):
        for name, entry in runs[order].items():
            if entry["meta"]["group"] in wanted:
                names[name] = None
    known = [n for n in BY_NAME if n in names]
    return known + sorted(n for n in names if n not in BY_NAME)


def entries(runs: dict[str, Any], names: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(configuration, order, run) for each configuration that ran, in table order."""
    for name in names:
        for order in candidate_orders(runs):
            entry = runs[order].get(name)
            if entry is not None:
                yield name, order, entry


def label(runs: dict[str, Any], name: str) -> str:
    """The configuration's title as its meta data gives it."""
    for order in runs.values():
        if name in order:
            return str(order[name]["meta"].get("label") or name)
    return name


def command_block(runs: dict[str, Any], names: Iterable[str]) -> list[str]:
    """Markdown lines: the commands that made these configurations' runs."""
    commands: dict[str, None] = {}
    for order in candidate_orders(runs):
        for name in names:
            for session in runs[order].get(name, {}).get("meta", {}).get("sessions", []):
                commands[session["command"]] = None
    if not commands:
        return []
    return ["", "Made by:", "", "```", *commands, "```"]
