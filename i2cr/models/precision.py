"""Floating-point precision of the local models: bfloat16 where the hardware runs it fast.

CUDA GPUs and CPUs with AMX tiles run bfloat16 matmuls several times faster than float32.
AVX-512 BF16 alone is not enough: on such a CPU without AMX (an Intel Xeon VM, 1 thread)
bfloat16 was slower than float32, 1.6x for the selector reading a prompt and 3.3x for the
MiniLM embedder, so `auto` takes float32 there, as on every other CPU.
"""

from __future__ import annotations

import platform
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast, get_args

if TYPE_CHECKING:
    import torch

Precision = Literal["auto", "bfloat16", "float32"]
ResolvedPrecision = Literal["bfloat16", "float32"]

BF16_CPU_FLAGS = frozenset({"amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")
# transformers sets torch's default dtype while it builds a model, for the whole process: two
# models loading at once on two threads can get each other's dtype. Loads take this lock.
MODEL_LOADING = threading.RLock()


def cpu_flags(cpuinfo: str) -> set[str]:
    """The CPU feature flags listed in the text of /proc/cpuinfo."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            flags.update(value.split())
    return flags


@lru_cache(maxsize=1)
def cpu_supports_bfloat16() -> bool:
    """Whether this CPU runs bfloat16 matmuls faster than float32: it has AMX (Linux flags)."""
    if platform.system() != "Linux" or not CPUINFO.is_file():
        return False
    return bool(cpu_flags(CPUINFO.read_text(errors="replace")) & BF16_CPU_FLAGS)


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether torch sees a CUDA device (models are then placed on it)."""
    import torch

    return bool(torch.cuda.is_available())


def resolve_precision(precision: str) -> ResolvedPrecision:
    """The precision to run in: 'auto' is bfloat16 on CUDA or an AMX CPU, else float32."""
    if precision == "auto":
        return "bfloat16" if cuda_available() or cpu_supports_bfloat16() else "float32"
    if precision not in get_args(ResolvedPrecision):
        raise ValueError(f"precision={precision!r} must be one of {list(get_args(Precision))}")
    return cast(ResolvedPrecision, precision)


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a precision setting ('auto' resolved first)."""
    import torch

    return torch.bfloat16 if resolve_precision(precision) == "bfloat16" else torch.float32
