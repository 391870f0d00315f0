"""The `i2cr` command as a newcomer meets it: help, one name per idea, commands as read."""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version
from pathlib import Path

import pytest
from helpers import cli_link, records, tes_only

from i2cr.cli import build_parser, main
from i2cr.context import SERVER_ONLY_SETTINGS
from i2cr.subsets import seeded_subset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def every_parser(
    parser: argparse.ArgumentParser, name: str = "i2cr"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                found += every_parser(child, f"{name} {child_name}")
    return found


PARSERS = every_parser(build_parser())


@pytest.mark.parametrize("name,parser", PARSERS, ids=[name for name, _ in PARSERS])
def test_every_command_has_a_description_and_every_option_a_help(name, parser):
    assert parser.description, f"{name} has no description"
    undocumented = [
        a.option_strings or a.dest
        for a in parser._actions
        if not a.help and not isinstance(a, argparse._SubParsersAction)
    ]
    assert not undocumented, f"{name}: options without help {undocumented}"


def test_the_commands_are_all_there():
    names = {name for name, _ in PARSERS}
    assert {"i2cr link", "i2cr eval suite", "i2cr kg search", "i2cr settings"} <= names


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"i2cr {version('i2cr')}"


def test_help_shows_defaults_and_where_the_settings_are_listed(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "suite", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--subset-seed SEED seed of --subset (default: 0)" in shown
    assert "`i2cr settings` lists them all" in shown


def test_an_option_given_before_its_action_says_where_it_goes(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--subset", "100"])
    assert "--subset is an option of suite and sweep: put it after the action" in (
        capsys.readouterr().err
    )


def test_an_old_spelling_still_works_with_a_warning_naming_the_new_one(capsys):
    entities = str(EXAMPLES / "entities.jsonl")
    assert main(["kg", "search", entities, "Ed Rendell", "-k", "1", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [c["qid"] for c in json.loads(out)] == ["Q1282411"]
    assert "-k is deprecated and goes in the next release: use --set k=N" in err


def test_old_and_new_spellings_give_the_same_options():
    parser = build_parser(["cross"])
    old = parser.parse_args(["cross", "train", "--train", "t.json", "--output", "w", "--lr", "1"])
    new = parser.parse_args(
        ["cross", "train", "--dataset", "t.json", "--output", "w", "--learning-rate", "1"]
    )
    assert vars(old) == vars(new)


@pytest.mark.parametrize("name", sorted(SERVER_ONLY_SETTINGS))
def test_the_command_line_refuses_settings_only_a_server_reads(capsys, name):
    assert main(["link", "Ed Rendell", "--set", f"{name}=true"]) == 2
    assert f"--set {name}: only a LangGraph server reads this" in capsys.readouterr().err


def test_settings_lists_a_setting_with_its_type_default_and_who_sets_it(capsys):
    assert main(["settings", "alpha", "kg"]) == 0
    out = capsys.readouterr().out
    assert "alpha (number; default 0.5) [run] I2CR_ALPHA" in out
    assert 'kg (text; default "") [operator] I2CR_KG' in out
    assert main(["settings", "alpah"]) == 2


def test_a_dataset_without_output_or_id_says_how_to_choose(capsys):
    assert main(["link", "--dataset", str(EXAMPLES / "dataset.json")]) == 2
    err = capsys.readouterr().err
    assert "holds 3 samples: link one with --id (rendell-1, rendell-2, rendell-3)" in err
    assert "or all of them with --output FILE" in err


def test_input_without_output_says_output_is_needed(capsys):
    assert main(["link", "--input", str(EXAMPLES / "mentions.jsonl")]) == 2
    assert "--input links a file of mentions: give --output FILE" in capsys.readouterr().err


def test_a_dataset_subset_links_the_seeded_rows_eval_takes(scripted, tmp_path):
    context = tes_only(scripted, 2)
    out = tmp_path / "out.jsonl"
    dataset = str(EXAMPLES / "dataset.json")
    assert cli_link(context, "--dataset", dataset, "--subset", "2", "--output", str(out)) == 0
    expected = seeded_subset(["rendell-1", "rendell-2", "rendell-3"], 2, 0)
    assert sorted(r["id"] for r in records(out)) == expected


@pytest.mark.parametrize("command", [["dim", "train"], ["cross", "train"]])
def test_training_a_ranker_needs_an_output_folder(capsys, command):
    with pytest.raises(SystemExit):
        main([*command, "--dataset", "train.json", "--dev-dataset", "dev.json"])
    assert "the following arguments are required: --output" in capsys.readouterr().err


def test_saving_a_nil_threshold_needs_a_named_weights_folder(capsys):
    assert main(["cross", "nil", "--dataset", str(EXAMPLES / "dataset.json"), "--save"]) == 2
    assert "--save writes beside the weights: name their folder" in capsys.readouterr().err


def test_the_old_limit_still_links_the_first_rows_with_a_warning(scripted, tmp_path, capsys):
    context = tes_only(scripted, 1)
    out = tmp_path / "out.jsonl"
    dataset = str(EXAMPLES / "dataset.json")
    assert cli_link(context, "--dataset", dataset, "--limit", "1", "--output", str(out)) == 0
    assert [r["id"] for r in records(out)] == ["rendell-1"]
    assert "--limit is deprecated" in capsys.readouterr().err
