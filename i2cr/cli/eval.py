"""`i2cr eval`: run configurations over a dataset, sweep thresholds, build the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from i2cr.cli.options import add_engine_options, add_settings_options, engine_from, settings_from
from i2cr.evals.configs import SUITES, resolve_configs
from i2cr.evals.runner import RunRequest, run_request


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `eval` subcommand and its `suite` and `sweep` commands."""
    parser = commands.add_parser(
        "eval",
        help="evaluate on a dataset: baselines, ablations, report with plots",
        description="Run evaluation configurations (resumable) and build the report. "
        "`i2cr eval --report` rebuilds the report from the results without running anything.",
    )
    parser.add_argument("--report", action="store_true", help="only rebuild the report")
    parser.add_argument(
        "--compress",
        action="store_true",
        help="gzip the finished results files under <out>/runs (.jsonl -> .jsonl.gz; read as "
        "they are by the report, unpacked by the next run on them), then rebuild the report",
    )
    parser.add_argument("--out", type=Path, default=Path("evals"), help="evaluation folder")
    parser.set_defaults(run=run, eval_command=None)
    actions = parser.add_subparsers(dest="eval_command")

    suite = actions.add_parser("suite", help="run a suite or named configurations, then report")
    _add_run_options(suite)
    suite.add_argument(
        "--suite", choices=sorted(SUITES), help="configurations: quick, core (Table 3) or paper"
    )
    suite.add_argument(
        "--config", action="append", default=[], help="a configuration by name (repeatable)"
    )

    sweep = actions.add_parser("sweep", help="choose alpha, beta(_text) and fallback on dev")
    _add_run_options(sweep)
    sweep.add_argument("--alpha", default="0.3,0.4,0.5", help="alpha values, comma-separated")
    sweep.add_argument(
        "--beta-text", default="0.1,0.15,0.2", help="beta_text values (clue-text IAV)"
    )
    sweep.add_argument("--beta", default="", help="beta values (CLIP IAV, when weights exist)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True, help="I2CR release-format file")
    parser.add_argument(
        "--out", type=Path, default=argparse.SUPPRESS, help="evaluation folder (default evals)"
    )
    parser.add_argument("--image-dir", type=Path, help="folder of the dataset's images")
    parser.add_argument(
        "--orders",
        default="released,0",
        help="candidate orders: 'released' and/or shuffle seeds, comma-separated",
    )
    parser.add_argument("--subset", type=int, help="a seeded random subset of this many mentions")
    parser.add_argument("--subset-seed", type=int, default=0, help="seed of --subset")
    parser.add_argument("--workers", type=int, default=1, help="mentions linked at once")
    add_engine_options(parser)
    parser.add_argument(
        "--no-cache", action="store_true", help="do not use the selector-response cache"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
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
