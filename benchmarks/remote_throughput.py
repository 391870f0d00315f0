"""Mentions per second through a remote selector, by number of worker threads.

    python benchmarks/remote_throughput.py standin --latency 1 --workers 1,2,4,8,16,32
    python benchmarks/remote_throughput.py serve --workers 1,2,4 [--continuous-batching]
    python benchmarks/remote_throughput.py agree --mentions 50

`standin` links WikiMEL dev mentions with the default graph against a loopback
OpenAI-compatible stand-in that answers every call after a fixed latency; `serve` against
`transformers serve` serving the default selector merged with its shipped adapter; `agree`
counts the mentions whose every try the served selector decides as the in-process one does.
Each prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from i2cr import graph
from i2cr.batch import link_one, run_batch, sample_rows
from i2cr.context import Context
from i2cr.datasets import Sample, load_release
from i2cr.finetune.export import merge_adapter
from i2cr.models.adapters import resolve_adapter
from i2cr.models.embedder import clear_embedding_cache, load_embedder
from i2cr.testing.openai_stub import Reply, serve

WIKIMEL_DEV = Path(__file__).resolve().parents[2] / "shared/data/wikimel/wikimel_dev.json"


def timed_batch(samples: list[Sample], context: Context, workers: int) -> tuple[float, int]:
    """Seconds to link `samples` into a fresh output with `workers` threads, and error rows."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = run_batch(
            graph,
            sample_rows(samples),
            Path(folder) / "out.jsonl",
            context,
            progress=False,
            workers=workers,
        )
        return time.perf_counter() - started, summary.failed


def standin(args: argparse.Namespace, samples: list[Sample]) -> None:
    """Stand-in with a fixed latency per call: where threads stop helping.

    The embedder is loaded before the first configuration and its cache emptied before each,
    so every row count pays the same encoding work.
    """
    load_embedder(Context().embedder, Context().precision)
    print("| workers | seconds | mentions/s | speed-up | most requests in flight | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    first = None
    for workers in args.workers:
        clear_embedding_cache()
        with serve(lambda attempt: Reply(delay_s=args.latency)) as server:
            context = Context(selector="openai:standin", selector_base_url=server.base_url)
            seconds, errors = timed_batch(samples, context, workers)
        first = first or seconds
        print(
            f"| {workers} | {seconds:.1f} | {len(samples) / seconds:.2f} | {first / seconds:.2f} "
            f"| {server.most_in_flight} | {errors} |"
        )


@contextmanager
def served_selector(continuous_batching: bool) -> Iterator[Context]:
    """`transformers serve` on a free loopback port, serving the merged default selector."""
    local = Context()
    folder = Path(tempfile.mkdtemp(prefix="i2cr-served-"))
    merged = merge_adapter("smollm2", resolve_adapter(local.adapter), folder / "model")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("transformers")), "serve", str(merged)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    if continuous_batching:
        command.append("--continuous-batching")
    log = (folder / "serve.log").open("w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield Context(selector=f"openai:{merged}", selector_base_url=f"http://127.0.0.1:{port}/v1")
    finally:
        server.terminate()
        server.wait(timeout=30)


def served(args: argparse.Namespace, samples: list[Sample]) -> None:
    """The real served selector, by number of workers."""
    mode = "continuous batching" if args.continuous_batching else "one request at a time"
    print(f"transformers serve ({mode}), {len(samples)} WikiMEL dev mentions")
    print("| workers | seconds | mentions/s | errors |")
    print("| ---: | ---: | ---: | ---: |")
    with served_selector(args.continuous_batching) as context:
        for workers in args.workers:
            seconds, errors = timed_batch(samples, context, workers)
            print(f"| {workers} | {seconds:.1f} | {len(samples) / seconds:.2f} | {errors} |")


def decisions(record: dict[str, Any]) -> list[Any]:
    """Each try's selected entity and how it was matched, then the final answer."""
    steps = [(a["round"], a["try_index"], a["entity"], a["match"]) for a in record["attempts"]]
    return [*steps, record["result"]["entity"]]


def agree(args: argparse.Namespace, samples: list[Sample]) -> None:
    """Mentions whose every try the served selector decides as the in-process one."""
    local = Context()
    same = 0
    with served_selector(False) as remote:
        for sample in samples:
            over_http = link_one(graph, sample.graph_input(), remote)
            in_process = link_one(graph, sample.graph_input(), local)
            if decisions(over_http) == decisions(in_process):
                same += 1
            else:
                print(f"differs: {sample.id}: {decisions(over_http)} vs {decisions(in_process)}")
    print(f"same decisions on {same} of {len(samples)} WikiMEL dev mentions")


def main() -> None:
    """Parse the command line and run one measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["standin", "serve", "agree"])
    parser.add_argument("--workers", default="1,2,4", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--mentions", type=int, default=24)
    parser.add_argument("--latency", type=float, default=1.0, help="stand-in seconds per call")
    parser.add_argument("--continuous-batching", action="store_true")
    args = parser.parse_args()
    samples = load_release(WIKIMEL_DEV)[: args.mentions]
    {"standin": standin, "serve": served, "agree": agree}[args.mode](args, samples)


if __name__ == "__main__":
    main()
