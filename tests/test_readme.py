"""The README's shell commands, run as written from a copy of the clone's examples."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_commands import shell_commands

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = shell_commands(ROOT / "README.md")

# Commands that change the environment or need what a test does not have, with the reason.
NOT_RUN = {
    "git clone": "clones a repository (the tests run inside the clone)",
    "pip install": "installs packages into the environment",
    "i2cr eval suite --dataset data/": "needs the benchmark data, not shipped, and hours",
    "python -m pytest": "the test command itself (.ci/run runs it)",
}
# Cheap: no model is loaded. The others load the default models (seconds each): slow tests.
CHEAP = ("i2cr kg build", "i2cr settings", "i2cr --version")


def not_run(command: str) -> bool:
    return command.startswith(tuple(NOT_RUN))


def run_in(folder: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run a README command in `folder`, with `i2cr` and `python` as this interpreter's."""
    bin_folder = folder / "bin"
    if not bin_folder.exists():
        bin_folder.mkdir()
        python = shlex.quote(sys.executable)
        for name, run in (("i2cr", f"{python} -m i2cr"), ("python", python)):
            (bin_folder / name).write_text(f'#!/bin/sh\nexec {run} "$@"\n')
            (bin_folder / name).chmod(0o755)
        (folder / "examples").symlink_to(ROOT / "examples")
    env = {
        **os.environ,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        command, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def test_every_readme_command_is_run_by_a_test_or_says_why_not():
    assert any(c.startswith("i2cr link") for c in COMMANDS)
    for command in COMMANDS:
        assert command.startswith(("i2cr ", "python ", "git ", "pip ")), command
    excused = [c for c in COMMANDS if not_run(c)]
    assert len(excused) == len(NOT_RUN), "each excuse covers a command of the README"


def test_the_cheap_readme_commands_run(tmp_path):
    cheap = [c for c in COMMANDS if c.startswith(CHEAP)]
    assert cheap
    for command in cheap:
        done = run_in(tmp_path, command)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
    assert (tmp_path / "runs" / "kg.sqlite").is_file()


@pytest.mark.slow
def test_the_readme_commands_that_load_models_run_in_order(tmp_path):
    outputs = {}
    for command in (c for c in COMMANDS if not not_run(c)):
        done = run_in(tmp_path, command)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        outputs[command] = done.stdout
    linked = [out for command, out in outputs.items() if command.startswith('i2cr link "Ed')]
    assert linked and all("entity: Ed Rendell (Q1282411)" in out for out in linked)
    batch = (tmp_path / "runs" / "example.jsonl").read_text().splitlines()
    assert len(batch) == 3
