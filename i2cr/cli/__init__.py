"""The `i2cr` command: one subcommand module each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from i2cr.cli import dim, eval, finetune, kg, link

SUBCOMMANDS = [link, eval, dim, kg, finetune]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    parser = argparse.ArgumentParser(prog="i2cr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(commands)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"i2cr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
