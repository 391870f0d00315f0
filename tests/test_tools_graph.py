"""The graph end to end on a real image with the offline providers (OCR, tags, random CLIP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pytest

from i2cr import graph
from i2cr.tools.choice import NO_IMAGE

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
GRACE = "<|ANSWER|>: 1. Grace Hopper"
MENTION: dict[str, Any] = {
    "mention": "Hopper",
    "context": "Hopper in her navy uniform, 1984.",
    "candidates": [
        {"name": "Grace Hopper", "desc": "American computer scientist and US Navy rear admiral."},
        {"name": "Edward Hopper", "desc": "American realist painter of urban scenes."},
        {"name": "Dennis Hopper", "desc": "American actor and filmmaker."},
    ],
}
OFFLINE = {
    "clue_providers": "ocr=rapidocr,tags=efficientnet",
    "clip_model": "ViT-S-32",
    "clip_pretrained": "random",
    "beta": 100.0,  # random CLIP weights never reach it: every VIF round runs
}


def run(mention, context):
    return graph.invoke(mention, context=context)


@pytest.mark.slow
def test_offline_tools_feed_the_vif_rounds(scripted):
    model, context = scripted(GRACE, GRACE, GRACE, **OFFLINE)
    out = run({**MENTION, "image": str(PHOTO)}, context)
    steps = {s["tool"]: s for s in out["clue_steps"]}
    assert "COMO HOPPER" in steps["ocr"]["text"] and steps["ocr"]["provider"] == "rapidocr"
    assert {"military uniform", "academic gown", "mortarboard"} & set(
        steps["tags"]["text"].split("; ")
    )
    assert not steps["caption"]["used"] and not steps["dense_caption"]["used"]  # no model named
    assert [a["clue_tool"] for a in out["attempts"]] == [None, "ocr", "tags"]
    assert all(a["iav_method"] == "clip" for a in out["attempts"])
    assert "COMO HOPPER" in model.prompts[1] and "mention image information" in model.prompts[1]
    assert out["result"]["entity"] == "Grace Hopper"
    assert out["warnings"] == []


def test_truncated_image_runs_without_the_visual_step(scripted, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(PHOTO.read_bytes()[:5000])
    _, context = scripted(GRACE, **OFFLINE, use_icr=False)
    out = run({**MENTION, "image": str(broken)}, context)
    assert out["result"]["entity"] == "Grace Hopper"
    assert any("corrupt or truncated" in w for w in out["warnings"])
    assert out["attempts"][0]["iav_method"] == "no_clue"  # no image, no clue: VIF is asked
    assert {s.get("error") for s in out["clue_steps"]} == {NO_IMAGE}
    assert out["result"]["rounds"] == 1


def test_a_clue_service_that_fails_is_a_warning_of_the_result(scripted, monkeypatch):
    for variable in ("AZURE_VISION_ENDPOINT", "VISION_ENDPOINT", "AZURE_VISION_KEY", "VISION_KEY"):
        monkeypatch.delenv(variable, raising=False)
    settings = {**OFFLINE, "clue_providers": "carried,caption=azure", "clue_order": "caption"}
    _, context = scripted(GRACE, GRACE, **settings, use_icr=False, use_iav=True)
    out = run({**MENTION, "image": str(PHOTO)}, context)
    assert out["clue_steps"][0]["error"]
    assert any(
        w.startswith("clue tool caption (azure) failed:") and "AZURE_VISION_ENDPOINT" in w
        for w in out["warnings"]
    )
