"""Sentence-embedding models behind the embedder: transformers alone where it suffices.

Importing sentence-transformers pulls in scikit-learn and SciPy, about 1.5 s of a one-mention
run's start-up. A sentence-transformers folder whose modules are a Transformer, mean Pooling
and optionally Normalize (all-MiniLM-L6-v2, the default embedder) is run here with
transformers' AutoModel instead; any other model goes through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

ST_MODULE = "sentence_transformers.models."
MEAN_POOLING_MODULES = (
    [ST_MODULE + "Transformer", ST_MODULE + "Pooling"],
    [ST_MODULE + "Transformer", ST_MODULE + "Pooling", ST_MODULE + "Normalize"],
)
POOLING_MODES = (
    "pooling_mode_cls_token",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)
# sentence-transformers' default batch size; texts are sorted by length as it does.
BATCH_SIZE = 32


def batch_size_for(dtype: torch.dtype) -> int:
    """Texts per forward pass: bfloat16 encodes one at a time.

    A bfloat16 row's rounding depends on the shape of the batch it ran in (measured: up to
    1e-3 per coordinate for MiniLM), so batching would make a text's vector, and near-tied
    rankings, depend on which texts it was embedded with. One at a time keeps it a function
    of the text; bfloat16 is still faster than batched float32 (0.11 s vs 0.15 s a mention).
    """
    import torch

    return 1 if dtype == torch.bfloat16 else BATCH_SIZE


class TextEncoder(Protocol):
    """A sentence-embedding model: one (not normalised) row per text."""

    @property
    def model(self) -> torch.nn.Module:
        """The weights, in the precision asked for."""
        ...

    def encode(self, texts: list[str], batch_size: int | None = None) -> torch.Tensor:
        """Embeddings of `texts`, in order (`batch_size` texts a pass; None: the default)."""
        ...


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def is_mean_pooling_folder(folder: Path) -> bool:
    """The folder holds a sentence-transformers model that is a transformer + mean pooling."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return False
    modules = _read_json(modules_file)
    if [m.get("type") for m in modules] not in MEAN_POOLING_MODULES or modules[0]["path"]:
        return False
    pooling = _read_json(folder / modules[1]["path"] / "config.json")
    return bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        pooling.get(mode) for mode in POOLING_MODES
    )


class MeanPoolingEncoder:
    """A transformer + mean pooling sentence-transformers model, run with transformers."""

    def __init__(self, folder: Path, dtype: torch.dtype) -> None:
        """Load the tokenizer and the transformer from a sentence-transformers folder."""
        from transformers import AutoModel, AutoTokenizer

        config_file = folder / "sentence_bert_config.json"
        config = _read_json(config_file) if config_file.is_file() else {}
        self.max_length: int | None = config.get("max_seq_length")
        self.lower_case = bool(config.get("do_lower_case"))
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder, dtype=dtype).eval()
        self.batch_size = batch_size_for(dtype)

    def encode(self, texts: list[str], batch_size: int | None = None) -> torch.Tensor:
        """Mean of each text's token embeddings, padding left out."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        step = batch_size or self.batch_size
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            inputs = self.tokenizer(
                [texts[i].lower() if self.lower_case else texts[i] for i in batch],
                padding=True,
                truncation="longest_first",
                max_length=self.max_length,
                return_tensors="pt",
            )
            with torch.inference_mode():
                tokens = self.model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            for i, row in zip(batch, pooled, strict=True):
                rows[i] = row
        return torch.stack(rows)


class SentenceTransformerEncoder:
    """Any sentence-transformers model."""

    def __init__(self, spec: str, dtype: torch.dtype) -> None:
        """Load the model (a hub id or a folder) in `dtype`."""
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(spec, device=None, model_kwargs={"dtype": dtype})
        self.batch_size = batch_size_for(dtype)

    def encode(self, texts: list[str], batch_size: int | None = None) -> torch.Tensor:
        """The model's embeddings of `texts` (its own pooling; normalised if it normalises)."""
        return self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            convert_to_tensor=True,
            show_progress_bar=False,
        )


def open_text_encoder(spec: str, dtype: torch.dtype) -> TextEncoder:
    """The encoder for a model id or folder: transformers alone for mean-pooling folders."""
    folder = Path(spec)
    if folder.is_dir() and is_mean_pooling_folder(folder):
        return MeanPoolingEncoder(folder, dtype)
    return SentenceTransformerEncoder(spec, dtype)
