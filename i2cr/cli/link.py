"""`i2cr link`: link one mention and print its story, or a JSONL/dataset file in batch."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from i2cr.batch import BatchSummary, link_one, read_jsonl_rows, run_batch, sample_rows
from i2cr.cli.options import (
    add_clue_option,
    add_engine_options,
    add_settings_options,
    add_subset_options,
    clues_from,
    engine_from,
    settings_from,
)
from i2cr.cli.parsing import renamed
from i2cr.context import Context
from i2cr.datasets import load_release, read_release_entries
from i2cr.datasets.sample import Sample
from i2cr.errors import InputError
from i2cr.kg import open_kg
from i2cr.subsets import seeded_subset
from i2cr.tools.choice import NO_IMAGE


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `link` subcommand."""
    parser = commands.add_parser(
        "link",
        help="link a mention, or every row of a JSONL or dataset file",
        description="Link one mention and print its story, or link every row of an --input "
        "JSONL or a --dataset file into an --output results JSONL (resumable: run the same "
        "command again after an interruption and it finishes the file).",
    )
    mention = parser.add_argument_group("one mention")
    mention.add_argument("mention", nargs="?", help="the mention text to link")
    mention.add_argument("--context", default="", help="the text around the mention")
    mention.add_argument("--image", help="path of the mention image")
    mention.add_argument("--candidates", help="JSON file: a list of {name, desc, qid}")
    add_clue_option(mention)
    files = parser.add_argument_group("many mentions")
    files.add_argument(
        "--input", help="JSONL file of inputs, one mention per line (needs --output)"
    )
    files.add_argument(
        "--dataset",
        help="a dataset file (I2CR release format): all of it with --output, or one sample (--id)",
    )
    files.add_argument("--id", help="link only this sample of --dataset, and print it")
    add_subset_options(files, what="rows")
    renamed(files, "--limit", "--subset N (a seeded random subset)", "first_rows", type=int)
    files.add_argument(
        "--image-dir",
        help="folder of the images: the dataset's image names and relative image paths resolve "
        "inside it, paths leading outside it are refused (it becomes image_root)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--output", help="results JSONL to write (resumes if it exists)")
    output.add_argument("--retry-errors", action="store_true", help="rerun rows that failed")
    output.add_argument("--json", action="store_true", help="print the raw JSON record")
    batch = parser.add_argument_group("batch")
    batch.add_argument(
        "--workers",
        type=int,
        default=1,
        help="rows linked at once (threads, or Ray workers with --engine ray)",
    )
    add_engine_options(batch)
    add_settings_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to single or batch linking.

    Batch mode exits with 1 when any row of the output is an error record (this run's or an
    earlier run's left by resuming without --retry-errors).
    """
    settings = settings_from(args.settings)
    if args.image_dir:
        args.image_dir = image_folder(args.image_dir, settings)
        settings = dataclasses.replace(settings, image_root=args.image_dir)
    if settings.kg:
        # A KG that cannot be opened is one error now, not an error row for every mention.
        open_kg(settings.kg)
    from i2cr.graph import graph

    if args.output:
        rows, total = _batch_rows(args)
        summary = run_batch(
            graph,
            rows,
            args.output,
            settings,
            retry_errors=args.retry_errors,
            total=total,
            workers=args.workers,
            metadata={"dataset": args.input or args.dataset},
            engine=engine_from(args),
        )
        print(describe_summary(summary, args.output))
        return 1 if summary.any_failed else 0
    row = _single_row(args)
    record = link_one(graph, row, settings)
    print(json.dumps(record, ensure_ascii=False, indent=2) if args.json else describe(record))
    return 0


def image_folder(image_dir: str, settings: Context) -> str:
    """`--image-dir` as an absolute folder, inside the operator's `image_root` if one is set."""
    folder = Path(image_dir).resolve()
    if not folder.is_dir():
        raise InputError(f"--image-dir {image_dir}: no such folder")
    if settings.image_root and not folder.is_relative_to(Path(settings.image_root).resolve()):
        raise InputError(
            f"--image-dir {image_dir} lies outside image_root {settings.image_root} "
            "(I2CR_IMAGE_ROOT): give a folder inside it"
        )
    return str(folder)


def _batch_rows(args: argparse.Namespace) -> tuple[Any, int | None]:
    """The rows of --input or --dataset, or their subset (an --input file streams whole)."""
    if args.id:
        raise InputError("--id links one sample and prints it: leave out --output")
    first_rows = getattr(args, "first_rows", None)
    whole = args.subset is None and first_rows is None
    if args.input and whole:
        return read_jsonl_rows(args.input), None
    if args.input:
        entries: list[Any] = list(read_jsonl_rows(args.input))
    elif args.dataset:
        entries = list(read_release_entries(args.dataset, args.image_dir))
    else:
        raise InputError("--output writes the results of --input or --dataset: give one")
    chosen = seeded_subset(
        entries[:first_rows] if first_rows else entries, args.subset, args.subset_seed
    )
    return (chosen if args.input else sample_rows(chosen)), len(chosen)


def _single_row(args: argparse.Namespace) -> dict[str, Any]:
    if args.input:
        raise InputError("--input links a file of mentions: give --output FILE for the results")
    if args.dataset:
        return _one_sample(args.dataset, args.id, args.image_dir).graph_input()
    if not args.mention:
        raise InputError(
            "give a mention to link (i2cr link MENTION --candidates FILE), or --input/--dataset "
            "with --output FILE"
        )
    candidates = json.loads(Path(args.candidates).read_text()) if args.candidates else []
    return {
        "mention": args.mention,
        "context": args.context,
        "image": args.image,
        "candidates": candidates,
        "clues": clues_from(args.clue),
    }


def _one_sample(dataset: str, sample_id: str | None, image_dir: str | None) -> Sample:
    """The sample `--id` names, or the only one; without either, how to choose."""
    samples = load_release(dataset, image_dir)
    if sample_id:
        chosen = [s for s in samples if s.id == sample_id]
        if not chosen:
            raise InputError(f"no sample with id {sample_id!r} in {dataset}")
        return chosen[0]
    if len(samples) == 1:
        return samples[0]
    shown = ", ".join(s.id for s in samples[:3]) + (", ..." if len(samples) > 3 else "")
    raise InputError(
        f"{dataset} holds {len(samples)} samples: link one with --id ({shown}), "
        "or all of them with --output FILE"
    )


def describe_summary(summary: BatchSummary, output: str) -> str:
    """The batch's counts, what was renamed, and how to rerun the failed rows."""
    lines = [
        f"linked {summary.linked}, failed {summary.failed}, "
        f"already done {summary.skipped} -> {output}"
    ]
    if summary.renamed:
        shown = ", ".join(summary.renamed[:5]) + (", ..." if len(summary.renamed) > 5 else "")
        lines.append(f"{len(summary.renamed)} repeated ids linked as their own rows: {shown}")
    if summary.skipped_errors:
        lines.append(
            f"{summary.skipped_errors} rows already done are errors: --retry-errors reruns them"
        )
    return "\n".join(lines)


def describe(record: dict[str, Any]) -> str:
    """A person's view of one record: answer, top-K, the image's clues and each try's decision."""
    result = record["result"]
    answer = "NIL" if result["nil"] else f"{result['entity']} ({result['qid'] or 'no qid'})"
    lines = [f"entity: {answer}", f"decided by: {result['decided_by']}", "top-k:"]
    lines += [
        f"  {i}. {e['name']} ({e['qid'] or '-'}) [{e['source']}]"
        for i, e in enumerate(result["top_k"], start=1)
    ]
    # A tool that needs the image says nothing when there is none (a warning says why).
    steps = [s for s in record["clue_steps"] if s.get("error") != NO_IMAGE]
    if steps:
        lines.append("clues:")
        lines += [f"  {describe_clue(step)}" for step in steps]
    lines.append("rounds:")
    for a in record["attempts"]:
        icr = "-" if a["icr_score"] is None else f"{a['icr_score']:.3f}"
        iav = f"- ({a['iav_method']})" if a["iav_method"] else "-"
        if a["iav_score"] is not None:
            iav = f"{a['iav_score']:.3f} ({a['iav_method']})"
        lines.append(
            f"  round {a['round']} try {a['try_index']} clue={a['clue_tool'] or 'none'}: "
            f"{a['entity'] or 'NIL'} [{a['match']}] ICR={icr} IAV={iav} -> {a['decision']}"
        )
    lines += [f"warning: {w}" for w in record["warnings"]]
    lines.append(f"selector calls: {result['selector_calls']}, {record['seconds']:.2f} s")
    return "\n".join(lines)


def describe_clue(step: dict[str, Any]) -> str:
    """One tool's clue: its provider and seconds, its text and the round that used it."""
    ran = f"{step['tool']} ({step['provider']}, {step['seconds']:.2f} s)"
    if step.get("error"):
        return f"{step['tool']} ({step['provider']}): {step['error']}"
    if not step["text"]:
        return f"{ran}: nothing found"
    return f"{ran}: {step['text']!r} -> round {step['round']}"
