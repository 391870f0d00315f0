"""Command-line options shared by subcommands: context settings, the batch engine."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from i2cr.context import Context
from i2cr.errors import InputError, SettingError

if TYPE_CHECKING:
    from i2cr.batch import Engine


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """`--set FIELD=VALUE` (repeatable) for any Context field."""
    names = ", ".join(f.name for f in fields(Context))
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"override a context setting (repeatable); fields: {names}",
    )


def settings_from(settings: list[str]) -> Context:
    """A Context from `FIELD=VALUE` strings (environment variables fill the rest).

    The Context converts and checks each value, as it does for every other source.
    """
    values = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        if not sep:
            raise SettingError(f"--set {setting!r}: expected FIELD=VALUE")
        values[name.strip()] = raw
    return Context(**values)  # type: ignore[arg-type]


def add_engine_options(parser: argparse.ArgumentParser) -> None:
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


WIKIMEL = Path("../shared/data/wikimel")
Runner = Callable[[argparse.Namespace], int]


def ranker_command(
    commands: Any, name: str, run_train: Runner, help: str, train_help: str
) -> tuple[Any, argparse.ArgumentParser]:
    """A trained first stage's subcommand: its actions, and `train` with the split and output."""
    parser = commands.add_parser(name, help=help)
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help=train_help)
    train.set_defaults(run=run_train)
    train.add_argument("--train", default=str(WIKIMEL / "wikimel_train.json"), help="training set")
    train.add_argument("--output", help="weights folder (default: the shipped weights folder)")
    return actions, train


def rank_action(
    actions: Any, run: Runner, help: str, dataset_help: str, caption: tuple[str, str]
) -> argparse.ArgumentParser:
    """The `rank` action of a trained first stage: one mention's candidates, or a dataset.

    `caption`: the option (and its help) that gives the image caption.
    """
    rank: argparse.ArgumentParser = actions.add_parser("rank", help=help)
    rank.set_defaults(run=run)
    rank.add_argument("mention", nargs="?", help="the mention text")
    rank.add_argument("--context", default="", help="the text around the mention")
    rank.add_argument(caption[0], default="", help=caption[1])
    rank.add_argument("--candidates", help="JSON file: a list of {name, desc, qid}")
    rank.add_argument("--dataset", help=dataset_help)
    rank.add_argument("--weights", default="", help="weights folder (default: shipped)")
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
