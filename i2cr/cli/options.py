"""Command-line options shared by subcommands: settings, subsets, clues, the batch engine."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from i2cr.cli.parsing import Options, option, renamed
from i2cr.context import CLUE_TOOLS, SERVER_ONLY_SETTINGS, Context
from i2cr.errors import InputError, SettingError

if TYPE_CHECKING:
    from i2cr.batch import Engine

SETTINGS_LIST = "`i2cr settings` lists them all with their types and defaults"


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """`--set FIELD=VALUE` (repeatable) for any setting, in its own group."""
    group = parser.add_argument_group("settings")
    group.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"change a setting for this command (repeatable); {SETTINGS_LIST}",
    )


def settings_from(settings: list[str]) -> Context:
    """The settings from `FIELD=VALUE` strings (environment variables fill the rest).

    The Context converts and checks each value, as it does for every other source; the
    settings only a LangGraph server reads are refused.
    """
    values = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        if not sep:
            raise SettingError(f"--set {setting!r}: expected FIELD=VALUE")
        values[name.strip()] = raw
    server_only = sorted(set(values) & SERVER_ONLY_SETTINGS)
    if server_only:
        raise SettingError(
            f"--set {', '.join(server_only)}: only a LangGraph server reads "
            f"{'these' if len(server_only) > 1 else 'this'}; set it where the server starts "
            f"(I2CR_{server_only[0].upper()} in its environment)"
        )
    return Context(**values)  # type: ignore[arg-type]


def add_subset_options(
    group: Options, what: str = "mentions", old_size: str = "", old_seed: str = ""
) -> None:
    """`--subset N` and `--subset-seed S`: the one way to take a seeded random subset.

    `old_size`, `old_seed`: the spellings a command had before, kept for one release.
    """
    option(
        group,
        "--subset",
        *filter(None, [old_size]),
        type=int,
        metavar="N",
        help=f"a seeded random subset of N {what}, in file order (default: all)",
    )
    option(
        group,
        "--subset-seed",
        *filter(None, [old_seed]),
        type=int,
        default=0,
        metavar="SEED",
        help="seed of --subset",
    )


def add_clue_option(group: Options) -> None:
    """`--clue TOOL=TEXT` (repeatable): text read from the image, the one way to give it."""
    group.add_argument(
        "--clue",
        action="append",
        default=[],
        metavar="TOOL=TEXT",
        help=f"text read from the image by a tool ({', '.join(CLUE_TOOLS)}), e.g. "
        "caption='a man at a podium' (repeatable)",
    )


def renamed_caption(group: Options, old: str) -> None:
    """An old caption option, kept one release as `--clue caption=TEXT`."""
    renamed(group, old, "--clue caption=TEXT", "clue", convert="caption={}".format, append=True)


def clues_from(clues: list[str]) -> dict[str, str]:
    """The `--clue TOOL=TEXT` values by tool (InputError naming a malformed one)."""
    parsed = {}
    for clue in clues:
        tool, sep, text = clue.partition("=")
        if not sep or tool.strip() not in CLUE_TOOLS:
            raise InputError(f"--clue {clue!r}: expected TOOL=TEXT, TOOL one of {list(CLUE_TOOLS)}")
        parsed[tool.strip()] = text
    return parsed


def add_engine_options(parser: Options) -> None:
    """`--engine threads|ray` and `--ray-address` for a batch."""
    parser.add_argument(
        "--engine",
        choices=("threads", "ray"),
        default="threads",
        help="where rows are linked: threads of this process, or Ray workers (--workers "
        "actors, each loading the models once; pip install 'i2cr[ray]')",
    )
    parser.add_argument(
        "--ray-address",
        help="a running Ray cluster (host:port of `ray start --head`, or auto); default: "
        "start Ray on this machine for the run",
    )


def engine_from(args: argparse.Namespace) -> Engine:
    """The batch engine the options name."""
    from i2cr.batch import thread_engine

    if args.engine == "threads":
        if args.ray_address:
            raise SettingError("--ray-address needs --engine ray")
        return thread_engine
    try:
        from i2cr.batch_ray import RayEngine
    except ImportError as err:
        raise SettingError(f"--engine ray needs Ray ({err}): pip install 'i2cr[ray]'") from err
    return RayEngine(address=args.ray_address)


Runner = Callable[[argparse.Namespace], int]


def ranker_command(
    commands: Any, name: str, run_train: Runner, help: str, train_help: str
) -> tuple[Any, argparse.ArgumentParser]:
    """A trained first stage's subcommand: its actions, and `train` with its data and output.

    Training writes where `--output` says, never into the installed package by default.
    """
    parser = commands.add_parser(name, help=help)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser("train", help=train_help)
    train.set_defaults(run=run_train)
    data = train.add_argument_group("data")
    option(data, "--dataset", "--train", required=True, help="training dataset file")
    output = train.add_argument_group("output")
    output.add_argument(
        "--output",
        required=True,
        help="weights folder to write (to replace the shipped weights, name their folder)",
    )
    return actions, train


def rank_action(actions: Any, run: Runner, help: str, old_caption: str) -> argparse.ArgumentParser:
    """The `rank` action of a trained first stage: one mention's candidates, or a dataset.

    `old_caption`: the option that gave the image caption before `--clue caption=TEXT`.
    """
    rank: argparse.ArgumentParser = actions.add_parser("rank", help=help)
    rank.set_defaults(run=run)
    mention = rank.add_argument_group("one mention")
    mention.add_argument("mention", nargs="?", help="the mention text")
    mention.add_argument("--context", default="", help="the text around the mention")
    add_clue_option(mention)
    renamed_caption(mention, old_caption)
    mention.add_argument("--candidates", help="JSON file: a list of {name, desc, qid}")
    data = rank.add_argument_group("a dataset")
    data.add_argument("--dataset", help="report top-1 (and more) on this dataset file")
    model = rank.add_argument_group("model")
    model.add_argument(
        "--weights", default="", help="weights folder (default: the ones shipped with i2cr)"
    )
    return rank


def candidates_file(args: argparse.Namespace) -> list[Any]:
    """The candidates of `rank --candidates FILE` for `args.mention` (InputError without)."""
    if not args.mention or not args.candidates:
        raise InputError("give a mention and --candidates, or --dataset")
    candidates = json.loads(Path(args.candidates).read_text(encoding="utf-8"))
    if not isinstance(candidates, list) or not candidates:
        raise InputError(f"{args.candidates}: expected a non-empty JSON list of candidates")
    return candidates


Settings = TypeVar("Settings")


def from_args(cls: type[Settings], args: argparse.Namespace, **given: Any) -> Settings:
    """A settings dataclass from the options named like its fields, plus `given` values."""
    assert is_dataclass(cls)
    named = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
    return cls(**{**named, **given})
