"""Named evaluation configurations: baselines and the paper's ablations as Context switches."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

from i2cr.context import CLUE_TOOLS

LinkerKind = Literal["graph", "first_candidate", "embedder", "dim", "cross_encoder", "combined"]
Group = Literal[
    "baseline",
    "method",
    "ranked",
    "zero_shot",
    "switches",
    "vif_tools",
    "clue_order",
    "rounds",
    "sweep",
    "rules",
]

# ICR's threshold on the cross-encoder's margin (logits) for `full_cross_icr`: a try passes
# when the ranker scores it at most this far below the best other candidate.
CROSS_ICR_ALPHA = -1.0
# DIM's weight in the blended first stage: best on WikiMEL dev (benchmarks/cross_encoder_blend.py).
CROSS_DIM_WEIGHT = 0.4

# `nil_below` of the NIL configurations: the lowest confidence threshold with a NIL recall of
# at least 50% for the combined first stage alone on WikiDiverse dev (35 mentions, 8 NIL).
NIL_BELOW = 0.3

TOOL_ABBREVIATIONS = {"ocr": "ocr", "caption": "cap", "dense_caption": "dense", "tags": "tags"}


@dataclass(frozen=True)
class EvalConfig:
    """One configuration to evaluate: a linker and the Context settings it runs with."""

    name: str
    group: Group
    settings: dict[str, object] = field(default_factory=dict)
    linker: LinkerKind = "graph"
    label: str = ""

    @property
    def title(self) -> str:
        """How reports name this configuration."""
        return self.label or self.name


def _switch_configs() -> list[EvalConfig]:
    """Table 3: TES with each combination of ICR, IAV and VIF switched off."""
    configs = []
    for use_icr, use_iav, use_vif in itertools.product([True, False], repeat=3):
        if use_icr and use_iav and use_vif:
            continue
        off = [n for n, on in (("icr", use_icr), ("iav", use_iav), ("vif", use_vif)) if not on]
        name = "tes_only" if len(off) == 3 else "no_" + "_".join(off)
        label = "TES only" if len(off) == 3 else "w/o " + " & ".join(o.upper() for o in off)
        settings: dict[str, object] = {"use_icr": use_icr, "use_iav": use_iav, "use_vif": use_vif}
        configs.append(EvalConfig(name, "switches", settings, label=label))
    return configs


def _tool_name(tools: tuple[str, ...]) -> str:
    return "-".join(TOOL_ABBREVIATIONS[t] for t in tools)


def _vif_tool_configs() -> list[EvalConfig]:
    """Table 4: VIF with each proper non-empty subset of the four tools (default order)."""
    configs = []
    for size in range(1, len(CLUE_TOOLS)):
        for tools in itertools.combinations(CLUE_TOOLS, size):
            configs.append(
                EvalConfig(
                    f"vif_{_tool_name(tools)}",
                    "vif_tools",
                    {"clue_order": ",".join(tools)},
                    label="VIF: " + " + ".join(tools),
                )
            )
    return configs


def _clue_order_configs() -> list[EvalConfig]:
    """Figure 5: every order of the four tools except the default (that is `full`)."""
    return [
        EvalConfig(
            f"order_{_tool_name(order)}",
            "clue_order",
            {"clue_order": ",".join(order)},
            label=" > ".join(TOOL_ABBREVIATIONS[t] for t in order),
        )
        for order in itertools.permutations(CLUE_TOOLS)
        if order != CLUE_TOOLS
    ]


BASELINES = [
    EvalConfig(
        "first_candidate", "baseline", linker="first_candidate", label="always candidate #1"
    ),
    EvalConfig("embedder", "baseline", linker="embedder", label="embedder alone"),
    EvalConfig("dim", "baseline", linker="dim", label="DIM ranker alone"),
    EvalConfig("cross_encoder", "baseline", linker="cross_encoder", label="cross-encoder alone"),
    EvalConfig(
        "cross_encoder_dim",
        "baseline",
        {"ranker": "cross_encoder", "ranker_dim_weight": CROSS_DIM_WEIGHT},
        linker="cross_encoder",
        label=f"cross-encoder + DIM blend ({CROSS_DIM_WEIGHT:g}) alone",
    ),
    EvalConfig(
        "cross_encoder_nil",
        "baseline",
        {"ranker": "cross_encoder", "ranker_nil": True},
        linker="cross_encoder",
        label="cross-encoder alone, NIL rule",
    ),
    EvalConfig("combined", "baseline", linker="combined", label="combined first stage alone"),
]

# The base selector without its adapter, for comparison with the fine-tuned default.
ZERO_SHOT_SELECTOR = {"selector_adapter": "none"}
ALL_OFF = {"use_icr": False, "use_iav": False, "use_vif": False}

ZERO_SHOT = [
    EvalConfig(
        "tes_only_zeroshot",
        "zero_shot",
        {**ZERO_SHOT_SELECTOR, **ALL_OFF, "ranker": "none"},
        label="TES only, zero-shot SmolLM2, released candidates",
    ),
    EvalConfig(
        "full_zeroshot",
        "zero_shot",
        {**ZERO_SHOT_SELECTOR, "ranker": "none"},
        label="I2CR, zero-shot SmolLM2, released candidates",
    ),
]

# The zero-shot selector behind the trained DIM ranker (issue: DIM as a ranker before TES).
DIM_FIRST = {**ZERO_SHOT_SELECTOR, "ranker": "dim", "ranker_keep": 5}
RANKED = [
    EvalConfig(
        "tes_only_dim",
        "ranked",
        {**DIM_FIRST, **ALL_OFF},
        label="TES only, zero-shot SmolLM2, DIM keeps 5",
    ),
    EvalConfig("full_dim", "ranked", DIM_FIRST, label="I2CR, zero-shot SmolLM2, DIM keeps 5"),
]

# Issue 27: the default selector behind the trained cross-encoder (top 5), its ICR and NIL rules.
CROSS_FIRST = {"ranker": "cross_encoder", "ranker_keep": 5, "ranker_dim_weight": CROSS_DIM_WEIGHT}
CROSS_ENCODER = [
    EvalConfig("full_cross", "ranked", CROSS_FIRST, label="I2CR behind the cross-encoder + DIM"),
    EvalConfig(
        "full_cross_icr",
        "ranked",
        {**CROSS_FIRST, "icr_rule": "ranker_margin", "alpha": CROSS_ICR_ALPHA},
        label=f"I2CR behind the cross-encoder + DIM, ICR by its margin > {CROSS_ICR_ALPHA:g}",
    ),
    EvalConfig(
        "tes_only_cross_nil",
        "ranked",
        {**CROSS_FIRST, **ALL_OFF, "ranker_nil": True},
        label="TES only behind the cross-encoder + DIM, its NIL rule",
    ),
    EvalConfig(
        "full_cross_nil",
        "ranked",
        {**CROSS_FIRST, "ranker_nil": True},
        label="I2CR behind the cross-encoder + DIM, its NIL rule",
    ),
]

METHOD = [
    EvalConfig("full", "method", label="I2CR (defaults)"),
    EvalConfig(
        "full_nil",
        "method",
        {"nil_below": NIL_BELOW},
        label=f"I2CR, NIL below confidence {NIL_BELOW:g}",
    ),
    EvalConfig(
        "tes_only_nil",
        "method",
        {"nil_below": NIL_BELOW, "use_icr": False, "use_iav": False, "use_vif": False},
        label=f"TES only, NIL below confidence {NIL_BELOW:g}",
    ),
    EvalConfig(
        "full_always_ask",
        "method",
        {"selector_below": 1.0},
        label="I2CR, the selector asked on every mention",
    ),
    EvalConfig(
        "full_best_score", "method", {"fallback": "best_score"}, label="I2CR (fallback best_score)"
    ),
    EvalConfig(
        "all_in_one", "rounds", {"clue_rounds": "all_in_one"}, label="all clues in one round"
    ),
]

# Issue 20: what a try does with a repeated or unnamed answer, and the output ranking rule.
RULES = [
    EvalConfig(
        "full_reference_rule",
        "rules",
        {"unmatched_answer": "reference"},
        label="I2CR, unmatched answer stands (reference code)",
    ),
    EvalConfig(
        "full_fuzzy_rule",
        "rules",
        {"unmatched_answer": "fuzzy"},
        label="I2CR, unmatched answer -> closest open name (before issue 20)",
    ),
    EvalConfig(
        "full_checked_topk",
        "rules",
        {"unmatched_answer": "reference", "top_k_rule": "checked"},
        label="I2CR, unmatched answer stands, top-K by checked tries (paper)",
    ),
]

ALL_CONFIGS = [
    *BASELINES,
    *METHOD,
    *RULES,
    *ZERO_SHOT,
    *RANKED,
    *CROSS_ENCODER,
    *_switch_configs(),
    *_vif_tool_configs(),
    *_clue_order_configs(),
]

BY_NAME = {config.name: config for config in ALL_CONFIGS}

SUITES = {
    # `full` first: it runs against a cold selector cache, so its timing is the real one.
    "quick": ["full", "first_candidate", "embedder", "dim", "tes_only", "full_best_score"],
    "core": [
        "full",
        "first_candidate",
        "embedder",
        "dim",
        "full_best_score",
        "tes_only_zeroshot",
        "full_zeroshot",
        "tes_only_dim",
        "full_dim",
        "all_in_one",
        *(c.name for c in _switch_configs()),
    ],
    "rules": ["full", *(c.name for c in RULES)],
    "cross": [
        "cross_encoder",
        "cross_encoder_nil",
        "cross_encoder_dim",
        "first_candidate",
        "embedder",
        "dim",
        *(c.name for c in CROSS_ENCODER),
    ],
    # The default graph beside every first stage alone (the combined one is the default's).
    "first_stage": [
        "full",
        "first_candidate",
        "embedder",
        "dim",
        "cross_encoder",
        "cross_encoder_dim",
        "combined",
    ],
    "paper": [c.name for c in ALL_CONFIGS],
}


def resolve_configs(suite: str | None, names: list[str]) -> list[EvalConfig]:
    """The configurations of a suite and/or named ones, in order, each once."""
    if suite is not None and suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; known: {sorted(SUITES)}")
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown configurations {unknown}; known: {sorted(BY_NAME)}")
    chosen = [*(SUITES[suite] if suite else []), *names]
    return [BY_NAME[name] for name in dict.fromkeys(chosen)]
