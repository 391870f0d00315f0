"""Seconds per mention with an image on the default settings, cold and warm, and peak memory.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/image_mention.py [--out results.json]

One process links the Grace Hopper mention of the image tutorial first (cold: every model
loads on its first use), then mentions with other images (warm: drawn signs, matplotlib's
sample images; their clues are new to the process), then the first mention again (its clues
come from the in-memory clue cache). Every setting is the default: the shipped selector
(SmolLM2-135M + LoRA), MiniLM for ICR and IAV's clue text, `clue_providers=auto` (RapidOCR,
EfficientNet-Lite0 tags). It prints one row per mention (seconds, selector calls, the clue
tools that ran and their seconds), the peak resident memory, and how many times each image
model was loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

HOPPERS = [
    {
        "name": "Grace Hopper",
        "desc": "Grace Hopper was an American computer scientist and "
        "United States Navy rear admiral, a pioneer of computer programming.",
        "qid": "Q11641",
    },
    {
        "name": "USS Hopper",
        "desc": "USS Hopper is an Arleigh Burke-class guided-missile "
        "destroyer of the United States Navy.",
        "qid": "Q1129597",
    },
    {
        "name": "Grace Hopper Celebration",
        "desc": "The Grace Hopper Celebration of Women in "
        "Computing is a series of conferences for women in computing.",
        "qid": "Q5591466",
    },
]
RENDELLS = [
    {
        "name": "Ruth Rendell",
        "desc": "Ruth Rendell was an English author of thrillers and "
        "psychological murder mysteries.",
        "qid": "Q272101",
    },
    {
        "name": "Ed Rendell",
        "desc": "Ed Rendell is an American politician who served as the "
        "45th governor of Pennsylvania.",
        "qid": "Q1282411",
    },
    {
        "name": "Don Rendell",
        "desc": "Don Rendell was an English jazz saxophonist, flautist and clarinettist.",
        "qid": "Q5293988",
    },
]
SIGNS = ("GOVERNOR OF PENNSYLVANIA", "HARRISBURG STATE CAPITOL", "BUDGET ADDRESS 2009")


def sign(folder: Path, text: str) -> str:
    """A drawn sign holding `text`."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (760, 160), "white")
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 40)
    ImageDraw.Draw(image).text((20, 50), text, font=font, fill="black")
    path = folder / f"{text.replace(' ', '_')}.png"
    image.save(path)
    return str(path)


def mentions(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(label, graph input): the tutorial's mention first and last, other images between."""
    import matplotlib

    samples = Path(matplotlib.get_data_path()) / "sample_data"
    hopper = {
        "mention": "Hopper",
        "context": "A portrait of Hopper in uniform",
        "candidates": HOPPERS,
        "image": str(samples / "grace_hopper.jpg"),
    }
    rendell = {"mention": "Rendell", "context": "Rendell spoke on Tuesday.", "candidates": RENDELLS}
    rows = [("cold: grace_hopper.jpg", hopper)]
    rows += [(f"warm: sign {text!r}", {**rendell, "image": sign(folder, text)}) for text in SIGNS]
    rows += [
        (f"warm: {name}", {**rendell, "image": str(samples / name)})
        for name in ("logo2.png", "Minduka_Present_Blue_Pack.png")
    ]
    rows.append(("warm, clues cached: grace_hopper.jpg", hopper))
    return rows


def run() -> dict[str, Any]:
    """Link every mention in this process and measure it."""
    from i2cr.batch import link_one
    from i2cr.context import Context
    from i2cr.graph import graph
    from i2cr.tools.imagenet_tags import load_efficientnet_lite0
    from i2cr.tools.rapidocr import load_rapidocr

    settings = Context()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, row in mentions(Path(folder)):
            start = time.perf_counter()
            record = link_one(graph, row, settings)
            seconds = time.perf_counter() - start
            tools = [
                f"{s['tool']}={s['provider']} {s['seconds']:.2f}s"
                for s in record["clue_steps"]
                if "error" not in s
            ]
            rows.append(
                {
                    "mention": label,
                    "seconds": round(seconds, 2),
                    "entity": record["result"]["entity"],
                    "rounds": record["result"]["rounds"],
                    "selector_calls": record["result"]["selector_calls"],
                    "clue_tools": tools,
                }
            )
    return {
        "rows": rows,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "loads": {
            "rapidocr": load_rapidocr.cache_info().misses,
            "efficientnet": load_efficientnet_lite0.cache_info().misses,
        },
    }


def main() -> None:
    """Print the rows as a markdown table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the measurements as JSON here")
    args = parser.parse_args()
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average_before": os.getloadavg(),
    }
    started = time.perf_counter()
    measured = run()
    machine["load_average_after"] = os.getloadavg()
    print(f"machine: {machine}")
    print("| mention | seconds | rounds | selector calls | clue tools run | entity |")
    print("|---|---:|---:|---:|---|---|")
    for r in measured["rows"]:
        print(
            f"| {r['mention']} | {r['seconds']} | {r['rounds']} | {r['selector_calls']} | "
            f"{', '.join(r['clue_tools']) or '-'} | {r['entity']} |"
        )
    print(f"peak resident memory: {measured['peak_rss_mib']} MiB; model loads: {measured['loads']}")
    print(f"whole run: {time.perf_counter() - started:.1f} s")
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, **measured}, indent=1))


if __name__ == "__main__":
    main()
