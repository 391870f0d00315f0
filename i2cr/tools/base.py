"""The image-to-text tool interface: one LangChain tool per (clue kind, provider)."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field


class ClueInput(BaseModel):
    """Arguments of every image-to-text tool."""

    image: str | None = Field(default=None, description="Path of the mention image.")
    carried: dict[str, str] = Field(
        default_factory=dict,
        description="Clue texts that came with the input, by tool name (e.g. Azure output).",
    )


class ClueTool(BaseTool):
    """Turns the mention image into clue text of one kind (ocr, caption, dense_caption, tags)."""

    args_schema: type[BaseModel] = ClueInput
    provider: str

    def _run(self, image: str | None = None, carried: dict[str, str] | None = None) -> str:
        raise NotImplementedError


ProviderFactory = Callable[[str], ClueTool]
