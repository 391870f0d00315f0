"""The documentation as a user reads it: commands that parse, references that cover the code."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest
from doc_commands import shell_commands

from i2cr.cli import build_parser
from i2cr.context import Context

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
HOOK = ROOT / "docs" / "hooks" / "reference_pages.py"


def i2cr_commands() -> list[tuple[str, str]]:
    """(page, command) for every `i2cr ...` command of README.md and docs/."""
    found = []
    for page in PAGES:
        for command in shell_commands(page):
            words = shlex.split(command)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
                words.pop(0)
            if words and words[0] == "i2cr":
                found.append((str(page.relative_to(ROOT)), shlex.join(words)))
    return found


COMMANDS = i2cr_commands()


@pytest.mark.parametrize("page,command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_every_documented_command_parses_with_current_option_names(capsys, page, command):
    words = shlex.split(command)[1:]
    try:
        build_parser(words).parse_args(words)
    except SystemExit as exit_:
        assert exit_.code == 0, f"{page}: {command}\n{capsys.readouterr().err}"
    assert "deprecated" not in capsys.readouterr().err, f"{page} uses an old spelling"


def test_the_docs_show_commands_of_every_subcommand():
    shown = {shlex.split(command)[1] for _, command in COMMANDS if len(shlex.split(command)) > 1}
    assert {"link", "eval", "kg", "dim", "cross", "finetune"} <= shown


def load_hook():
    spec = importlib.util.spec_from_file_location("reference_pages", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_lists_every_command_and_option():
    hook = load_hook()
    reference = hook.cli_reference()
    for name, parser in hook.commands(build_parser()):
        assert f"## `{name}`" in reference
        for action in parser._actions:
            if hook.shown(action) and action.option_strings:
                assert f"`{action.option_strings[0]}" in reference, (name, action)
    assert "`--out` (now `--output`)" in reference


def test_the_settings_reference_lists_every_setting_with_who_sets_it():
    reference = load_hook().settings_reference()
    for f in fields(Context):
        assert f"| `{f.name}`<br>" in reference
    assert "| `alpha`<br>number<br>default `0.5`<br>*run* |" in reference
    assert '| `kg`<br>text<br>default `""`<br>*operator* |' in reference
    assert "| `client_commands`<br>boolean<br>default `false`<br>*server* |" in reference


def test_a_page_with_a_marker_gets_its_reference():
    hook = load_hook()
    page = hook.on_page_markdown(f"# Settings\n\n{hook.SETTINGS_MARKER}\n", page=None)
    assert hook.SETTINGS_MARKER not in page and "| `selector`<br>" in page


HISTORY = re.compile(
    r"issue [0-9]+|\((?:before|now)\)|this machine|targets: not met|\bcommit [0-9a-f]{7,40}\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_user_text_speaks_to_users_not_about_the_project_history(page):
    text = page.read_text(encoding="utf-8")
    assert not HISTORY.findall(text), f"{page}: {HISTORY.findall(text)}"


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_a_parsed_command_is_what_the_parser_would_run():
    # The check above fails when a documented option does not exist.
    with pytest.raises(SystemExit):
        build_parser(["link"]).parse_args(["link", "--no-such-option"])
    assert isinstance(build_parser(), argparse.ArgumentParser)
