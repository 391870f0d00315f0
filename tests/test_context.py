from __future__ import annotations

import pytest

from i2cr.cli.options import settings_from
from i2cr.context import Context
from i2cr.errors import SettingError


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("I2CR_SELECTOR", "openai:gpt-4o")
    monkeypatch.setenv("I2CR_ALPHA", "0.7")
    monkeypatch.setenv("I2CR_USE_VIF", "false")
    context = Context()
    assert (context.selector, context.alpha, context.use_vif) == ("openai:gpt-4o", 0.7, False)


def test_explicit_value_beats_environment(monkeypatch):
    monkeypatch.setenv("I2CR_ALPHA", "0.7")
    assert Context(alpha=0.2).alpha == 0.2


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("I2CR_ALPHA", "high", "alpha='high' is not a number"),
        ("I2CR_USE_ICR", "maybe", "use_icr='maybe' is not a boolean"),
        ("I2CR_FALLBACK", "random", "fallback='random' must be one of"),
        ("I2CR_CLUE_ORDER", "ocr,smell", "unknown tools"),
    ],
)
def test_bad_settings_are_clear_errors(monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValueError, match=message):
        Context()


def test_clue_providers_default_and_overrides():
    assert Context().provider_for("ocr") == "auto"
    context = Context(clue_providers="carried,ocr=rapidocr")
    assert context.provider_for("ocr") == "rapidocr"
    assert context.provider_for("tags") == "carried"
    assert Context(clue_providers="tags=efficientnet").provider_for("ocr") == "auto"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("rapidocr,efficientnet", "'efficientnet' is a bare provider after the first entry"),
        ("rapidocr", "the default provider rapidocr does not make caption, dense_caption, tags"),
        ("smell=nose", "'smell' is no clue tool"),
        ("carried,ocr=tesseract", "'tesseract' is no provider"),
        ("ocr=efficientnet", "efficientnet does not make ocr clues"),
        (" , ", "it names no provider"),
    ],
)
def test_a_malformed_clue_providers_names_the_accepted_form(value, problem):
    with pytest.raises(SettingError) as error:
        Context(clue_providers=value)
    assert problem in str(error.value)
    assert "the accepted form is a default provider first, then 'tool=provider'" in str(error.value)


def test_a_bare_single_tool_provider_is_accepted_when_it_is_the_only_tool():
    assert Context(clue_providers="rapidocr", clue_order="ocr").provider_for("ocr") == "rapidocr"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"use_icr": "false"}, ("use_icr", False)),
        ({"use_vif": "TRUE"}, ("use_vif", True)),
        ({"alpha": "0.25"}, ("alpha", 0.25)),
        ({"alpha": 1}, ("alpha", 1.0)),
        ({"k": "7"}, ("k", 7)),
        ({"k": 7.0}, ("k", 7)),
    ],
)
def test_values_as_text_or_json_become_the_field_type(settings, expected):
    name, value = expected
    got = getattr(Context(**settings), name)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"ranker": "foo"},
            r"ranker='foo' must be one of \['none', 'embedder', 'dim', 'cross_encoder', "
            r"'combined'\]",
        ),
        ({"alpha": "abc"}, "alpha='abc' is not a number"),
        ({"alpha": float("nan")}, "alpha=nan must be a finite number"),
        ({"beta": "inf"}, "beta='inf' must be a finite number"),
        ({"fallback": "bogus"}, "fallback='bogus' must be one of"),
        ({"use_icr": "perhaps"}, "use_icr='perhaps' is not a boolean"),
        ({"use_icr": 0}, "use_icr=0 is not a boolean"),
        ({"k": "ten"}, "k='ten' is not an integer"),
        ({"k": 2.5}, "k=2.5 is not an integer"),
        ({"k": -1}, "k must be at least 1"),
        ({"alpha": 1.5}, "alpha must be between -1 and 1, got 1.5"),
        ({"alpha": 2.5, "icr_rule": "margin"}, "alpha must be between -2 and 2"),
        ({"beta": 150}, "beta must be between -100 and 100"),
        ({"beta_text": -3}, "beta_text must be between -1 and 1"),
        ({"fuzzy_min_score": 120}, "fuzzy_min_score must be between 0 and 100"),
        ({"selector": 3}, "selector=3 is not text"),
        ({"alpah": 0.3}, r"unknown settings \['alpah'\]; the settings are: selector, .*alpha"),
    ],
)
def test_bad_values_from_python_or_json_are_clear_errors(settings, message):
    with pytest.raises(SettingError, match=message):
        Context(**settings)


def test_a_zscore_alpha_may_leave_the_cosine_range():
    assert Context(alpha=1.5, icr_rule="zscore").alpha == 1.5


def test_cli_set_goes_through_the_same_checks():
    assert settings_from(["use_icr=false", "alpha=0.3"]).use_icr is False
    with pytest.raises(SettingError, match="unknown settings"):
        settings_from(["alpah=0.3"])
    with pytest.raises(SettingError, match="expected FIELD=VALUE"):
        settings_from(["alpha"])


@pytest.mark.parametrize("name", ["k", "top_k", "ranker_keep"])
def test_counts_of_candidates_are_bounded(name):
    with pytest.raises(SettingError, match=rf"{name} must be at most 1000, got {10**12}"):
        Context(**{name: 10**12})
    assert getattr(Context(**{name: 1000}), name) == 1000
