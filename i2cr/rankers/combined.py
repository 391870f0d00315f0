"""The combined first stage: every signal, weighted as fitted on WikiMEL val, and calibrated.

Scores are w . x_i over the candidates' signals as standard scores within the list
(`i2cr.rankers.fitting`); softmax over them gives each candidate's probability, and the
calibration maps that probability and the candidate's raw signals to the probability that it
is right (fitted on the first candidates of WikiMEL val, out of fold).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from i2cr.datasets.sample import Sample
from i2cr.models.precision import Precision
from i2cr.rankers.fitting import calibrated, calibration_features, feature_matrix, softmax
from i2cr.rankers.signals import signal_scores

WEIGHTS_FILE = "combined.json"
COMBINED_SIGNALS = ("embedder", "dim", "cross_encoder", "name", "clue", "ocr_name")


def shipped_weights() -> Path:
    """The folder of the combination shipped with the package (fitted on WikiMEL val)."""
    return Path(str(resources.files("i2cr") / "assets" / "combined"))


@dataclass(frozen=True)
class Combination:
    """Weights of the signals, and the calibration: bias, logit weight, raw signals' weights."""

    signals: tuple[str, ...]
    weights: tuple[float, ...]
    calibration: tuple[float, ...]
    # The embedder of the cosine signals the weights were fitted on.
    embedder: str = "minilm"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def scores(self, signals: Mapping[str, list[float]]) -> list[float]:
        """The combined score of each candidate."""
        matrix = feature_matrix(signals, self.signals)
        return [float(s) for s in matrix @ np.asarray(self.weights)]

    def confidences(self, signals: Mapping[str, list[float]], scores: list[float]) -> list[float]:
        """Each candidate's calibrated probability of being right (the best's is the gate's).

        `scores` are this combination's `scores` of the same `signals`.
        """
        if not scores:
            return []
        probabilities = softmax(np.asarray(scores, dtype=np.float64))
        return [
            calibrated(
                calibration_features(float(p), [signals[n][i] for n in self.signals]),
                self.calibration,
            )
            for i, p in enumerate(probabilities)
        ]

    def save(self, folder: str | Path) -> Path:
        """Write the combination as JSON into `folder`."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        data = {
            "signals": list(self.signals),
            "weights": list(self.weights),
            "calibration": list(self.calibration),
            "embedder": self.embedder,
            "metadata": dict(self.metadata),
        }
        path = target / WEIGHTS_FILE
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Combination:
        """The combination saved in `folder` by `save`."""
        path = Path(folder) / WEIGHTS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"combined first stage folder {folder} has no {WEIGHTS_FILE}")
        data = json.loads(path.read_text(encoding="utf-8"))
        signals, weights = tuple(data["signals"]), tuple(float(w) for w in data["weights"])
        if len(signals) != len(weights):
            raise ValueError(f"{path}: {len(signals)} signals but {len(weights)} weights")
        calibration = tuple(float(v) for v in data["calibration"])
        if len(calibration) != len(signals) + 2:
            raise ValueError(f"{path}: the calibration needs {len(signals) + 2} weights")
        embedder = data.get("embedder", "minilm")
        return cls(signals, weights, calibration, embedder, data.get("metadata", {}))


def combined_signals(
    combination: Combination, query: Sample, precision: Precision
) -> dict[str, list[float]]:
    """The signals the combination reads, of each of the query's candidates."""
    return signal_scores(query, combination.signals, combination.embedder, precision)


@lru_cache(maxsize=4)
def load_combination(folder: str = "") -> Combination:
    """The combination saved in `folder` (the shipped one when empty), read once."""
    return Combination.load(folder or shipped_weights())
