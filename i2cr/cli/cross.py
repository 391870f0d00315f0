"""`i2cr cross`: train the cross-encoder first stage, rank with it, learn its NIL threshold."""

from __future__ import annotations

import argparse
import json
import time
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
from i2cr.errors import InputError

HELP = "the cross-encoder first stage: train, rank, NIL threshold"
TRAIN_HELP = "fine-tune the cross-encoder on a training split"


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `cross` subcommand and its actions."""
    actions, train = ranker_command(commands, "cross", run_train, HELP, TRAIN_HELP)
    data = group(train, "data")
    add_subset_options(data, old_size="--limit")
    model = train.add_argument_group("model")
    model.add_argument("--base", default="minilm", help="base encoder: 'minilm', folder or id")
    option(
        model,
        "--top-layers",
        "--trained-layers",
        dest="trained_layers",
        type=int,
        default=2,
        help="train only the last N layers (with the pooler and the scoring head)",
    )
    model.add_argument("--max-length", type=int, default=128, help="tokens per pair")
    model.add_argument(
        "--desc-chars", type=int, default=400, help="description characters read per entity"
    )
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=1, help="passes over the training set")
    option(
        training,
        "--learning-rate",
        "--lr",
        dest="lr",
        type=float,
        default=5e-5,
        help="learning rate of the layers",
    )
    option(
        training,
        "--head-learning-rate",
        "--head-lr",
        dest="head_lr",
        type=float,
        default=1e-3,
        help="learning rate of the scoring head",
    )
    training.add_argument(
        "--mentions-per-step", type=int, default=4, help="mentions (candidate lists) per step"
    )
    training.add_argument("--seed", type=int, default=0, help="head initialisation, data order")
    rank_action(
        actions,
        run_rank,
        help="rank one mention's candidates, or report top-1 on a dataset",
        old_caption="--caption",
    )

    nil = actions.add_parser(
        "nil",
        help="learn the NIL threshold on the best score (top-1 with the rule) from a set with NIL",
    )
    nil.add_argument("--dataset", required=True, help="a dataset file with NIL labels")
    nil.add_argument(
        "--weights", default="", help="weights folder (default: the ones shipped with i2cr)"
    )
    nil.add_argument(
        "--save",
        action="store_true",
        help="save the threshold in the --weights folder (which must be named)",
    )
    nil.set_defaults(run=run_nil)


def run_train(args: argparse.Namespace) -> int:
    """Train on the split (or a seeded subset) and save the trained layers with how."""
    from i2cr.datasets import load_release
    from i2cr.evals.runner import choose_subset
    from i2cr.rankers.cross_encoder.model import CrossEncoderConfig, save_model
    from i2cr.rankers.cross_encoder.train import TrainSettings, train, with_gold

    samples = choose_subset(load_release(args.dataset), args.subset, args.subset_seed)
    config = from_args(CrossEncoderConfig, args)
    settings = from_args(TrainSettings, args)
    started = time.perf_counter()
    ranker, history = train(samples, config, settings)
    seconds = time.perf_counter() - started
    metadata = {
        "train": Path(args.dataset).name,
        "mentions": len(with_gold(samples)),
        "subset": args.subset,
        "subset_seed": args.subset_seed,
        "settings": settings.as_dict(),
        "wall_s": round(seconds),
        "final_loss": history[-1]["loss"] if history else None,
    }
    folder = save_model(ranker.model, config, args.output, metadata)
    print(f"trained on {metadata['mentions']} mentions in {seconds:.0f} s -> {folder}")
    return 0


def run_rank(args: argparse.Namespace) -> int:
    """Print one mention's ranking, or top-1 over a dataset."""
    from i2cr.rankers.cross_encoder.ranker import load_cross_encoder

    ranker = load_cross_encoder(args.weights)
    if args.dataset:
        from i2cr.datasets import load_release
        from i2cr.rankers.cross_encoder.train import top1

        samples = load_release(args.dataset)
        print(f"top-1 {100 * top1(ranker, samples):.1f} over {len(samples)} mentions")
        return 0
    candidates = candidates_file(args)
    scores = ranker.scores(
        mention=args.mention,
        context=args.context,
        candidates=candidates,
        clues=clues_from(args.clue),
    )
    for rank, index in enumerate(sorted(range(len(scores)), key=lambda i: -scores[i]), 1):
        print(f"{rank}. {candidates[index]['name']} ({scores[index]:.2f}, input #{index + 1})")
    return 0


def run_nil(args: argparse.Namespace) -> int:
    """Print the threshold that best separates NIL from non-NIL mentions, and its P/R."""
    from i2cr.datasets import load_release
    from i2cr.rankers.cross_encoder.nil import best_scores, learn_threshold
    from i2cr.rankers.cross_encoder.ranker import (
        load_cross_encoder,
        save_nil_threshold,
    )

    if args.save and not args.weights:
        raise InputError(
            "--save writes beside the weights: name their folder with --weights (the shipped "
            "folder too, to replace its threshold)"
        )
    samples = load_release(args.dataset)
    if not any(s.is_nil for s in samples):
        raise InputError(f"{args.dataset}: no NIL mentions to learn a threshold from")
    tops, right = best_scores(load_cross_encoder(args.weights), samples)
    rule = learn_threshold(tops, [s.is_nil for s in samples], right)
    print(json.dumps(rule.as_dict(), indent=2))
    if args.save:
        learned = {**rule.as_dict(), "dataset": Path(args.dataset).name}
        print(f"-> {save_nil_threshold(args.weights, learned)}")
    return 0
