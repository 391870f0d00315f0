"""The cross-encoder model: the base encoder with its top layers and head replaced by trained ones.

On disk a trained ranker is `config.json` (the base, which layers were trained, text limits)
and `weights.safetensors` (float16, only the trained tensors): a few MB on top of the base.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from i2cr.models.embedder import resolve_embedder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
HEAD_PREFIXES = ("bert.pooler.", "classifier.")


@dataclass
class CrossEncoderConfig:
    """Which base encoder, how much of it is trained, and how long the texts may be."""

    base: str = "minilm"
    trained_layers: int = 2
    max_length: int = 128
    desc_chars: int = 400

    def as_dict(self) -> dict[str, object]:
        """The config as JSON-ready values."""
        return asdict(self)


def trained_names(model: Any, trained_layers: int) -> list[str]:
    """Parameter names of the top `trained_layers` encoder layers, the pooler and the head."""
    layers = model.config.num_hidden_layers
    prefixes = HEAD_PREFIXES + tuple(
        f"bert.encoder.layer.{i}." for i in range(layers - trained_layers, layers)
    )
    return [name for name, _ in model.named_parameters() if name.startswith(prefixes)]


def build_model(config: CrossEncoderConfig, seed: int = 0) -> tuple[Any, Any]:
    """(tokenizer, model) from the base; the head is initialised from `seed`, the rest frozen."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    folder = resolve_embedder(config.base)
    torch.manual_seed(seed)
    # Its load report lists the new head as missing from the base, on every load: expected.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
    finally:
        transformers_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    trainable = set(trained_names(model, config.trained_layers))
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in trainable
    return tokenizer, model


def save_model(
    model: torch.nn.Module,
    config: CrossEncoderConfig,
    folder: str | Path,
    metadata: Mapping[str, object] | None = None,
) -> Path:
    """Write the config (with `metadata`) and the trained tensors in float16."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    raw = {**config.as_dict(), "metadata": dict(metadata or {})}
    (target / CONFIG_FILE).write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    state = model.state_dict()
    tensors = {
        name: state[name].detach().to(torch.float16).contiguous()
        for name in trained_names(model, config.trained_layers)
    }
    save_file(tensors, str(target / WEIGHTS_FILE))
    return target


def read_config(folder: str | Path) -> tuple[CrossEncoderConfig, dict[str, object]]:
    """The config of a saved ranker and the metadata saved with it."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"cross-encoder folder {folder} has no {CONFIG_FILE}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    metadata = raw.pop("metadata", {})
    return CrossEncoderConfig(**raw), metadata


def load_model(folder: str | Path) -> tuple[CrossEncoderConfig, Any, Any]:
    """(config, tokenizer, model) of a saved ranker, in evaluation mode and float32."""
    config, _ = read_config(folder)
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"cross-encoder folder {folder} has no {WEIGHTS_FILE}")
    tokenizer, model = build_model(config)
    trained = {name: tensor.float() for name, tensor in load_file(str(weights)).items()}
    missing = set(trained_names(model, config.trained_layers)) - set(trained)
    if missing:
        raise ValueError(f"{weights} lacks trained tensors: {sorted(missing)[:3]}")
    model.load_state_dict(trained, strict=False)
    model.eval()
    return config, tokenizer, model
