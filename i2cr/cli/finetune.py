"""`i2cr finetune`: build instruction data, train a LoRA adapter, merge it into its base."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_args

from i2cr.context import CLUE_TOOLS, RankerKind
from i2cr.finetune.train import PROJECTIONS, TrainConfig

_TRAIN_HELP = {
    "base": "base model: 'smollm2', a .gguf file, a checkpoint folder or a hub id",
    "epochs": "passes over the data (fractions allowed)",
    "learning_rate": "peak learning rate (cosine schedule after warm-up)",
    "warmup_steps": "linear warm-up, in optimizer steps",
    "grad_accum": "examples per optimizer step (the batch is 1 example)",
    "top_layers": "LoRA on the last N layers only (0: all, as in the paper)",
    "max_examples": "train on a seeded random subset of this many examples (0: all)",
    "max_length": "skip examples longer than this many tokens",
    "save_every": "checkpoint every N optimizer steps (a rerun resumes from the latest)",
    "gradient_checkpointing": "trade compute for memory (large models on a GPU)",
    "precision": "base weights' dtype: auto, bfloat16 or float32 (default: bfloat16 on CUDA, "
    "float32 on a CPU)",
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add `finetune data|train|export`."""
    parser = commands.add_parser(
        "finetune", help="fine-tune the selector with LoRA", description=__doc__
    )
    steps = parser.add_subparsers(dest="finetune_step", required=True)

    data = steps.add_parser("data", help="instruction JSONL from a dataset (I2CR release format)")
    data.add_argument("--dataset", required=True, help="training split, e.g. wikimel_train.json")
    data.add_argument("--output", required=True, help="instruction JSONL to write")
    data.add_argument("--seed", type=int, default=0, help="seed of the candidate shuffles")
    data.add_argument(
        "--clues",
        choices=["none", "one", "all"],
        default="one",
        help="prompts with visual clues per sample besides the text-only one",
    )
    data.add_argument("--clue-tools", default=",".join(CLUE_TOOLS), help="clues to draw from")
    data.add_argument("--desc-chars", type=int, default=120, help="as Context.desc_chars")
    data.add_argument(
        "--missing-as-nil",
        action="store_true",
        help="gold not among the candidates: a NIL example (default: skip the sample)",
    )
    data.add_argument("--no-shuffle", action="store_true", help="keep the released order")
    data.add_argument(
        "--ranker",
        choices=get_args(RankerKind),
        default="none",
        help="order and trim the shuffled candidates as Context.ranker will at inference",
    )
    data.add_argument("--ranker-keep", type=int, default=10, help="as Context.ranker_keep")
    data.add_argument(
        "--shuffle-kept",
        action="store_true",
        help="shuffle the ranker's kept candidates again, so position carries no signal",
    )
    data.set_defaults(run=run_data)

    train = steps.add_parser("train", help="LoRA SFT (paper defaults), resumable")
    train.add_argument("--data", required=True, help="instruction JSONL from `finetune data`")
    train.add_argument("--output", required=True, help="adapter folder (checkpoints inside)")
    for f in fields(TrainConfig):
        if f.name in _TRAIN_HELP:
            flag = "--" + f.name.replace("_", "-")
            if f.type in (bool, "bool"):
                train.add_argument(flag, action="store_true", help=_TRAIN_HELP[f.name])
            else:
                kind = (
                    float if f.type in (float, "float") else int if f.type in (int, "int") else str
                )
                train.add_argument(
                    flag, type=kind, default=f.default, help=f"{_TRAIN_HELP[f.name]} ({f.default})"
                )
    train.add_argument("--lora-r", type=int, default=8, help="LoRA rank (8)")
    train.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha (16)")
    train.add_argument("--lora-dropout", type=float, default=0.0, help="LoRA dropout (0)")
    train.add_argument(
        "--target-modules", default=",".join(PROJECTIONS), help="projection layers given LoRA"
    )
    train.add_argument("--seed", type=int, default=0, help="seed of the example order")
    train.set_defaults(run=run_train)

    export = steps.add_parser("export", help="merge an adapter into its base model")
    export.add_argument("--base", default="smollm2", help="the adapter's base model")
    export.add_argument("--adapter", required=True, help="adapter folder")
    export.add_argument("--output", required=True, help="folder for the merged checkpoint")
    export.set_defaults(run=run_export)


def run_data(args: argparse.Namespace) -> int:
    """Write the instruction JSONL."""
    from i2cr.datasets import load_release
    from i2cr.finetune.data import DataOptions, build_examples, write_examples

    tools = tuple(t.strip() for t in args.clue_tools.split(",") if t.strip())
    unknown = [t for t in tools if t not in CLUE_TOOLS]
    if unknown:
        raise ValueError(f"--clue-tools names unknown tools {unknown}; known: {list(CLUE_TOOLS)}")
    options = DataOptions(
        seed=args.seed,
        clues=args.clues,
        clue_tools=tools,
        desc_chars=args.desc_chars,
        missing_as_nil=args.missing_as_nil,
        shuffle=not args.no_shuffle,
        ranker=args.ranker,
        ranker_keep=args.ranker_keep,
        shuffle_kept=args.shuffle_kept,
    )
    samples = load_release(args.dataset)
    examples = build_examples(samples, options)
    count = write_examples(examples, args.output)
    used = len({e["id"].rsplit(":", 1)[0] for e in examples})
    print(f"{count} examples from {used} of {len(samples)} samples -> {args.output}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train (or resume) and report the loss."""
    from i2cr.finetune.train import train

    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and k != "target_modules"}
    modules = tuple(m.strip() for m in args.target_modules.split(",") if m.strip())
    result = train(TrainConfig(**values, target_modules=modules))
    print(
        f"adapter -> {result.adapter_dir} ({result.steps} steps, {result.examples_seen} examples; "
        f"loss {result.first_loss} -> {result.last_loss}; "
        f"{result.skipped_too_long} skipped as too long)"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Merge and save."""
    from i2cr.finetune.export import merge_adapter

    print(f"merged model -> {merge_adapter(args.base, args.adapter, args.output)}")
    return 0
