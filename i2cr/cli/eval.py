"""`i2cr eval`: run configurations over a dataset, sweep thresholds, build the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from i2cr.cli.options import (
    add_engine_options,
    add_settings_options,
    add_subset_options,
    engine_from,
    settings_from,
)
from i2cr.cli.parsing import option
from i2cr.evals.configs import SUITES, resolve_configs
from i2cr.evals.runner import RunRequest, run_request


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand and its `suite` and `sweep` commands."""
    parser = commands.add_parser(
        "eval",
        help="evaluate on a dataset: baselines, ablations, report with plots",
        description="Run evaluation configurations (resumable) and build the report: "
        "`i2cr eval suite` and `i2cr eval sweep` run, then report; `i2cr eval --report` "
        "rebuilds the report from the results without running anything.",
    )
    parser.add_argument("--report", action="store_true", help="only rebuild the report")
    parser.add_argument(
        "--compress",
        action="store_true",
        help="gzip the finished results files under <output>/runs (.jsonl -> .jsonl.gz; read "
        "as they are by the report, unpacked by the next run on them), then rebuild the report",
    )
    _add_output_option(parser, Path("evals"))
    parser.set_defaults(run=run, eval_command=None)
    actions = parser.add_subparsers(dest="eval_command", metavar="ACTION")

    suite = actions.add_parser("suite", help="run a suite or named configurations, then report")
    what = suite.add_argument_group("configurations")
    what.add_argument(
        "--suite", choices=sorted(SUITES), help="configurations: quick, core (Table 3) or paper"
    )
    what.add_argument(
        "--config", action="append", default=[], help="a configuration by name (repeatable)"
    )
    _add_run_options(suite)

    sweep = actions.add_parser("sweep", help="choose alpha, beta(_text) and fallback on dev")
    grid = sweep.add_argument_group("grid")
    grid.add_argument("--alpha", default="0.3,0.4,0.5", help="alpha values, comma-separated")
    grid.add_argument(
        "--beta-text", default="0.1,0.15,0.2", help="beta_text values (clue-text IAV)"
    )
    grid.add_argument("--beta", default="", help="beta values (CLIP IAV, when weights exist)")
    _add_run_options(sweep)


def _add_output_option(parser: argparse.ArgumentParser, default: object) -> argparse._ArgumentGroup:
    """`--output` (the evaluation folder), with its old spelling `--out`."""
    output = parser.add_argument_group("output")
    option(
        output,
        "--output",
        "--out",
        dest="out",
        type=Path,
        default=default,
        help="evaluation folder: runs/, the report and its plots"
        + ("" if default is not argparse.SUPPRESS else " (default: evals)"),
    )
    return output


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", type=Path, required=True, help="dataset file (release format)")
    data.add_argument("--image-dir", type=Path, help="folder of the dataset's images")
    data.add_argument(
        "--orders",
        default="released,0",
        help="candidate orders: 'released' and/or shuffle seeds, comma-separated",
    )
    add_subset_options(data)
    output = _add_output_option(parser, argparse.SUPPRESS)
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    batch = parser.add_argument_group("batch")
    batch.add_argument("--workers", type=int, default=1, help="mentions linked at once")
    add_engine_options(batch)
    batch.add_argument(
        "--no-cache", action="store_true", help="do not use the selector-response cache"
    )
    add_settings_options(parser)


def _seeds(orders: str) -> list[int | None]:
    seeds: list[int | None] = []
    for part in (p.strip() for p in orders.split(",") if p.strip()):
        if part == "released":
            seeds.append(None)
        elif part.lstrip("-").isdigit():
            seeds.append(int(part))
        else:
            raise ValueError(f"--orders {part!r}: expected 'released' or an integer seed")
    return seeds


def _request(args: argparse.Namespace, configs: list) -> RunRequest:
    base = settings_from(args.settings)
    explicit = dict(s.split("=", 1) for s in args.settings)
    settings = {name: getattr(base, name) for name in explicit}
    engine_from(args)  # refuses --ray-address without --engine ray, or Ray not installed
    return RunRequest(
        dataset=args.dataset,
        configs=configs,
        out=args.out,
        seeds=_seeds(args.orders),
        settings=settings,
        subset=args.subset,
        subset_seed=args.subset_seed,
        image_dir=args.image_dir,
        workers=args.workers,
        cache=not args.no_cache,
        progress=not args.no_progress,
        engine=args.engine,
        ray_address=args.ray_address,
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen evaluation command, then (re)build the report."""
    from i2cr.evals.report import build_report

    if args.eval_command == "suite":
        configs = resolve_configs(args.suite, args.config)
        if not configs:
            raise ValueError("choose configurations with --suite and/or --config")
        run_request(_request(args, configs))
    elif args.eval_command == "sweep":
        from i2cr.evals.sweep import run_sweep

        run_sweep(_request(args, []), args.alpha, args.beta_text, args.beta)
    elif not (args.report or args.compress):
        raise ValueError("give a command (suite, sweep), --report or --compress")
    if args.compress:
        from i2cr.evals.records import pack_runs

        print(f"packed {len(pack_runs(args.out))} results files")
    paths = build_report(args.out)
    print("report: " + ", ".join(str(p) for p in paths))
    return 0
