"""A remote selector that cannot work (no key, a refused key, a dead URL): one clear line, fast."""

from __future__ import annotations

import json
import socket
import time

import pytest
from helpers import CANDIDATES

from i2cr.cli import main
from i2cr.testing.openai_stub import Reply, serve


@pytest.fixture
def candidates(tmp_path):
    path = tmp_path / "candidates.json"
    path.write_text(json.dumps(CANDIDATES))
    return path


def link(candidates, *settings: str) -> int:
    args = ["link", "Ed Rendell", "--candidates", str(candidates)]
    for setting in ("selector=openai:gpt-4o", "ranker=none", "selector_retries=0", *settings):
        args += ["--set", setting]
    return main(args)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_openai_selector_without_a_key(monkeypatch, candidates, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert link(candidates) != 0
    assert "cannot create selector 'openai:gpt-4o': Missing credentials" in one_line_error(capsys)


def test_a_refused_key(monkeypatch, candidates, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with serve(lambda attempt: Reply(status=401)) as server:
        assert link(candidates, f"selector_base_url={server.base_url}") != 0
    error = one_line_error(capsys)
    assert "selector 'openai:gpt-4o' refused the API key (HTTP 401" in error
    assert "check the provider's key (e.g. OPENAI_API_KEY)" in error


def test_a_model_the_server_does_not_know(monkeypatch, candidates, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    unknown = {"error": {"message": "The model `gpt-4o` does not exist.", "code": 404}}
    started = time.perf_counter()
    with serve(lambda attempt: Reply(status=404, body=unknown)) as server:
        # The default retries: a 404 is not worth retrying.
        assert link(candidates, f"selector_base_url={server.base_url}", "selector_retries=6") != 0
    assert time.perf_counter() - started < 5
    error = one_line_error(capsys)
    assert "selector 'openai:gpt-4o': the server has no such model or route (HTTP 404" in error
    assert "does not exist" in error and "check the model name in selector" in error


def closed_loopback_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


@pytest.mark.parametrize("retries", ["0", "6"])
def test_a_dead_base_url_fails_fast_whatever_the_retries(monkeypatch, candidates, capsys, retries):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    dead = closed_loopback_url()
    started = time.perf_counter()
    assert link(candidates, f"selector_base_url={dead}", f"selector_retries={retries}") != 0
    assert time.perf_counter() - started < 5
    error = one_line_error(capsys)
    assert f"cannot reach selector 'openai:gpt-4o' at {dead}: connection refused" in error
    assert "check selector_base_url" in error


def test_a_host_that_does_not_resolve_fails_fast(monkeypatch, candidates, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    started = time.perf_counter()
    assert link(candidates, "selector_base_url=http://no-such-host.invalid/v1") != 0
    assert time.perf_counter() - started < 5
    assert "host 'no-such-host.invalid' does not resolve" in one_line_error(capsys)


def test_a_host_that_never_answers_fails_within_the_timeout(monkeypatch, candidates, capsys):
    """A listener whose accept queue is full drops new connections, as a firewall does."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        queued = [socket.create_connection(silent.getsockname(), timeout=1)]  # fills the queue
        started = time.perf_counter()
        status = link(candidates, f"selector_base_url={url}", "selector_timeout_s=1")
        elapsed = time.perf_counter() - started
        for connection in queued:
            connection.close()
    assert status != 0
    assert elapsed < 5
    error = one_line_error(capsys)
    assert f"cannot reach selector 'openai:gpt-4o' at {url}: no answer from 127.0.0.1:" in error
    assert "within 1 s" in error and "check selector_base_url" in error


def test_a_server_that_answered_once_is_retried_when_it_goes_away(monkeypatch, candidates):
    """Refusals after the URL accepted a connection are an outage: the SDK retries them."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve(lambda attempt: Reply()) as server:
        assert link(candidates, f"selector_base_url={server.base_url}") == 0
        url = server.base_url
    started = time.perf_counter()
    assert link(candidates, f"selector_base_url={url}", "selector_retries=2") != 0
    assert time.perf_counter() - started > 0.5  # two retries waited (0.5 s doubling, jittered)
