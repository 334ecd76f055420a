"""Small checks the modules share, so that bad input fails early with a message that says what was expected.

* ``is_int``: an int (or numpy integer) but not a bool: Python counts ``True`` as the int 1, never a count;
* ``is_number``: a real number (int, float, numpy scalar) that is not NaN and not a bool;
* ``check_token_ids``: a tensor of integer token IDs (the dtype only: one look at the tensor, no pass over it).
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["is_int", "is_number", "check_token_ids", "TOKEN_ID_DTYPES"]

# the index dtypes nn.Embedding accepts
TOKEN_ID_DTYPES = (torch.int64, torch.int32)


def is_int(value) -> bool:
    """True for an int or a numpy integer; False for a bool, a float (even 3.0) and anything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for a real number that is not NaN (inf is a number: range checks decide about it); False for a
    bool, a string, None, a tensor."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def check_token_ids(idx, name: str = "idx") -> torch.Tensor:
    """Raise a TypeError unless ``idx`` is a tensor of integer token IDs (torch.long or torch.int32). Checks
    the dtype, not the values: whether the IDs fit the vocabulary is the model's check."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of token IDs (torch.long), got {type(idx).__name__}; "
                        f"e.g. torch.tensor([ids])")
    if idx.dtype not in TOKEN_ID_DTYPES:
        raise TypeError(f"{name} must hold integer token IDs (torch.long), got dtype {idx.dtype}: a token ID "
                        f"picks a row of the embedding table; convert with .long() if the values are whole "
                        f"numbers")
    return idx
