from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import CANDIDATES
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from postgres_cluster import pgvector_missing_reason, pgvector_server

from i2cr.context import Context
from i2cr.models.chat import register_chat_model

_counter = itertools.count()

# Modules each of whose tests starts a server; their bodies are edited elsewhere, so they are
# marked slow here (plain `pytest` deselects them; `.ci/run` runs them).
SERVER_MODULES = {"test_kg_postgres.py"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SERVER_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """The superuser URL of pgserver's PostgreSQL 16 + pgvector, started once per session.

    Without pgserver the test skips, except in CI (CI=true), where that is a failure.
    """
    reason = pgvector_missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the pgvector tests: {reason}")
        pytest.skip(reason)
    with pgvector_server() as url:
        yield url


class RecordingChat(FakeListChatModel):
    """Scripted answers in order; keeps every prompt it was given."""

    prompts: list[str] = []

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.prompts.append("\n".join(str(m.content) for m in messages))
        return super()._call(messages, *args, **kwargs)


@pytest.fixture
def scripted() -> Callable[..., tuple[RecordingChat, Context]]:
    """A fake selector answering the given texts in order, and a context using it.

    The candidates keep their given order unless a test names a ranker, and the thresholds
    are fixed here (not the defaults, which a sweep may move): the scripted scores are set
    against them.
    """

    def make(*answers: str, **settings: Any) -> tuple[RecordingChat, Context]:
        spec = f"test:scripted-{next(_counter)}"
        model = RecordingChat(responses=list(answers), prompts=[])
        register_chat_model(spec, model)
        fixed = {"ranker": "none", "alpha": 0.4, "beta_text": 0.15}
        return model, Context(**{"selector": spec, **fixed, **settings})

    return make


@pytest.fixture
def scores(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Fix the ICR and IAV scores per entity name instead of running models."""

    def fix(icr: dict[str, float] | None = None, iav: dict[str, float] | None = None) -> None:
        def by_name(table: dict[str, float]) -> Callable[..., list[float]]:
            def score(*args: Any, **settings: Any) -> list[float]:
                entity_texts = args[-1]
                return [next(v for k, v in table.items() if t.startswith(k)) for t in entity_texts]

            return score

        if icr is not None:
            monkeypatch.setattr("i2cr.nodes.icr.cosine", by_name(icr))
        if iav is not None:
            monkeypatch.setattr("i2cr.nodes.iav.cosine", by_name(iav))

    return fix


@pytest.fixture
def mention() -> dict[str, Any]:
    return {
        "mention": "Governor Rendell",
        "context": "Governor Rendell announced the budget.",
        "candidates": [dict(c) for c in CANDIDATES],
        "clues": {
            "ocr": "",
            "caption": "a man at a podium",
            "dense_caption": "a man; a flag",
            "tags": "person; suit; flag",
        },
    }
