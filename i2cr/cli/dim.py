"""`i2cr dim`: train the DIM ranker, rank with it, and prepare or summarise its evaluation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from i2cr.cli.options import (
    WIKIMEL,
    candidates_file,
    from_args,
    rank_action,
    ranker_command,
)

HELP = "the DIM fusion ranker: train, rank, evaluation rows and summaries"
TRAIN_HELP = "train DIM (N-pair loss) and save its weights"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `dim` subcommand and its actions."""
    actions, train = ranker_command(commands, "dim", run_train, HELP, TRAIN_HELP)
    train.add_argument(
        "--dev", default=str(WIKIMEL / "wikimel_dev.json"), help="epoch selection set"
    )
    train.add_argument("--embedder", default="minilm", help="sentence-transformers embedder")
    train.add_argument("--image-model", default="", help="open_clip model for an image token")
    train.add_argument("--image-pretrained", default="", help="open_clip pretrained tag or path")
    train.add_argument("--image-dir", help="folder of the datasets' images")
    train.add_argument("--d-model", type=int, default=128)
    train.add_argument("--heads", type=int, default=4)
    train.add_argument("--dropout", type=float, default=0.1)
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--weight-decay", type=float, default=1e-4)
    train.add_argument("--seed", type=int, default=0)
    rank = rank_action(
        actions,
        run_rank,
        help="rank one mention's candidates, or report top-1/3/5 on a dataset",
        dataset_help="report DIM and baselines on this release-format file",
        caption=("--cue", "the image caption (DIM's expert cue)"),
    )
    rank.add_argument("--image", help="the mention image (models with an image token)")
    rank.add_argument("--image-dir", help="folder of the dataset's images")
    rank.add_argument("--shuffle-seed", type=int, default=0, help="seed of the shuffled order")
    rank.add_argument("--size", type=int, help="report on a seeded subset of this size")
    rank.add_argument("--seed", type=int, default=0, help="subset seed")

    rows = actions.add_parser("rows", help="write a seeded subset as graph-input JSONL")
    rows.add_argument("--dataset", required=True, help="a release-format file")
    rows.add_argument("--size", type=int, help="subset size (default: every sample)")
    rows.add_argument("--seed", type=int, default=0, help="subset seed")
    rows.add_argument("--shuffle-seed", type=int, help="shuffle the candidates with this seed")
    rows.add_argument("--output", required=True, help="JSONL file for `i2cr link --input`")
    rows.set_defaults(run=run_rows)

    runs = actions.add_parser("runs", help="accuracy and selector calls of graph results")
    runs.add_argument("results", nargs="+", help="results JSONL files of `i2cr link`")
    runs.set_defaults(run=run_runs)


def run_train(args: argparse.Namespace) -> int:
    """Featurize (cached), train, report the best dev epoch and save."""
    from i2cr.datasets import load_release
    from i2cr.rankers.dim.features import cache_dir, featurize
    from i2cr.rankers.dim.model import DimConfig
    from i2cr.rankers.dim.ranker import save_model, shipped_weights
    from i2cr.rankers.dim.train import TrainSettings, train

    image_encoder = (args.image_model, args.image_pretrained) if args.image_model else None
    sets = []
    for path in (args.train, args.dev):
        samples = load_release(path, args.image_dir)
        sets.append(
            featurize(samples, args.embedder, cache=cache_dir(), image_encoder=image_encoder)
        )
    train_set, dev_set = sets
    config = from_args(
        DimConfig,
        args,
        text_dim=int(train_set.mention.shape[1]),
        image_dim=int(train_set.image.shape[1]) if train_set.image is not None else 0,
    )
    settings = from_args(TrainSettings, args)
    model, history = train(train_set, dev_set, config, settings)
    best = max(history, key=lambda row: (row["dev_top1"], -row["dev_loss"]))
    metadata = {
        "train": Path(args.train).name,
        "dev": Path(args.dev).name,
        "settings": vars(settings),
        "best_epoch": best,
    }
    folder = save_model(model, args.output or shipped_weights(), metadata)
    print(f"best epoch {int(best['epoch'])}: dev top-1 {best['dev_top1']:.3f} -> {folder}")
    return 0


def run_rank(args: argparse.Namespace) -> int:
    """Print one mention's ranking, or the dataset report."""
    from i2cr.datasets.sample import Sample
    from i2cr.rankers.dim.ranker import load_ranker

    ranker = load_ranker(args.weights)
    if args.dataset:
        from i2cr.datasets import load_release
        from i2cr.evals.runner import choose_subset
        from i2cr.rankers.dim.evaluate import format_rows, ranking_table
        from i2cr.rankers.dim.features import cache_dir

        samples = choose_subset(load_release(args.dataset, args.image_dir), args.size, args.seed)
        print(format_rows(ranking_table(ranker.model, samples, args.shuffle_seed, cache_dir())))
        return 0
    candidates = candidates_file(args)
    query = Sample(
        id="",
        mention=args.mention,
        context=args.context,
        candidates=candidates,
        clues={"caption": args.cue},
        image=args.image,
    )
    order = ranker.order(query)
    for rank, index in enumerate(order, start=1):
        print(f"{rank}. {candidates[index]['name']} (input #{index + 1})")
    return 0


def run_rows(args: argparse.Namespace) -> int:
    """Write the subset (optionally with shuffled candidates) for `i2cr link --input`."""
    from i2cr.batch import sample_rows
    from i2cr.datasets import load_release
    from i2cr.evals.runner import choose_subset, shuffle_candidates

    samples = choose_subset(load_release(args.dataset), args.size, args.seed)
    if args.shuffle_seed is not None:
        samples = shuffle_candidates(samples, args.shuffle_seed)
    with Path(args.output).open("w", encoding="utf-8") as sink:
        for row_id, row in sample_rows(samples):
            assert isinstance(row, dict)
            sink.write(json.dumps({"id": row_id, **row}, ensure_ascii=False) + "\n")
    print(f"{len(samples)} rows -> {args.output}")
    return 0


def run_runs(args: argparse.Namespace) -> int:
    """Print the paired summary of graph result files."""
    from i2cr.rankers.dim.evaluate import summarize_runs

    print(summarize_runs([Path(p) for p in args.results]))
    return 0
