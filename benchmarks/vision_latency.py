"""Per-call latency and outputs of the offline vision tools on matplotlib's sample images.

    nice -n 10 python benchmarks/vision_latency.py [--repeats 5] [--out results.json]

Tools: RapidOCR (ocr), EfficientNet-Lite0 (tags), and CLIP image-text scoring (open_clip
ViT-B-32 with random weights: its latency equals a trained ViT-B-32's; the score means
nothing). Cold = first call in the process, model loading included; warm = later calls
with the output cache bypassed; cached = a repeated call served by the content-hash cache.

On a shared CPU with more runnable processes than cores, set OMP_NUM_THREADS=1: torch's
spinning worker threads otherwise make each EfficientNet or CLIP call several times slower
(measured here: EfficientNet-Lite0 about 5 s a call with 2 threads, 0.12 s with 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

IMAGES = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png")
CLIP_MODEL = "ViT-B-32"


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call took, and its result."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def measure(call: Callable[[], Any], cached: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Cold, warm (median and min over `repeats`) and cached latency of one tool on one image."""
    cold, output = timed(call)
    warm = [timed(call)[0] for _ in range(repeats)]
    cached()
    return {
        "output": output,
        "cold_s": round(cold, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_min_s": round(min(warm), 3),
        "cached_s": round(timed(cached)[0], 5),
    }


def run(repeats: int) -> list[dict[str, Any]]:
    """Measure every tool on every sample image."""
    import matplotlib

    from i2cr.images import load_image

    samples = Path(matplotlib.get_data_path()) / "sample_data"
    rows = []
    for name in IMAGES:
        path = str(samples / name)
        load_s, loaded = timed(partial(load_image, path))
        for kind, provider in (("ocr", "rapidocr"), ("tags", "efficientnet")):
            row = measure(*tool_calls(kind, provider, path, loaded), repeats)
            rows.append(
                {"image": name, "tool": f"{kind}={provider}", "load_image_s": load_s, **row}
            )
        row = measure(*clip_calls(path, loaded), repeats)
        row["output"] = "(random weights: timing only)"
        rows.append({"image": name, "tool": f"clip {CLIP_MODEL}", "load_image_s": load_s, **row})
    return rows


def tool_calls(kind: str, provider: str, path: str, loaded: Any) -> tuple[Callable, Callable]:
    """(model call bypassing the cache, call through the tool and its cache)."""
    from i2cr.context import Context
    from i2cr.tools import get_clue_tool

    tool: Any = get_clue_tool(kind, provider)
    context = Context()
    return lambda: tool.describe(loaded, context), lambda: tool.invoke({"image": path})


def clip_calls(path: str, loaded: Any) -> tuple[Callable, Callable]:
    """(image and text encoding from scratch, call with the image features cached)."""
    from i2cr.models import clip

    text = ["Grace Hopper, American computer scientist and United States Navy rear admiral"]

    def fresh() -> list[float]:
        clip._image_features.clear()
        return clip.clip_scores(CLIP_MODEL, "random", loaded, text)

    return fresh, lambda: clip.clip_scores(CLIP_MODEL, "random", path, text)


def main() -> None:
    """Print a markdown table of the measurements (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm calls per tool and image")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    rows = run(args.repeats)
    machine["load_average_after"] = os.getloadavg()
    print(f"machine: {machine}")
    print("| image | tool | output | cold s | warm median s | warm min s | cached s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['image']} | {r['tool']} | {r['output'] or '(empty)'} | {r['cold_s']} | "
            f"{r['warm_median_s']} | {r['warm_min_s']} | {r['cached_s']} |"
        )
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
