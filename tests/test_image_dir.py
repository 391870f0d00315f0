"""`i2cr link --image-dir D` makes D the image root: names resolve inside it, nothing escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import CANDIDATES
from PIL import Image

from i2cr.cli import main

ANSWER = "<|ANSWER|>: Ed Rendell"
OUTSIDE = "image path outside the allowed image folder"


@pytest.fixture
def folders(tmp_path):
    """An image folder with one image (and one in a subfolder), next to an image outside it."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(images / "in.png")
    Image.new("RGB", (8, 8), "green").save(images / "sub" / "deep.png")
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "secret.png")
    return images


def link(scripted, *arguments: str) -> int:
    context = scripted(*([ANSWER] * 10), use_icr=False, use_iav=False, use_vif=False)[1]
    settings = [f"selector={context.selector}", "ranker=none", "use_icr=false"]
    settings += ["use_iav=false", "use_vif=false"]
    return main(["link", *arguments, *(a for s in settings for a in ("--set", s))])


def image_warnings(output: Path) -> dict[str, list[str]]:
    records = [json.loads(line) for line in output.read_text().splitlines()]
    return {r["id"]: [w for w in r["warnings"] if "image" in w] for r in records}


def test_dataset_image_names_resolve_inside_the_folder_and_none_escapes(
    scripted, folders, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # --image-dir given relative to the working folder
    candidates = str([{"name": c["name"], "desc": c["desc"]} for c in CANDIDATES])
    names = {
        "in": "in.png",
        "deep": "sub/deep.png",
        "up": "../secret.png",
        "absolute": str(tmp_path / "secret.png"),
        "absolute_inside": str(folders / "in.png"),
    }
    dataset = tmp_path / "tiny.json"
    dataset.write_text(
        json.dumps(
            {
                key: {"mention": "Rendell", "Candentity": candidates, "mention_imgpath": name}
                for key, name in names.items()
            }
        )
    )
    out = tmp_path / "out.jsonl"
    assert (
        link(scripted, "--dataset", str(dataset), "--image-dir", "images", "--output", str(out))
        == 0
    )
    warnings = image_warnings(out)
    assert warnings["in"] == warnings["deep"] == warnings["absolute_inside"] == []
    for key in ("up", "absolute"):
        [warning] = warnings[key]
        assert OUTSIDE in warning


def test_input_rows_resolve_relative_paths_inside_the_folder(scripted, folders, tmp_path):
    rows = tmp_path / "in.jsonl"
    lines = [
        {"id": "in", "mention": "Rendell", "candidates": CANDIDATES, "image": "in.png"},
        {"id": "up", "mention": "Rendell", "candidates": CANDIDATES, "image": "../secret.png"},
        {"id": "missing", "mention": "Rendell", "candidates": CANDIDATES, "image": "none.png"},
    ]
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    assert (
        link(scripted, "--input", str(rows), "--image-dir", str(folders), "--output", str(out)) == 0
    )
    warnings = image_warnings(out)
    assert warnings["in"] == []
    assert OUTSIDE in warnings["up"][0]
    assert "image not found" in warnings["missing"][0]


def test_an_image_folder_outside_the_operators_root_is_refused(
    scripted, folders, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("I2CR_IMAGE_ROOT", str(folders / "sub"))
    out = tmp_path / "out.jsonl"
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"mention": "Rendell", "candidates": CANDIDATES}) + "\n")
    assert (
        link(scripted, "--input", str(rows), "--image-dir", str(folders), "--output", str(out)) == 2
    )
    assert "lies outside image_root" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_image_folder_is_an_error(scripted, tmp_path, capsys):
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"mention": "Rendell", "candidates": CANDIDATES}) + "\n")
    status = link(
        scripted,
        "--input",
        str(rows),
        "--image-dir",
        str(tmp_path / "nope"),
        "--output",
        str(tmp_path / "o.jsonl"),
    )
    assert status == 2
    assert "no such folder" in capsys.readouterr().err
