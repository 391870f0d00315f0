"""Each example of `examples/` runs from the clone on the default models, as its README says."""

from __future__ import annotations

import json
import re

import pytest
from test_readme import ROOT, run_in

pytestmark = pytest.mark.slow

EXAMPLES_README = (ROOT / "examples" / "README.md").read_text()


def command_for(example: str) -> str:
    """The `run it` command of an example's row in examples/README.md."""
    row = next(line for line in EXAMPLES_README.splitlines() if line.startswith(f"| `{example}`"))
    return re.findall(r"`([^`]+)`", row)[-1]


def test_link_one_py_prints_the_entity_and_its_tries(tmp_path):
    done = run_in(tmp_path, command_for("link_one.py"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Ed Rendell (Q1282411), decided by round 0")
    assert "round 0 try 0: Ed Rendell" in done.stdout


def test_build_kg_sh_builds_searches_and_links(tmp_path):
    done = run_in(tmp_path, "bash examples/build_kg.sh runs/kg.sqlite")
    assert done.returncode == 0, done.stderr
    assert " 1. Ed Rendell (Q1282411)" in done.stdout  # the search of "Ed Rendel"
    assert "entity: Ed Rendell (Q1282411)" in done.stdout  # the link against the store
    assert (tmp_path / "runs" / "kg.sqlite").is_file()


def test_the_image_example_reads_its_image(tmp_path):
    command = command_for("budget-sign.png")
    done = run_in(tmp_path, command.replace("i2cr link", "i2cr link --json", 1))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["result"]["entity"] in {"Ed Rendell", "Ruth Rendell", "Don Rendell"}
    assert not [w for w in record["warnings"] if "image" in w], record["warnings"]


def test_the_examples_readme_names_every_example_file():
    shipped = {p.name for p in (ROOT / "examples").iterdir()} - {"README.md"}
    named = set(re.findall(r"`([\w.-]+\.\w+)`", EXAMPLES_README))
    assert shipped <= named
