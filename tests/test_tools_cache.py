from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from i2cr.context import Context
from i2cr.images import ImageError, LoadedImage
from i2cr.tools.cache import ClueCache, ClueKey, clue_cache
from i2cr.tools.image_tool import ImageClueTool

SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"


class CountingTool(ImageClueTool):
    """Describes an image by its size and counts how often it really ran."""

    provider: str = "counting"
    calls: int = 0

    def settings_key(self, context: Context) -> str:
        return f"min_score={context.tag_min_score}"

    def describe(self, image: LoadedImage, context: Context) -> str:
        self.calls += 1
        return f"{image.image.width}x{image.image.height}"


@pytest.fixture
def tool(monkeypatch, tmp_path) -> Iterator[CountingTool]:
    monkeypatch.setenv("I2CR_CLUE_CACHE_DIR", str(tmp_path / "cache"))
    clue_cache.cache_clear()
    yield CountingTool(name="tags", description="size")
    clue_cache.cache_clear()


def test_same_image_content_runs_the_model_once(tool, tmp_path):
    copy = tmp_path / "copy.jpg"
    copy.write_bytes((SAMPLES / "grace_hopper.jpg").read_bytes())
    assert tool.invoke({"image": str(SAMPLES / "grace_hopper.jpg")}) == "512x600"
    assert tool.invoke({"image": str(copy)}) == "512x600"
    assert tool.calls == 1
    tool.invoke({"image": str(SAMPLES / "logo2.png")})
    assert tool.calls == 2


def test_outputs_survive_a_new_process_through_the_disk_cache(tool, tmp_path):
    tool.invoke({"image": str(SAMPLES / "logo2.png")})
    clue_cache.cache_clear()  # as if the process restarted: memory is gone
    assert tool.invoke({"image": str(SAMPLES / "logo2.png")}) == "542x130"
    assert tool.calls == 1
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_changed_settings_recompute(tool, monkeypatch):
    tool.invoke({"image": str(SAMPLES / "logo2.png")})
    monkeypatch.setenv("I2CR_TAG_MIN_SCORE", "0.5")
    tool.invoke({"image": str(SAMPLES / "logo2.png")})
    assert tool.calls == 2


def test_bad_image_raises_a_clear_error(tool, tmp_path):
    with pytest.raises(ImageError, match="image not found"):
        tool.invoke({"image": str(tmp_path / "nope.png")})
    with pytest.raises(ImageError, match="no image given"):
        tool.invoke({"image": None})


def test_memory_cache_is_bounded():
    cache = ClueCache(max_items=2)
    keys = [ClueKey(str(i), "ocr", "rapidocr") for i in range(3)]
    for key in keys:
        cache.put(key, key.content_hash)
    assert cache.get(keys[0]) is None
    assert cache.get(keys[2]) == "2"


def test_damaged_cache_file_counts_as_a_miss(tmp_path):
    cache = ClueCache(tmp_path)
    key = ClueKey("ab" * 32, "ocr", "rapidocr", "v1")
    cache.put(key, "HELLO")
    assert ClueCache(tmp_path).get(key) == "HELLO"
    next(tmp_path.rglob("*.json")).write_text("{not json")
    assert ClueCache(tmp_path).get(key) is None


def test_tool_in_a_graph_run_follows_the_run_context(scripted, scores, monkeypatch, tmp_path):
    from i2cr import graph
    from i2cr.context.kinds import CLUE_PROVIDERS
    from i2cr.tools import PROVIDERS

    counting = CountingTool(name="tags", description="size")
    monkeypatch.setitem(PROVIDERS, "counting-run", lambda kind: counting)
    monkeypatch.setitem(CLUE_PROVIDERS, "counting-run", ("tags",))
    scores(icr={"Ruth": 0.9, "Ed": 0.9, "Don": 0.9}, iav={"Ruth": 0.1, "Ed": 0.1, "Don": 0.1})
    cache_dir = tmp_path / "run-cache"
    _, context = scripted(
        "<|ANSWER|>: Ruth Rendell",
        "<|ANSWER|>: Ruth Rendell",
        clue_order="tags",
        clue_providers="tags=counting-run",
        clue_cache_dir=str(cache_dir),
    )
    mention: Any = {
        "mention": "Rendell",
        "image": str(SAMPLES / "logo2.png"),
        "candidates": [{"name": "Ruth Rendell", "desc": "English author."}],
        "clues": {"caption": "a logo"},
    }
    out = graph.invoke(mention, context=context)
    assert [s["text"] for s in out["clue_steps"]] == ["542x130"]
    assert len(list(cache_dir.rglob("*.json"))) == 1  # the run's clue_cache_dir, not the default
