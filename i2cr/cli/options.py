"""Command-line options shared by subcommands: context settings, the batch engine."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import TYPE_CHECKING

from i2cr.context import Context
from i2cr.errors import SettingError

if TYPE_CHECKING:
    from i2cr.batch import Engine


def add_context_options(parser: argparse.ArgumentParser) -> None:
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


def context_from(settings: list[str]) -> Context:
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
