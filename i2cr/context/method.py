"""The method's run settings: thresholds, rounds, rules, ranking, switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from i2cr.context.kinds import MAX_CANDIDATE_COUNT, RankerKind
from i2cr.context.setting import setting
from i2cr.selection import FUZZY_MARGIN, FUZZY_MIN_SCORE


@dataclass(kw_only=True)
class MethodSettings:
    """The method's run settings: thresholds, rounds, rules, ranking, switches."""

    iav_without_encoder: Literal["text", "skip"] = setting(
        "text",
        "IAV when no image encoder or no image is available: 'text' scores the image's text "
        "clues against the entity description with the embedder (threshold beta_text), and "
        "where there is no clue yet the round asks VIF for one; 'skip' leaves the try to ICR's "
        "decision (passed: the answer; failed: the next clue round).",
    )
    alpha: float = setting(
        0.5,
        "ICR threshold: the try's `icr_rule` score must exceed it (chosen on WikiMEL dev by "
        "`i2cr eval sweep`, with the default selector).",
    )
    icr_rule: Literal["absolute", "margin", "zscore", "ranker_margin"] = setting(
        "absolute",
        "ICR's score: 'absolute' is cosine(mention side, entity side) (the paper); relative to "
        "the candidate set, 'margin' is that cosine minus the best one of the other candidates "
        "(alpha near 0, negative to let close seconds pass) and 'zscore' its standard score "
        "among all candidates' cosines. 'ranker_margin' (ranker='cross_encoder') is the "
        "cross-encoder's score of the try minus the best other candidate's, the round's clue "
        "read with the context (logits: alpha 0 passes only the ranker's first, negative ones "
        "close seconds).",
    )
    icr_all_failed: Literal["best_try", "nil"] = setting(
        "best_try",
        "When every try of a round fails ICR: keep the try with the best score (the method), or"
        " answer NIL (with `allow_nil`: no candidate is consistent).",
    )
    beta: float = setting(
        31.0, "IAV threshold on CLIP's logit scale (100 x cosine).", between=(-100.0, 100.0)
    )
    beta_text: float = setting(
        0.05,
        "IAV threshold (cosine) for the text stand-in of the image (chosen on WikiMEL dev by "
        "`i2cr eval sweep`, with the default selector).",
        between=(-1.0, 1.0),
    )
    k: int = setting(
        10,
        "Candidates retrieved from the knowledge graph.",
        at_least=1,
        at_most=MAX_CANDIDATE_COUNT,
    )
    max_reselect: int = setting(
        3, "Re-selections allowed per round after an ICR failure.", at_least=0
    )
    clue_order: str = setting(
        "ocr,caption,dense_caption,tags",
        "Image-to-text tools for the VIF rounds, in order, comma-separated.",
    )
    clue_rounds: Literal["one_per_round", "all_in_one"] = setting(
        "one_per_round",
        "VIF rounds: one tool's clue per round (the method), or every tool's clue together in a"
        " single round (the paper's all-clues ablation).",
    )
    fallback: Literal["text_only", "best_score"] = setting(
        "text_only",
        "Answer when every clue is spent and IAV never passed: the text-only round's entity "
        "(reference code) or the best-scoring try (paper).",
    )
    unmatched_answer: Literal["reference", "ranker", "fuzzy"] = setting(
        "ranker",
        "What a try does when the selector repeats an excluded entity or names no candidate: "
        "'reference' lets the answer stand, so the repeat fails ICR again and an unnamed answer"
        " fails as a try (the reference code); 'ranker' takes the first stage's best candidate "
        "not yet excluded; 'fuzzy' the open candidate whose name is closest to the answer "
        "(rapidfuzz WRatio, no threshold). 'ranker' was best on WikiMEL dev (`i2cr eval suite "
        "--suite rules`).",
    )
    fuzzy_min_score: float = setting(
        FUZZY_MIN_SCORE,
        "An answer matches a candidate name fuzzily only with a rapidfuzz WRatio of at least "
        "this (0-100).",
        between=(0.0, 100.0),
    )
    fuzzy_margin: float = setting(
        FUZZY_MARGIN,
        "A fuzzy match must also lead the next closest candidate name by this many WRatio points.",
        between=(0.0, 100.0),
    )
    top_k_rule: Literal["first_stage", "checked"] = setting(
        "first_stage",
        "Ranked output: 'first_stage' puts the answer first, then the candidates in the first "
        "stage's order; 'checked' (the paper) ranks the entities chosen across tries and rounds"
        " first, passed before failed, then the rest.",
    )
    top_k: int = setting(
        5, "Entities in the ranked output.", at_least=1, at_most=MAX_CANDIDATE_COUNT
    )
    allow_nil: bool = setting(False, "Let the selector answer NIL (entity not in the KG).")
    use_icr: bool = setting(True, "Run ICR (ablation switch).")
    use_iav: bool = setting(True, "Run IAV (ablation switch).")
    use_vif: bool = setting(True, "Run VIF (ablation switch).")
    desc_chars: int = setting(
        120,
        "Entity descriptions in the prompt keep whole sentences up to at least this many "
        "characters.",
        at_least=1,
    )
    kg_retrieval: Literal["fuzzy", "hybrid"] = setting(
        "fuzzy",
        "How mentions without candidates get them from the KG: 'fuzzy' names and aliases "
        "(rapidfuzz), or 'hybrid': aliases with priors, fuzzy names and the dense index of "
        "`i2cr kg embed` (when built) fused by reciprocal rank fusion (a store built with its "
        "alias priors; SQLite or PostgreSQL alike).",
    )
    ranker: RankerKind = setting(
        "combined",
        "First stage before TES (i2cr.rankers): 'combined' weighs every signal (the embedder's "
        "cosine, DIM, the cross-encoder, name similarity, the image clue's similarity) as "
        "fitted on WikiMEL val, and gives each candidate a calibrated confidence that the gate "
        "(`selector_below`) and NIL rule (`nil_below`) read; 'cross_encoder' and 'dim' are the "
        "trained rankers alone, 'embedder' the embedder's cosine of mention and entity text. "
        "All keep the best ranker_keep; candidates retrieved from the KG keep the search's "
        "order too (reciprocal rank fusion, all but 'dim'). 'none' keeps the given or "
        "retrieved order (the paper's setup).",
    )
    selector_below: float = setting(
        0.3,
        "Gate of the selector: ask it only when the first stage's calibrated confidence in its"
        " best candidate is below this, and otherwise answer that candidate with no language "
        "model at all; a pick of the selector other than the first stage's best is kept only "
        "when ICR and IAV passed on it. 1 asks on every mention (the paper's method); rankers "
        "without a confidence always ask. 0.3 was chosen on WikiMEL val: the highest value at "
        "which the default selector loses no mention there.",
        between=(0.0, 1.0),
    )
    nil_below: float = setting(
        0.0,
        "Answer NIL (entity not in the KG) when the answer's calibrated confidence is below "
        "this; 0 never does. Needs a ranker with a confidence (ranker='combined').",
        between=(0.0, 1.0),
    )
    ranker_dim_weight: float = setting(
        0.0,
        "ranker='cross_encoder': weight of the shipped DIM ranker's scores blended with the "
        "cross-encoder's, each standardised over the mention's candidates (0: the "
        "cross-encoder alone; 0.4 was best on WikiMEL dev). ICR's 'ranker_margin' reads the "
        "blend too; the NIL rule reads the cross-encoder's own scores.",
        between=(0.0, 1.0),
    )
    ranker_nil: bool = setting(
        False,
        "With allow_nil and ranker='cross_encoder': answer NIL, without asking the selector, "
        "when no candidate's cross-encoder score reaches the NIL threshold saved with its "
        "weights (learned by `i2cr cross nil --save`).",
    )
    ranker_keep: int = setting(
        5,
        "Candidates kept after the ranker re-orders them.",
        at_least=1,
        at_most=MAX_CANDIDATE_COUNT,
    )
