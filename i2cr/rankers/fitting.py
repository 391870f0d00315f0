"""Fitting a combination of first-stage signals: listwise weights, then a calibration.

The weights are a conditional logit over each mention's candidates: the probability of
candidate i is softmax(w . x_i), x_i the candidate's signals as standard scores within its
list, fitted by maximum likelihood of the gold candidate (L2-regularised). Mentions whose gold
entity is not among the candidates teach the weights nothing and are left out of that fit;
the calibration, which maps the top candidate's probability to the probability that it is
right, counts them as wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

EPSILON = 1e-6


def standard_scores(values: Sequence[float]) -> np.ndarray:
    """Scores as standard scores within the list (all 0 when they are equal)."""
    array = np.asarray(values, dtype=np.float64)
    spread = array.std()
    return (array - array.mean()) / spread if spread > 0 else np.zeros_like(array)


def feature_matrix(signals: Mapping[str, Sequence[float]], names: Sequence[str]) -> np.ndarray:
    """(candidates, signals): each named signal standardised over the candidates."""
    return np.stack([standard_scores(signals[name]) for name in names], axis=1)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities from scores (numerically stable)."""
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def fit_weights(lists: Sequence[np.ndarray], golds: Sequence[int], l2: float = 0.01) -> np.ndarray:
    """Weights maximising the mean log-probability of the gold candidates, minus l2 * |w|^2.

    `lists` are feature matrices (one per mention); a gold index of -1 (not among the
    candidates) leaves the mention out.
    """
    kept = [(x, g) for x, g in zip(lists, golds, strict=True) if 0 <= g < len(x)]
    if not kept:
        raise ValueError("no mention with its gold entity among the candidates to fit on")
    width = kept[0][0].shape[1]
    # Lists padded to one length (the padding's scores are -inf), so the loss is one product.
    longest = max(len(x) for x, _ in kept)
    features = np.zeros((len(kept), longest, width))
    absent = np.ones((len(kept), longest), dtype=bool)
    for i, (x, _) in enumerate(kept):
        features[i, : len(x)], absent[i, : len(x)] = x, False
    gold = np.array([g for _, g in kept])
    rows = np.arange(len(kept))

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = np.where(absent, -np.inf, features @ weights)
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        total = -np.mean(np.log(probabilities[rows, gold] + 1e-300)) + l2 * float(weights @ weights)
        expected = np.einsum("mn,mnw->mw", probabilities, features)
        gradient = -(features[rows, gold] - expected).mean(axis=0) + 2 * l2 * weights
        return float(total), gradient

    result = minimize(loss, np.zeros(width), jac=True, method="L-BFGS-B")
    return np.asarray(result.x)


def logit(probability: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)), with p kept inside (0, 1)."""
    p = np.clip(np.asarray(probability, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def calibration_features(probability: float, raw: Sequence[float]) -> np.ndarray:
    """What the calibration reads of a candidate: 1, logit(its probability), its raw signals.

    The raw signals tell what the probability, relative to the other candidates, cannot: how
    well the candidate fits at all (a mention whose entity is missing has only poor ones).
    """
    return np.array([1.0, float(logit(probability)), *raw], dtype=np.float64)


def fit_calibration(
    features: Sequence[np.ndarray], correct: Sequence[bool], l2: float = 1e-3
) -> tuple[float, ...]:
    """Logistic regression of P(right) on `calibration_features`, by maximum likelihood."""
    x = np.stack(list(features))
    y = np.asarray(correct, dtype=np.float64)

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-(x @ weights)))
        value = -np.mean(y * np.log(p + 1e-300) + (1 - y) * np.log(1 - p + 1e-300))
        value += l2 * float(weights[1:] @ weights[1:])
        gradient = x.T @ (p - y) / len(y)
        gradient[1:] += 2 * l2 * weights[1:]
        return float(value), gradient

    start = np.zeros(x.shape[1])
    start[1] = 1.0
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return tuple(float(w) for w in result.x)


def calibrated(features: np.ndarray, calibration: Sequence[float]) -> float:
    """The calibrated probability that the candidate of `features` is right."""
    return float(1 / (1 + np.exp(-(features @ np.asarray(calibration)))))


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE: the bins' |accuracy - mean confidence|, weighted by their share of the answers."""
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(right[members].mean() - conf[members].mean())
    return float(error)


def fold_of(sample_id: str, folds: int) -> int:
    """The cross-validation fold of a mention: a hash of its id, so every run splits alike."""
    digest = hashlib.sha256(f"fold:{sample_id}".encode()).hexdigest()
    return int(digest, 16) % folds
