"""LoRA adapters for a local selector, including the ones shipped with i2cr."""

from __future__ import annotations

from pathlib import Path

SHIPPED_ADAPTERS = Path(__file__).resolve().parent.parent / "assets" / "adapters"

# The adapter `selector_adapter="auto"` gives each selector: the best measured on WikiMEL dev.
ADAPTER_FOR_SELECTOR = {"local:smollm2": "smollm2-wikimel-emb5"}


def resolve_adapter(spec: str) -> str:
    """A LoRA adapter folder or hub id for `spec`.

    The bare name of an adapter shipped with i2cr (a folder of `i2cr/assets/adapters`, such as
    'smollm2-wikimel-emb5') is that folder, unless a path of that name exists here.
    """
    shipped = SHIPPED_ADAPTERS / spec
    if spec and not Path(spec).expanduser().exists() and shipped.is_dir():
        return str(shipped)
    return spec
