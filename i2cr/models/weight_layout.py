"""Weight layout for a causal LM on the CPU: the passes of a few tokens that decoding runs.

`nn.Linear` keeps its weight as (out, in) rows. For a pass over a few tokens (a greedy step,
a drafted continuation checked in one pass) MKL multiplies that layout about half as fast as
the same weight stored column-major: measured on a 1-thread Xeon (AVX-512), SmolLM2-135M's
vocabulary projection over 11 tokens took 35 ms against 18 ms, its MLP projections 0.5 ms
against 0.25 ms; a 400-token prompt read costs the same in both layouts.
"""

from __future__ import annotations

from typing import Any

import torch


def store_weights_column_major(model: Any) -> None:
    """Give every linear and embedding weight of `model` a column-major layout, in place.

    Values, shapes and ties (a vocabulary projection sharing the input embedding) are kept;
    only the strides change, so `F.linear` multiplies by a contiguous transposed weight.
    """
    relaid: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        if not isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            continue
        weight = module.weight
        if id(weight) not in relaid:
            column_major = weight.detach().t().contiguous().t()
            relaid[id(weight)] = torch.nn.Parameter(column_major, requires_grad=False)
        module.weight = relaid[id(weight)]
