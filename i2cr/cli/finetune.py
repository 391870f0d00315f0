"""`i2cr finetune`: build instruction data, train a LoRA adapter, merge it into its base."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_args

from i2cr.cli.parsing import option
from i2cr.context import CLUE_TOOLS, RankerKind
from i2cr.finetune.train import PROJECTIONS, TrainConfig

_TRAIN_HELP = {
    "base": "base model: 'smollm2', a .gguf file, a checkpoint folder or a hub id",
    "epochs": "passes over the data (fractions allowed)",
    "learning_rate": "peak learning rate (cosine schedule after warm-up)",
    "warmup_steps": "linear warm-up, in optimizer steps",
    "grad_accum": "examples per optimizer step (the batch is 1 example)",
    "top_layers": "LoRA on the last N layers only (0: all, as in the paper)",
    "max_examples": "train on a seeded random subset of N examples (0: all)",
    "subset_seed": "seed of --subset",
    "max_length": "skip examples longer than this many tokens",
    "save_every": "checkpoint every N optimizer steps (a rerun resumes from the latest)",
    "gradient_checkpointing": "trade compute for memory (large models on a GPU)",
    "precision": "base weights' dtype: auto, bfloat16 or float32 (unset: bfloat16 on CUDA, "
    "float32 on a CPU)",
}


# The options named otherwise than their TrainConfig field, and the groups they are shown in.
_FLAGS = {"max_examples": "--subset"}
_OLD_FLAGS = {"max_examples": ("--max-examples",)}
_GROUPS = {
    "base": "model",
    "precision": "model",
    "top_layers": "model",
    "gradient_checkpointing": "model",
    "max_examples": "data",
    "subset_seed": "data",
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add `finetune data|train|export`."""
    parser = commands.add_parser(
        "finetune",
        help="fine-tune the selector with LoRA",
        description="Fine-tune the selector with LoRA: `data` builds instruction examples from "
        "a dataset, `train` trains an adapter on them (resumable), `export` merges it into its "
        "base model.",
    )
    steps = parser.add_subparsers(dest="finetune_step", required=True, metavar="STEP")
    _register_data(steps)
    _register_train(steps)

    export = steps.add_parser("export", help="merge an adapter into its base model")
    export.add_argument("--base", default="smollm2", help="the adapter's base model")
    export.add_argument("--adapter", required=True, help="adapter folder")
    export.add_argument("--output", required=True, help="folder for the merged checkpoint")
    export.set_defaults(run=run_export)


def _register_data(steps: argparse._SubParsersAction) -> None:
    data = steps.add_parser("data", help="instruction JSONL from a dataset (I2CR release format)")
    source = data.add_argument_group("data")
    source.add_argument("--dataset", required=True, help="training split, e.g. wikimel_train.json")
    source.add_argument(
        "--missing-as-nil",
        action="store_true",
        help="gold not among the candidates: a NIL example (default: skip the sample)",
    )
    prompts = data.add_argument_group("prompts")
    prompts.add_argument(
        "--clues",
        choices=["none", "one", "all"],
        default="one",
        help="prompts with visual clues per sample besides the text-only one",
    )
    prompts.add_argument("--clue-tools", default=",".join(CLUE_TOOLS), help="clues to draw from")
    prompts.add_argument("--desc-chars", type=int, default=120, help="as the desc_chars setting")
    prompts.add_argument("--seed", type=int, default=0, help="seed of the candidate shuffles")
    prompts.add_argument("--no-shuffle", action="store_true", help="keep the released order")
    prompts.add_argument(
        "--ranker",
        choices=get_args(RankerKind),
        default="none",
        help="order and trim the shuffled candidates as the ranker setting will at inference",
    )
    prompts.add_argument("--ranker-keep", type=int, default=10, help="as the ranker_keep setting")
    prompts.add_argument(
        "--shuffle-kept",
        action="store_true",
        help="shuffle the ranker's kept candidates again, so position carries no signal",
    )
    output = data.add_argument_group("output")
    output.add_argument("--output", required=True, help="instruction JSONL to write")
    data.set_defaults(run=run_data)


def _register_train(steps: argparse._SubParsersAction) -> None:
    train = steps.add_parser("train", help="LoRA SFT (paper defaults), resumable")
    groups = {
        title: train.add_argument_group(title) for title in ("data", "output", "model", "training")
    }
    option(
        groups["data"],
        "--input",
        "--data",
        dest="data",
        required=True,
        help="instruction JSONL from `finetune data`",
    )
    groups["output"].add_argument(
        "--output", required=True, help="adapter folder (checkpoints inside)"
    )
    for f in fields(TrainConfig):
        if f.name not in _TRAIN_HELP:
            continue
        flag = _FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
        where = groups[_GROUPS.get(f.name, "training")]
        if f.type in (bool, "bool"):
            where.add_argument(flag, dest=f.name, action="store_true", help=_TRAIN_HELP[f.name])
            continue
        kind = float if f.type in (float, "float") else int if f.type in (int, "int") else str
        old = _OLD_FLAGS.get(f.name, ())
        option(
            where, flag, *old, dest=f.name, type=kind, default=f.default, help=_TRAIN_HELP[f.name]
        )
    lora = groups["model"]
    lora.add_argument("--lora-r", type=int, default=8, help="LoRA rank")
    lora.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha")
    lora.add_argument("--lora-dropout", type=float, default=0.0, help="LoRA dropout")
    lora.add_argument(
        "--target-modules", default=",".join(PROJECTIONS), help="projection layers given LoRA"
    )
    groups["training"].add_argument("--seed", type=int, default=0, help="seed of the example order")
    train.set_defaults(run=run_train)


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
