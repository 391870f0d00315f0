"""The Azure AI Vision provider against recorded responses: never a live call."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import matplotlib
import pytest

from i2cr.tools import get_clue_tool
from i2cr.tools.azure import AzureVisionError, analyze, analyze_url, backoff_s, clue_text
from i2cr.tools.cache import clue_cache

FIXTURES = Path(__file__).parent / "fixtures"
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
ANALYSIS = json.loads((FIXTURES / "azure_analysis_grace_hopper.json").read_text())
ENDPOINT = "https://example-vision.cognitiveservices.azure.com"


class _Response(io.BytesIO):
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


@pytest.fixture
def azure(monkeypatch) -> list[Any]:
    """Credentials in the environment and a recorded answer instead of the network."""
    monkeypatch.setenv("AZURE_VISION_ENDPOINT", ENDPOINT + "/")
    monkeypatch.setenv("AZURE_VISION_KEY", "test-key")
    requests: list[Any] = []

    def fake_urlopen(request: Any, timeout: float) -> _Response:
        requests.append(request)
        return _Response(json.dumps(ANALYSIS).encode())

    monkeypatch.setattr("i2cr.tools.azure.urlopen", fake_urlopen)
    clue_cache.cache_clear()
    return requests


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("ocr", "COMO HOPPER"),
        ("caption", "a woman in a military uniform"),
        (
            "dense_caption",
            "a woman in a military uniform; a woman wearing glasses and a hat; "
            "an american flag; a name tag on a uniform",
        ),
        ("tags", "person; human face; military uniform; glasses; flag; portrait"),
    ],
)
def test_recorded_analysis_becomes_clue_text_like_the_datasets(kind, expected):
    assert clue_text(kind, ANALYSIS) == expected


def test_missing_features_give_empty_clues():
    empty = {"modelVersion": "2023-10-01", "readResult": {"blocks": []}}
    assert [clue_text(k, empty) for k in ("ocr", "caption", "dense_caption", "tags")] == [""] * 4


def test_request_posts_image_bytes_with_key_for_one_feature(azure):
    tool = get_clue_tool("dense_caption", "azure")
    text = tool.invoke({"image": str(PHOTO)})
    assert text.startswith("a woman in a military uniform; a woman wearing glasses")
    (request,) = azure
    assert request.full_url == analyze_url(ENDPOINT, ["denseCaptions"])
    assert "imageanalysis:analyze?api-version=2023-10-01&features=denseCaptions" in request.full_url
    assert request.get_method() == "POST"
    assert request.get_header("Ocp-apim-subscription-key") == "test-key"
    assert request.get_header("Content-type") == "application/octet-stream"
    assert request.data == PHOTO.read_bytes()


def test_same_image_content_is_served_from_the_cache(azure, tmp_path):
    copy = tmp_path / "renamed.jpg"
    copy.write_bytes(PHOTO.read_bytes())
    tool = get_clue_tool("tags", "azure")
    assert tool.invoke({"image": str(PHOTO)}) == tool.invoke({"image": str(copy)})
    assert len(azure) == 1


def test_missing_credentials_name_the_variables(monkeypatch):
    for name in ("AZURE_VISION_ENDPOINT", "VISION_ENDPOINT", "AZURE_VISION_KEY", "VISION_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AzureVisionError, match="AZURE_VISION_ENDPOINT and AZURE_VISION_KEY"):
        analyze(b"...", ["tags"])


def test_service_error_is_reported_with_its_message(azure, monkeypatch):
    body = (FIXTURES / "azure_error_401.json").read_bytes()

    def refuse(request: Any, timeout: float) -> None:
        raise HTTPError(request.full_url, 401, "Unauthorized", {}, io.BytesIO(body))  # type: ignore[arg-type]

    monkeypatch.setattr("i2cr.tools.azure.urlopen", refuse)
    with pytest.raises(AzureVisionError, match="answered 401: 401 - Access denied"):
        get_clue_tool("caption", "azure").invoke({"image": str(PHOTO)})


def test_rate_limits_and_server_errors_are_retried_with_the_asked_wait(azure, monkeypatch):
    waits: list[float] = []
    answers = iter([(429, {"retry-after": "2"}), (503, {})])

    def flaky(request: Any, timeout: float) -> _Response:
        for code, headers in answers:
            raise HTTPError(request.full_url, code, "busy", headers, io.BytesIO(b"{}"))  # type: ignore[arg-type]
        return _Response(json.dumps(ANALYSIS).encode())

    monkeypatch.setattr("i2cr.tools.azure.urlopen", flaky)
    monkeypatch.setattr("i2cr.tools.azure.time.sleep", waits.append)
    assert analyze(b"...", ["caption"])["captionResult"]
    assert waits[0] == 2.0
    assert 0.5 <= waits[1] <= 1.0


def test_backoff_doubles_to_its_cap_with_jitter():
    waits = [[backoff_s(attempt) for attempt in range(6)] for _ in range(20)]
    for attempt, cap in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        assert all(cap / 2 <= row[attempt] <= cap for row in waits)
    assert len({row[3] for row in waits}) > 1


def test_a_service_that_stays_down_fails_after_the_retries(azure, monkeypatch):
    calls: list[Any] = []

    def down(request: Any, timeout: float) -> None:
        calls.append(request)
        raise HTTPError(request.full_url, 500, "down", {}, io.BytesIO(b"{}"))  # type: ignore[arg-type]

    monkeypatch.setattr("i2cr.tools.azure.urlopen", down)
    monkeypatch.setattr("i2cr.tools.azure.time.sleep", lambda seconds: None)
    with pytest.raises(AzureVisionError, match="answered 500"):
        analyze(b"...", ["caption"], retries=3)
    assert len(calls) == 4
