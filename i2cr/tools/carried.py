"""The `carried` provider: clue text that came with the input (the benchmarks' Azure output)."""

from __future__ import annotations

from i2cr.tools.base import ClueTool


class CarriedClueTool(ClueTool):
    """Reads the clue of its kind from the input; empty when the input has none."""

    provider: str = "carried"

    def _run(self, image: str | None = None, carried: dict[str, str] | None = None) -> str:
        return (carried or {}).get(self.name, "").strip()


def carried_tool(kind: str) -> ClueTool:
    """The carried-clue tool for one clue kind."""
    return CarriedClueTool(
        name=kind, description=f"Return the {kind} text supplied with the mention's input."
    )
