"""Azure AI Vision Image Analysis 4.0 (the paper's image-to-text provider), over REST.

The endpoint and key come from the environment: AZURE_VISION_ENDPOINT and AZURE_VISION_KEY
(or VISION_ENDPOINT and VISION_KEY, the names Microsoft's quickstarts use). Texts are joined
with '; ' like the Azure output the benchmark datasets carry.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from i2cr.context import Context
from i2cr.images import LoadedImage
from i2cr.tools.base import ClueTool
from i2cr.tools.image_tool import ImageClueTool, unsupported_kind

PROVIDER = "azure"
API_VERSION = "2023-10-01"
ENDPOINT_VARIABLES = ("AZURE_VISION_ENDPOINT", "VISION_ENDPOINT")
KEY_VARIABLES = ("AZURE_VISION_KEY", "VISION_KEY")
TIMEOUT_S = 30.0
RETRIES = 4
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 60.0
FEATURE_FOR_KIND = {
    "ocr": "read",
    "caption": "caption",
    "dense_caption": "denseCaptions",
    "tags": "tags",
}


class AzureVisionError(RuntimeError):
    """Azure AI Vision refused the request or could not be reached.

    `retry_after` is None when trying again cannot help, else the seconds the service asked
    to wait (0: none given).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def azure_credentials() -> tuple[str, str]:
    """(endpoint, key) from the environment, with an error naming the variables to set."""
    endpoint = next((os.environ[v] for v in ENDPOINT_VARIABLES if os.environ.get(v)), "")
    key = next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), "")
    if not endpoint or not key:
        raise AzureVisionError(
            f"the azure provider needs {ENDPOINT_VARIABLES[0]} and {KEY_VARIABLES[0]} set "
            "(your Azure AI Vision resource's endpoint and key)"
        )
    return endpoint.rstrip("/"), key


def analyze_url(endpoint: str, features: list[str]) -> str:
    """The Image Analysis 4.0 analyze URL for some visual features."""
    query = urlencode(
        {
            "api-version": API_VERSION,
            "features": ",".join(features),
            "language": "en",
            "gender-neutral-caption": "false",
        }
    )
    return f"{endpoint}/computervision/imageanalysis:analyze?{query}"


def analyze(
    data: bytes, features: list[str], timeout_s: float = TIMEOUT_S, retries: int = RETRIES
) -> dict[str, Any]:
    """POST the image bytes to Azure AI Vision and return the JSON analysis.

    A rate limit (429), a server error (5xx), a timeout or a lost connection is retried up to
    `retries` times, waiting what the service's retry-after says or `backoff_s`.
    """
    endpoint, key = azure_credentials()
    request = Request(
        analyze_url(endpoint, features),
        data=data,
        method="POST",
        headers={"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/octet-stream"},
    )
    for attempt in range(retries + 1):
        try:
            return _analyze_once(request, endpoint, timeout_s)
        except AzureVisionError as err:
            if err.retry_after is None or attempt == retries:
                raise
            time.sleep(err.retry_after or backoff_s(attempt))
    raise AssertionError("unreachable: the last try returns or raises")


def backoff_s(attempt: int) -> float:
    """Wait before retry `attempt`: 0.5 s doubling to 8 s, less up to half at random.

    The jitter keeps the workers of a batch that were refused together from retrying together.
    """
    return min(FIRST_BACKOFF_S * 2**attempt, MAX_BACKOFF_S) * random.uniform(0.5, 1.0)


def _analyze_once(request: Request, endpoint: str, timeout_s: float) -> dict[str, Any]:
    try:
        with urlopen(request, timeout=timeout_s) as response:
            return dict(json.loads(response.read()))
    except HTTPError as err:
        retry_after = None
        if err.code in RETRY_STATUSES:
            retry_after = _seconds(err.headers.get("retry-after") if err.headers else None)
        raise AzureVisionError(
            f"Azure AI Vision answered {err.code}: {_error_message(err)}", retry_after
        ) from err
    except (URLError, TimeoutError, OSError) as err:
        raise AzureVisionError(f"cannot reach Azure AI Vision at {endpoint}: {err}", 0.0) from err
    except json.JSONDecodeError as err:
        raise AzureVisionError(f"Azure AI Vision sent a response that is not JSON: {err}") from err


def _seconds(retry_after: str | None) -> float:
    """Seconds a retry-after header asks for (0: use the backoff), capped at the longest wait."""
    try:
        return min(max(float(retry_after or 0), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return 0.0


def clue_text(kind: str, analysis: dict[str, Any]) -> str:
    """The clue text of one kind from an analysis response."""
    if kind == "caption":
        return str((analysis.get("captionResult") or {}).get("text", "")).strip()
    if kind == "dense_caption":
        values = (analysis.get("denseCaptionsResult") or {}).get("values", [])
        return _joined(v.get("text", "") for v in values)
    if kind == "tags":
        values = (analysis.get("tagsResult") or {}).get("values", [])
        return _joined(v.get("name", "") for v in values)
    if kind == "ocr":
        blocks = (analysis.get("readResult") or {}).get("blocks", [])
        return _joined(line.get("text", "") for block in blocks for line in block.get("lines", []))
    raise unsupported_kind(PROVIDER, kind, tuple(FEATURE_FOR_KIND))


class AzureVisionTool(ImageClueTool):
    """One Image Analysis 4.0 feature (read, caption, denseCaptions or tags) as clue text."""

    provider: str = PROVIDER

    def settings_key(self, settings: Context) -> str:
        """Outputs depend on the API version (the model behind it)."""
        return API_VERSION

    def describe(self, image: LoadedImage, settings: Context) -> str:
        """Analyze the image bytes with this tool's feature."""
        return clue_text(self.name, analyze(image.data, [FEATURE_FOR_KIND[self.name]]))


def azure_tool(kind: str) -> ClueTool:
    """The Azure AI Vision tool for one clue kind."""
    if kind not in FEATURE_FOR_KIND:
        raise unsupported_kind(PROVIDER, kind, tuple(FEATURE_FOR_KIND))
    return AzureVisionTool(
        name=kind, description=f"Describe the mention image ({kind}) with Azure AI Vision."
    )


def _joined(texts: Any) -> str:
    return "; ".join(t.strip() for t in texts if t and t.strip())


def _error_message(err: HTTPError) -> str:
    try:
        body = json.loads(err.read() or b"{}")
    except (json.JSONDecodeError, OSError):
        return str(err.reason)
    error = body.get("error", {}) if isinstance(body, dict) else {}
    inner = error.get("innererror", {}) or {}
    parts = [error.get("code"), error.get("message"), inner.get("message")]
    return " - ".join(str(p) for p in parts if p) or str(err.reason)
