"""`i2cr kg`: build a KG store, search it, enrich its descriptions with a chat model."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tqdm import tqdm

from i2cr.cli.options import add_settings_options, settings_from
from i2cr.cli.parsing import group, renamed
from i2cr.datasets import load_dataset
from i2cr.errors import InputError
from i2cr.kg import build_store, iter_entities, open_hybrid, open_kg
from i2cr.kg.dense import build_dense_index
from i2cr.kg.enrich import enrich_store
from i2cr.kg.entities import Entity, entities_from_samples
from i2cr.kg.locations import is_postgres_url
from i2cr.kg.opening import postgres_store_module
from i2cr.kg.priors import PriorTables, mention_counts
from i2cr.kg.wikidata import StagingFile, fingerprint, import_dump
from i2cr.models.chat import load_selector

T = TypeVar("T")

# Roughly 3 characters per token: room for a summary of `max_chars`.
CHARS_PER_TOKEN = 3


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `kg` subcommand and its actions."""
    parser = commands.add_parser(
        "kg",
        help="build, search and enrich a knowledge-graph store",
        description="Build a knowledge-graph store (an SQLite file or a PostgreSQL database) "
        "from entity JSONL, datasets or a Wikidata dump; search it; embed it for hybrid "
        "retrieval; enrich its descriptions with a chat model. `--set kg=STORE` links against it.",
    )
    actions = parser.add_subparsers(dest="kg_action", required=True, metavar="ACTION")

    build = actions.add_parser(
        "build",
        help="build a KG store with a trigram index (an SQLite file or a PostgreSQL database)",
        description="Build a KG store from a Wikidata JSON dump, entity JSONL files ({qid, "
        "name, aliases, description, image, popularity} per line) and/or the entities named by "
        "dataset files (their candidates and gold answers, merged by qid), with alias priors. "
        "Enrichments of an older store are kept. A postgresql:// URL builds the store in that "
        "database (pip install 'i2cr[postgres]'), alias priors included.",
    )
    build.add_argument("store", help="the SQLite file to write, or a postgresql:// URL")
    sources = build.add_argument_group("sources")
    sources.add_argument("--entities", action="append", default=[], help="entity JSONL file")
    sources.add_argument("--dataset", action="append", default=[], help="dataset file (any format)")
    sources.add_argument(
        "--wikidata",
        help="Wikidata JSON dump (latest-all.json.gz, .bz2 or .json), streamed into a staging "
        "file first (--staging): a killed import run again continues there",
    )
    sources.add_argument(
        "--staging",
        help="the --wikidata staging file (default: STORE.import beside an SQLite store; "
        "DATABASE.wikidata.import in the current folder for a PostgreSQL URL)",
    )
    sources.add_argument(
        "--languages",
        default="en",
        help="label languages kept from --wikidata, first preferred (e.g. en,mul)",
    )
    sources.add_argument(
        "--priors",
        action="append",
        default=[],
        help="training dataset whose mention -> gold qid counts weigh the alias priors",
    )
    build.set_defaults(run=run_build)

    search = actions.add_parser(
        "search",
        help="top-k candidates for a mention",
        description="Print the candidates a mention without any gets from the store: the top k "
        "(--set k=N) by the kg_retrieval setting (--set kg_retrieval=hybrid fuses alias priors "
        "and the dense index of `i2cr kg embed` with fuzzy names).",
    )
    search.add_argument(
        "store", help="KG store: file or postgresql:// URL (or entity JSONL, searched exhaustively)"
    )
    search.add_argument("mention", help="the mention text")
    search.add_argument("--context", default="", help="text around the mention (dense source)")
    search.add_argument("--json", action="store_true", help="print the candidates as JSON")
    add_settings_options(search)
    settings = group(search, "settings")
    renamed(settings, "-k", "--set k=N", "settings", convert="k={}".format, append=True)
    renamed(
        settings,
        "--retrieval",
        "--set kg_retrieval=fuzzy|hybrid",
        "settings",
        convert="kg_retrieval={}".format,
        append=True,
    )
    search.set_defaults(run=run_search)

    embed = _store_command(
        actions,
        "embed",
        run_embed,
        help="embed every entity into a dense (ANN) index of the store",
        description="Embed each entity's name + description with the configured embedder "
        "(--set embedder=...) for hybrid retrieval: into STORE.dense.usearch beside an SQLite "
        "store (the retrieval extra: usearch), or into a pgvector column with an HNSW index in "
        "a PostgreSQL store (pgvector on the server). A killed run started again continues.",
        store="KG store built by `i2cr kg build` (file or postgresql:// URL)",
    )
    embed.add_argument("--limit", type=int, help="only the first N entities")
    embed.add_argument(
        "--threads", type=int, default=0, help="usearch index build threads (0: all; SQLite)"
    )

    enrich = _store_command(
        actions,
        "enrich",
        run_enrich,
        help="summarise long descriptions and write briefs with the configured chat model",
        description="Summarise descriptions longer than --max-chars and write a short brief "
        "for entities without a description, with the selector chat model (--set "
        "selector=...). Cached per entity in the store: a re-run only does new work.",
        store="KG store built by `i2cr kg build` (file or URL)",
    )
    enrich.add_argument("--max-chars", type=int, default=240, help="longest text to keep")
    enrich.add_argument("--no-briefs", action="store_true", help="only summarise")
    enrich.add_argument("--limit", type=int, help="only the first N entities")
    enrich.add_argument(
        "--workers", type=int, default=1, help="texts asked for at once (threads; remote models)"
    )


def _store_command(
    actions: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    store: str,
) -> argparse.ArgumentParser:
    """A `kg` action on a built store, with the context options."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help, description=description)
    parser.add_argument("store", help=store)
    add_settings_options(parser)
    parser.set_defaults(run=run)
    return parser


def run_build(args: argparse.Namespace) -> int:
    """Build the store with a progress bar over the entities (and over the dump first)."""
    if not args.entities and not args.dataset and not args.wikidata:
        raise InputError("give --wikidata, --entities and/or --dataset files to build from")
    counts = mention_counts(chain.from_iterable(load_dataset(d) for d in args.priors))
    staging = _stage_wikidata(args) if args.wikidata else None
    named = entities_from_samples(chain.from_iterable(load_dataset(d) for d in args.dataset))
    from_datasets = ((f"dataset entity {e.qid}", e) for e in named)
    from_files = (
        (f"{path}:{line}", e) for path in args.entities for line, e in iter_entities(path)
    )
    total = len(named) + sum(_count_lines(path) for path in args.entities)
    rows: Iterator[tuple[str, Entity]] = chain(from_datasets, from_files)
    if staging:
        # The dump's record of an entity wins over a dataset's or a file's.
        rows = chain(staging.entities(), (r for r in rows if not staging.has_qid(r[1].qid)))
        total += staging.count()
    priors = PriorTables(counts)
    bar = tqdm(priors.watch(rows), total=total, unit="entity", desc="build")
    source = ", ".join([*([args.wikidata] if args.wikidata else []), *args.entities, *args.dataset])
    where, grams = args.store, "trigrams, "
    if is_postgres_url(args.store):
        postgres = postgres_store_module()
        summary = postgres.build_postgres_store(bar, args.store, source=source, priors=priors)
        where, grams = postgres.shown_url(args.store), ""
    else:
        Path(args.store).parent.mkdir(parents=True, exist_ok=True)
        summary = build_store(bar, args.store, source=source, finish=priors.write)
        grams = f"{summary.grams} {grams}"
    if staging:
        staging.close()
        staging.path.unlink()
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{summary.entities} entities, {summary.labels} labels, {grams}"
        f"{summary.bytes / 2**20:.1f} MiB -> {where}"
    )
    return 0


def run_search(args: argparse.Namespace) -> int:
    """Print the top-k candidates."""
    settings = settings_from(args.settings)
    if settings.kg_retrieval == "hybrid":
        hybrid = open_hybrid(args.store, settings.embedder, settings.precision)
        candidates = hybrid.search(args.mention, settings.k, context=args.context)
    else:
        candidates = open_kg(args.store).search(args.mention, settings.k)
    if args.json:
        print(json.dumps(candidates, ensure_ascii=False, indent=2))
        return 0
    for rank, candidate in enumerate(candidates, start=1):
        desc = candidate["desc"][:100] + ("..." if len(candidate["desc"]) > 100 else "")
        print(f"{rank:>2}. {candidate['name']} ({candidate.get('qid', '-')}) {desc}")
    return 0


def run_embed(args: argparse.Namespace) -> int:
    """Embed the store's entities with a progress bar."""
    settings = settings_from(args.settings)
    bar = tqdm(unit="entity", desc="embed")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    where = args.store
    try:
        if is_postgres_url(args.store):
            postgres = postgres_store_module()
            where = postgres.shown_url(args.store)
            summary = postgres.embed_postgres_store(
                args.store, settings.embedder, settings.precision, args.limit, progress
            )
        else:
            summary = build_dense_index(
                args.store,
                settings.embedder,
                settings.precision,
                limit=args.limit,
                threads=args.threads,
                progress=progress,
            )
    finally:
        bar.close()
    resumed = f" (resumed after {summary.resumed_from})" if summary.resumed_from else ""
    print(f"embedded {summary.embedded} of {summary.total} entities{resumed} -> {where}")
    return 0


def run_enrich(args: argparse.Namespace) -> int:
    """Enrich the store with the configured chat model."""
    settings = settings_from(args.settings)
    needed = args.max_chars // CHARS_PER_TOKEN
    if settings.selector_max_tokens < needed:
        settings = dataclasses.replace(settings, selector_max_tokens=needed)
    summary = enrich_store(
        args.store,
        load_selector(settings),
        max_chars=args.max_chars,
        briefs=not args.no_briefs,
        limit=args.limit,
        progress=_bar,
        workers=args.workers,
    )
    print(f"wrote {summary.written} texts, {summary.cached} already made -> {args.store}")
    return 0


def staging_path(args: argparse.Namespace) -> Path:
    """Where the dump is staged: `--staging`, else beside the store or named after the database."""
    if args.staging:
        return Path(args.staging)
    if is_postgres_url(args.store):
        database = urlsplit(args.store).path.strip("/") or "postgres"
        return Path(f"{re.sub(r'[^A-Za-z0-9_.-]', '_', database)}.wikidata.import")
    return Path(f"{args.store}.import")


def _stage_wikidata(args: argparse.Namespace) -> StagingFile:
    """Read the dump into the staging file beside the store, resuming a killed import."""
    dump = Path(args.wikidata)
    if not dump.is_file():
        raise InputError(f"Wikidata dump not found: {dump}")
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    staging = StagingFile(staging_path(args), fingerprint(dump, languages))
    if staging.reset:
        print(
            f"warning: {staging.path} was made from another dump or languages: starting over",
            file=sys.stderr,
        )
    elif int(staging.meta["line"]) > 1 and not staging.done:
        print(f"resuming the import of {dump} at line {staging.meta['line']}", file=sys.stderr)
    bar = tqdm(total=dump.stat().st_size, unit="B", unit_scale=True, desc="wikidata")

    def progress(done: int, items: int) -> None:
        bar.update(done - bar.n)
        bar.set_postfix(items=items, refresh=False)

    try:
        summary = import_dump(dump, staging, languages, warn=_warn, progress=progress)
    except InputError:
        staging.close()
        staging.path.unlink()
        raise
    finally:
        bar.close()
    print(
        f"{summary.items} items with a label in {','.join(languages)} staged"
        + (f", {summary.bad_lines} bad lines skipped" if summary.bad_lines else "")
        + (f", {summary.duplicates} repeated QIDs kept once" if summary.duplicates else ""),
        file=sys.stderr,
    )
    return staging


def _warn(message: str) -> None:
    tqdm.write(f"warning: {message}", file=sys.stderr)


def _bar(items: Iterator[T], total: int) -> Iterator[T]:
    return iter(tqdm(items, total=total, unit="entity", desc="enrich"))


def _count_lines(path: str) -> int:
    with Path(path).open("rb") as file:
        return sum(1 for line in file if line.strip())
