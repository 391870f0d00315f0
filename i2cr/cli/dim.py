"""`i2cr dim`: train the DIM ranker, rank with it, and prepare or summarise its evaluation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from i2cr.cli.options import (
    add_subset_options,
    candidates_file,
    clues_from,
    from_args,
    rank_action,
    ranker_command,
)
from i2cr.cli.parsing import group, option

HELP = "the DIM fusion ranker: train, rank, evaluation rows and summaries"
TRAIN_HELP = "train DIM (N-pair loss) and save its weights"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `dim` subcommand and its actions."""
    actions, train = ranker_command(commands, "dim", run_train, HELP, TRAIN_HELP)
    data = group(train, "data")
    option(
        data,
        "--dev-dataset",
        "--dev",
        required=True,
        help="dataset file the best epoch is chosen on",
    )
    data.add_argument("--image-dir", help="folder of the datasets' images")
    model = train.add_argument_group("model")
    model.add_argument("--embedder", default="minilm", help="sentence-transformers embedder")
    model.add_argument("--image-model", default="", help="open_clip model for an image token")
    model.add_argument("--image-pretrained", default="", help="open_clip pretrained tag or path")
    model.add_argument("--d-model", type=int, default=128, help="width of the fusion layers")
    model.add_argument("--heads", type=int, default=4, help="attention heads")
    model.add_argument("--dropout", type=float, default=0.1, help="dropout of the fusion layers")
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=30, help="passes over the training set")
    option(
        training,
        "--learning-rate",
        "--lr",
        dest="lr",
        type=float,
        default=1e-3,
        help="AdamW learning rate",
    )
    training.add_argument("--batch-size", type=int, default=64, help="mentions per step")
    training.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    training.add_argument("--seed", type=int, default=0, help="initialisation and data order")
    rank = rank_action(
        actions,
        run_rank,
        help="rank one mention's candidates, or report top-1/3/5 against baselines on a dataset",
        old_caption="--cue",
    )
    mention = group(rank, "one mention")
    mention.add_argument("--image", help="the mention image (models with an image token)")
    data = group(rank, "a dataset")
    data.add_argument("--image-dir", help="folder of the dataset's images")
    data.add_argument("--shuffle-seed", type=int, default=0, help="seed of the shuffled order")
    add_subset_options(data, old_size="--size", old_seed="--seed")

    rows = actions.add_parser("rows", help="write a seeded subset as input JSONL for i2cr link")
    source = rows.add_argument_group("data")
    source.add_argument("--dataset", required=True, help="a dataset file (release format)")
    add_subset_options(source, old_size="--size", old_seed="--seed")
    source.add_argument("--shuffle-seed", type=int, help="shuffle the candidates with this seed")
    output = rows.add_argument_group("output")
    output.add_argument("--output", required=True, help="JSONL file for `i2cr link --input`")
    rows.set_defaults(run=run_rows)

    runs = actions.add_parser("runs", help="accuracy and selector calls of graph results")
    runs.add_argument("results", nargs="+", help="results JSONL files of `i2cr link`")
    runs.set_defaults(run=run_runs)


def run_train(args: argparse.Namespace) -> int:
    """Featurize (cached), train, report the best dev epoch and save."""
    from i2cr.datasets import load_release
    from i2cr.rankers.dim.features import cache_dir, featurize
    from i2cr.rankers.dim.model import DimConfig
    from i2cr.rankers.dim.ranker import save_model
    from i2cr.rankers.dim.train import TrainSettings, train

    image_encoder = (args.image_model, args.image_pretrained) if args.image_model else None
    sets = []
    for path in (args.dataset, args.dev_dataset):
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
        "train": Path(args.dataset).name,
        "dev": Path(args.dev_dataset).name,
        "settings": vars(settings),
        "best_epoch": best,
    }
    folder = save_model(model, args.output, metadata)
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

        samples = load_release(args.dataset, args.image_dir)
        samples = choose_subset(samples, args.subset, args.subset_seed)
        print(format_rows(ranking_table(ranker.model, samples, args.shuffle_seed, cache_dir())))
        return 0
    candidates = candidates_file(args)
    query = Sample(
        id="",
        mention=args.mention,
        context=args.context,
        candidates=candidates,
        clues=clues_from(args.clue),
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

    samples = choose_subset(load_release(args.dataset), args.subset, args.subset_seed)
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
