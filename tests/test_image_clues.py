"""A user's own image on the default settings: the offline tools make the clues, the clue
changes the answer, and an unusable image is a warning, through the graph and `i2cr link`.

The image-to-text models are the real ones (RapidOCR, EfficientNet-Lite0); the selector is a
fake that answers from its prompt, and ICR's scores are fixed (graph logic). IAV reads the
clue text with the real embedder.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from helpers import assert_fields_agree
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from i2cr import graph
from i2cr.cli import main
from i2cr.cli.terminal import QUIET_ENVIRONMENT, quiet_third_party_output
from i2cr.context import Context
from i2cr.models.chat import register_chat_model
from i2cr.prompts import CLUE_KEY, CLUE_PREFIX
from i2cr.tools.choice import NO_MODEL
from i2cr.tools.imagenet_tags import load_efficientnet_lite0
from i2cr.tools.rapidocr import load_rapidocr

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
SIGN = "GOVERNOR OF PENNSYLVANIA"
RENDELLS = [  # the first stage's order: a repeated answer falls to Don, never to Ed
    {"name": "Ruth Rendell", "desc": "Ruth Rendell was an English author of thrillers."},
    {"name": "Don Rendell", "desc": "Don Rendell was an English jazz saxophonist."},
    {"name": "Ed Rendell", "desc": "Ed Rendell was the 45th governor of Pennsylvania."},
]
MENTION: dict[str, Any] = {
    "mention": "Rendell",
    "context": "Rendell spoke to the press on Tuesday.",
    "candidates": RENDELLS,
}
HOPPERS = [
    {"name": "Grace Hopper", "desc": "American computer scientist and US Navy rear admiral."},
    {"name": "USS Hopper", "desc": "Arleigh Burke-class destroyer of the United States Navy."},
    {"name": "Grace Hopper Celebration", "desc": "Series of conferences for women in computing."},
]
_specs = itertools.count()


class PromptReader(FakeListChatModel):
    """Answers Ed Rendell when its prompt holds the sign's text, else Ruth Rendell; keeps every
    prompt."""

    prompts: list[str] = []

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        return "<|ANSWER|>: " + ("Ed Rendell" if SIGN in prompt else "Ruth Rendell")


@pytest.fixture
def reader(scores) -> tuple[PromptReader, str]:
    """The prompt-reading selector, registered; every try passes ICR."""
    spec = f"test:prompt-reader-{next(_specs)}"
    model = PromptReader(responses=["unused"], prompts=[])
    register_chat_model(spec, model)
    scores(icr={"Ruth": 0.9, "Don": 0.9, "Ed": 0.9, "Grace": 0.9, "USS": 0.9})
    return model, spec


def draw(path: Path, text: str = "", size: tuple[int, int] = (700, 160)) -> Path:
    """A white image with `text` printed on it (none: a red disc, nothing to read)."""
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    if text:
        font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 40)
        pen.text((20, 50), text, font=font, fill="black")
    else:
        pen.ellipse((size[0] // 2 - 50, 30, size[0] // 2 + 50, 130), fill="red")
    image.save(path)
    return path


def link_graph(spec: str, **inputs: Any) -> dict[str, Any]:
    settings = Context(selector=spec, ranker="none")  # every other setting at its default
    out = graph.invoke({**MENTION, **inputs}, context=settings)
    assert_fields_agree(out["attempts"])
    return out


def link_cli(spec: str, tmp_path: Path, capsys, *arguments: str) -> str:
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps(RENDELLS))
    command = ["link", MENTION["mention"], "--context", MENTION["context"]]
    command += ["--candidates", str(candidates), *arguments]
    assert main([*command, "--set", f"selector={spec}", "--set", "ranker=none"]) == 0
    return capsys.readouterr().out


def test_the_ocr_clue_of_a_sign_changes_the_answer_in_the_graph(reader, tmp_path):
    model, spec = reader
    without = link_graph(spec)
    assert without["result"]["entity"] == "Ruth Rendell"
    out = link_graph(spec, image=str(draw(tmp_path / "sign.png", SIGN)))
    assert out["result"]["entity"] == "Ed Rendell"
    assert out["result"]["decided_by"] == "round 1: iav_pass"
    text_round, clue_round = out["attempts"]
    assert (text_round["entity"], text_round["iav_method"]) == ("Ruth Rendell", "no_clue")
    assert (clue_round["clue_tool"], clue_round["entity"]) == ("ocr", "Ed Rendell")
    assert (clue_round["iav_method"], clue_round["iav_passed"]) == ("clue_text", True)
    ocr = out["clue_steps"][0]
    assert (ocr["tool"], ocr["provider"], ocr["text"], ocr["round"]) == ("ocr", "rapidocr", SIGN, 1)
    assert ocr["seconds"] > 0
    # The prompts of the two rounds differ only by the clue: it is what changed the answer.
    first, second = model.prompts[-2:]
    clue = f", '{CLUE_KEY}': '{CLUE_PREFIX}{SIGN}'"
    assert clue in second and second.replace(clue, "") == first
    assert out["warnings"] == []


def test_the_ocr_clue_of_a_sign_changes_the_answer_on_the_command_line(reader, tmp_path, capsys):
    _, spec = reader
    sign = str(draw(tmp_path / "sign.png", SIGN))
    printed = link_cli(spec, tmp_path, capsys, "--image", sign)
    assert "entity: Ed Rendell" in printed
    assert "decided by: round 1: iav_pass" in printed
    assert "  1. Ed Rendell (-) [answer]" in printed
    assert re.search(rf"\n  ocr \(rapidocr, \d+\.\d\d s\): '{SIGN}' -> round 1\n", printed)
    assert "round 1 try 0 clue=ocr: Ed Rendell" in printed
    no_clue_rounds = link_cli(spec, tmp_path, capsys, "--image", sign, "--set", "use_vif=false")
    assert "entity: Ruth Rendell" in no_clue_rounds
    assert "clues:" not in no_clue_rounds


def test_the_tags_of_a_photo_reach_the_prompt_and_the_record(reader):
    model, spec = reader
    settings = Context(selector=spec, ranker="none", beta_text=0.99)  # IAV fails every round
    out = graph.invoke(
        {
            "mention": "Hopper",
            "context": "A portrait of Hopper",
            "candidates": HOPPERS,
            "image": str(PHOTO),
        },
        context=settings,
    )
    steps = {s["tool"]: s for s in out["clue_steps"]}
    assert (steps["ocr"]["provider"], steps["ocr"]["round"]) == ("rapidocr", 1)
    assert (steps["caption"]["error"], steps["caption"]["round"]) == (NO_MODEL, None)
    tags = steps["tags"]
    assert (tags["provider"], tags["round"], tags["used"]) == ("efficientnet", 2, True)
    assert "military uniform" in tags["text"].split("; ")
    assert [a["clue_tool"] for a in out["attempts"] if a["try_index"] == 0] == [None, "ocr", "tags"]
    assert f"'{CLUE_KEY}': '{CLUE_PREFIX}{tags['text']}'" in model.prompts[-1]
    assert out["result"]["decided_by"] == "fallback text_only: round 0"


@pytest.mark.parametrize(
    ("make", "warning"),
    [
        (lambda d: _truncated(d / "broken.jpg"), "corrupt or truncated"),
        (lambda d: draw(d / "dot.png", size=(1, 1)), "image too small"),
        (lambda d: draw(d / "disc.png"), "clue tool ocr (rapidocr) found nothing in the image"),
    ],
    ids=["broken", "1x1", "no text"],
)
def test_an_unreadable_image_is_a_warning_and_the_run_goes_on(reader, tmp_path, make, warning):
    _, spec = reader
    out = link_graph(spec, image=str(make(tmp_path)))
    assert any(warning in w for w in out["warnings"]), out["warnings"]
    assert out["result"]["entity"] == "Ruth Rendell"


def _truncated(path: Path) -> Path:
    path.write_bytes(PHOTO.read_bytes()[:5000])
    return path


@pytest.mark.slow
def test_the_photo_command_on_the_default_install_shows_a_clue_round_quietly(tmp_path):
    """The documented command, as a user runs it: the shipped selector and the offline tools."""
    candidates = tmp_path / "hopper.json"
    candidates.write_text(json.dumps(HOPPERS))
    command = [sys.executable, "-c", "from i2cr.cli import main; raise SystemExit(main())"]
    command += ["link", "Hopper", "--context", "A portrait of Hopper in uniform"]
    command += ["--candidates", str(candidates), "--image", str(PHOTO)]
    # As from a fresh shell: an in-process `main` of another test may have quieted this one.
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}
    quiet = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    assert "\nclues:\n  ocr (rapidocr, " in quiet.stdout
    assert re.search(r"-> round 1\n", quiet.stdout)
    assert "round 1 try 0 clue=ocr" in quiet.stdout
    assert quiet.stderr == ""
    verbose = subprocess.run(
        [*command, "--verbose"], capture_output=True, text=True, check=True, env=env
    )
    assert "Loading weights" in verbose.stderr


def test_quiet_output_keeps_what_the_user_set(monkeypatch):
    for name in QUIET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    quiet_third_party_output()
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_a_malformed_clue_providers_stops_the_command_with_the_accepted_form(tmp_path, capsys):
    command = [
        "link",
        "Hopper",
        "--image",
        str(PHOTO),
        "--set",
        "clue_providers=rapidocr,efficientnet",
    ]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "'efficientnet' is a bare provider after the first entry" in error
    assert "the accepted form is a default provider first, then 'tool=provider' overrides" in error


def test_the_image_models_load_once_per_process_and_never_at_import(reader, tmp_path):
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, i2cr.graph; print(sorted(set(sys.modules) & "
            "{'rapidocr', 'onnxruntime', 'timm', 'torchvision', 'open_clip'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "[]"
    _, spec = reader
    for text in ("STATE CAPITOL", "BUDGET ADDRESS"):
        link_graph(spec, image=str(draw(tmp_path / f"{text}.png", text)))
    link_graph(spec, image=str(draw(tmp_path / "disc.png")))  # OCR reads nothing: tags run
    assert load_rapidocr.cache_info().misses == 1
    assert load_efficientnet_lite0.cache_info().misses == 1
