from __future__ import annotations

import pytest

from i2cr.context import Context


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
        ("I2CR_ALPHA", "high", "alpha='high' is not a float"),
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
    context = Context(clue_providers="carried,ocr=rapidocr")
    assert context.provider_for("ocr") == "rapidocr"
    assert context.provider_for("tags") == "carried"
    with pytest.raises(ValueError, match="unknown tool"):
        Context(clue_providers="smell=nose")
