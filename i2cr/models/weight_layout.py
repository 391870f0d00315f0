"""Weight layout for a causal LM on the CPU: the passes of a few tokens that decoding runs.

`nn.Linear` keeps its weight as (out, in) rows. For a pass over a few tokens (a greedy step,
a drafted continuation checked in one pass) MKL multiplies that layout about half as fast as
the same weight stored column-major: measured on a 1-thread Xeon (AVX-512), SmolLM2-135M's
vocabulary projection over 11 tokens took 35 ms against 18 ms, its MLP projections 0.5 ms
against 0.25 ms; a 400-token prompt read costs the same in both layouts.
"""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path
from typing import Any

import torch

_PAGE = mmap.PAGESIZE


def store_weights_column_major(model: Any) -> None:
    """Give every linear and embedding weight of `model` a column-major layout, in place.

    Values, shapes and ties (a vocabulary projection sharing the input embedding) are kept;
    only the strides change, so `F.linear` multiplies by a contiguous transposed weight. Every
    other parameter and buffer is copied too: a tensor left viewing the memory-mapped
    checkpoint would keep the whole file mapped, resident beside the copies.
    """
    relaid: dict[int, torch.nn.Parameter] = {}
    mapped = _file_mappings()
    for module in model.modules():
        if not isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            continue
        weight = module.weight
        if id(weight) not in relaid:
            column_major = weight.detach().t().contiguous().t()
            relaid[id(weight)] = torch.nn.Parameter(column_major, requires_grad=False)
            _release_pages(weight, mapped)
        module.weight = relaid[id(weight)]
    kept = {id(weight) for weight in relaid.values()}
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) not in kept:
            tensor.data = tensor.data.clone()


def _release_pages(tensor: torch.Tensor, mapped: list[tuple[int, int]]) -> None:
    """Let Linux drop the pages of a weight read from a memory-mapped checkpoint, now copied.

    The checkpoint stays mapped until its last tensor is copied: without this, the copies
    and the file's pages would be resident together, doubling the peak memory of a load.
    Only a storage of this tensor alone, in a mapped file, and only its whole pages: those
    are never read again (a re-read would see the file, not an adapter merged into it).
    """
    storage = tensor.untyped_storage()
    if storage.nbytes() != tensor.numel() * tensor.element_size():
        return
    start = storage.data_ptr()
    first = -(-start // _PAGE) * _PAGE
    last = (start + storage.nbytes()) // _PAGE * _PAGE
    if last > first and any(low <= start < high for low, high in mapped):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), mmap.MADV_DONTNEED)


def _file_mappings() -> list[tuple[int, int]]:
    """The address ranges of this process mapping regular files (Linux; [] elsewhere)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    ranges = []
    for line in maps:
        span, _, _, _, inode, *path = line.split()
        if inode != "0" and path and path[0].startswith("/"):
            low, high = span.split("-")
            ranges.append((int(low, 16), int(high, 16)))
    return ranges
