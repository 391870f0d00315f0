"""Precision of the local models: bfloat16 where the hardware has it, float32 elsewhere."""

from __future__ import annotations

import copy
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from langchain_core.messages import HumanMessage
from PIL import Image

from i2cr.context import Context
from i2cr.models import embedder, precision
from i2cr.models.chat import load_selector
from i2cr.models.clip import clip_scores, load_clip
from i2cr.models.embedder import embed, load_embedder
from i2cr.models.local_chat import LocalChatModel, load_causal_lm

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
CLIP_MODEL = "ViT-S-32"
# AVX-512 BF16 without AMX: bfloat16 is slower than float32 there.
CPUINFO_WITHOUT_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16\n"
TEXTS = [
    "Ed Rendell, American politician, governor of Pennsylvania",
    "Governor Ed Rendell announced the budget",
    "Don Rendell was an English jazz saxophonist.",
]


def dtype_of(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


@pytest.fixture
def cpu_without_bfloat16(monkeypatch):
    """This machine seen as a CPU without bfloat16 instructions and without CUDA."""
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: False)
    monkeypatch.setattr(precision, "cuda_available", lambda: False)


def test_cpuinfo_flags_decide_bfloat16_support():
    assert not precision.cpu_flags(CPUINFO_WITHOUT_BF16) & precision.BF16_CPU_FLAGS
    assert "amx_bf16" in precision.cpu_flags(CPUINFO_WITHOUT_BF16 + "flags : amx_bf16 avx2\n")


def test_auto_takes_float32_where_the_processor_lacks_bfloat16(cpu_without_bfloat16):
    assert precision.resolve_precision("auto") == "float32"
    assert dtype_of(load_embedder("minilm").model) == torch.float32
    assert precision.resolve_precision("bfloat16") == "bfloat16"


def test_auto_takes_bfloat16_on_a_bfloat16_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: True)
    monkeypatch.setattr(precision, "cuda_available", lambda: False)
    assert precision.resolve_precision("auto") == "bfloat16"
    assert precision.torch_dtype("auto") == torch.bfloat16


def test_precision_is_a_setting_with_an_environment_override(monkeypatch):
    monkeypatch.setenv("I2CR_PRECISION", "float32")
    assert Context().precision == "float32"
    with pytest.raises(ValueError, match="precision"):
        precision.resolve_precision("float16")


@pytest.mark.slow
def test_bfloat16_selector_has_bfloat16_weights_and_answers():
    selector = load_selector(Context(selector="local:smollm2", precision="bfloat16"))
    assert isinstance(selector, LocalChatModel) and selector.precision == "bfloat16"
    model, _ = load_causal_lm(selector.base, selector.adapter, "bfloat16")
    assert dtype_of(model) == torch.bfloat16
    assert selector.invoke([HumanMessage("Say yes.")]).content


def test_bfloat16_embeddings_are_close_to_float32():
    full = embed("minilm", TEXTS, precision="float32")
    half = embed("minilm", TEXTS, precision="bfloat16")
    assert dtype_of(load_embedder("minilm", "bfloat16").model) == torch.bfloat16
    assert half.dtype == np.float32
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    assert (np.sum(full * half, axis=1) > 0.99).all()


def test_bfloat16_clip_scores_are_close_to_float32_on_the_same_weights():
    model, preprocess, tokenizer = load_clip(CLIP_MODEL, "random", "bfloat16")
    assert dtype_of(model) == torch.bfloat16
    scores = clip_scores(CLIP_MODEL, "random", str(PHOTO), TEXTS, precision="bfloat16")
    full = copy.deepcopy(model).float()
    with torch.inference_mode(), Image.open(PHOTO) as image:
        image_vector = full.encode_image(preprocess(image.convert("RGB")).unsqueeze(0))[0]
        text_vectors = full.encode_text(tokenizer(TEXTS))
    expected = 100 * torch.nn.functional.cosine_similarity(text_vectors, image_vector[None])
    assert scores == pytest.approx(expected.tolist(), abs=1.0)


def test_a_bfloat16_embedding_does_not_depend_on_the_texts_embedded_with_it(monkeypatch):
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    together = embed("minilm", TEXTS, precision="bfloat16")
    embedder._embeddings.clear()
    alone = np.stack([embed("minilm", [text], precision="bfloat16")[0] for text in TEXTS])
    assert np.array_equal(together, alone)


def test_response_cache_keys_name_the_precision_that_runs(cpu_without_bfloat16):
    assert "precision" not in LocalChatModel()._identifying_params  # float32: keys as before
    assert LocalChatModel(precision="bfloat16")._identifying_params["precision"] == "bfloat16"
