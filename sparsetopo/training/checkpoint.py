"""Training checkpoints that load with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain containers (dicts, lists, strings,
numbers), so loading one never runs code: a file that holds anything else
(a pickled payload planted in a run folder, say) is refused with
:class:`~sparsetopo.errors.UnsafeFileError` instead of being executed.
State that is not a tensor by nature travels as text: numpy's generator state
and the per-epoch records as JSON strings, the explored edges as int64
tensors of sorted flat positions per layer (format 3; format 2 held dense
bool masks and still loads).
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import atomic
from ..errors import DamagedRunError, one_line, refused_pickle

__all__ = ["save_checkpoint", "load_checkpoint", "safe_torch_load"]

FORMAT = 4
# 2: explored edges as dense bool masks; 3: as sorted flat positions (int64); 4: the mask updater's state
# (any method's) instead of SET's generator alone
_READABLE_FORMATS = (2, 3, 4)
_KEYS = ("epoch", "model", "optimizer", "scheduler", "shuffle_gen", "ever_active", "records")


def safe_torch_load(path: str | os.PathLike, *, what: str = "file") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises
    ------
    UnsafeFileError
        The file holds objects other than tensors and plain containers.
    DamagedRunError
        The file is missing, truncated or not a PyTorch file.
    """
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = refused_pickle(err, path, what)
        if refused is not None:
            raise refused from None
        raise DamagedRunError(path, f"cannot be read as a PyTorch {what} (not a PyTorch file, or truncated)") from None
    except FileNotFoundError:
        raise DamagedRunError(path, f"the {what} is missing") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        first = one_line(str(err).strip().splitlines()[0]) if str(err).strip() else type(err).__name__
        raise DamagedRunError(path, f"cannot be read as a PyTorch {what} ({first[:160]}); the file is truncated or corrupt") from None


def save_checkpoint(
    path: str | os.PathLike,
    *,
    epoch: int,
    model: dict,
    optimizer: dict,
    scheduler: dict,
    shuffle_gen: Any,
    updater: dict,
    ever_active: Sequence[np.ndarray],
    records: list[dict[str, Any]],
) -> None:
    """Write a checkpoint atomically in the ``weights_only``-safe form.

    ``updater``: the mask updater's ``state_dict()`` (plain values, stored as JSON); ``ever_active``: per
    layer, the sorted flat positions (int64) of every edge ever active.
    """
    import torch

    atomic.torch_save(
        {
            "format": FORMAT,
            "epoch": int(epoch),
            "model": model,
            "optimizer": optimizer,
            "scheduler": scheduler,
            "shuffle_gen": shuffle_gen,
            "updater": json.dumps(updater),
            "ever_active": [torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for a in ever_active],
            "records": json.dumps(records, default=atomic._json_default),
        },
        path,
    )


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    dict
        ``epoch``, ``model``, ``optimizer``, ``scheduler``, ``shuffle_gen``
        (a ByteTensor), ``updater`` (the mask updater's state dict; a format-2 or 3
        file's SET generator state becomes ``{"rng": state}``),
        ``ever_active`` (list of sorted int64 arrays of flat positions; a
        format-2 file's dense bool masks are converted), ``records`` (list of dicts).

    Raises
    ------
    UnsafeFileError, DamagedRunError
        See :func:`safe_torch_load`; also a file of another layout.
    """
    path = Path(path)
    obj = safe_torch_load(path, what="checkpoint")
    needed = _KEYS + (("updater",) if isinstance(obj, dict) and obj.get("format") == FORMAT else ("set_rng",))
    if not isinstance(obj, dict) or obj.get("format") not in _READABLE_FORMATS or any(k not in obj for k in needed):
        raise DamagedRunError(
            path,
            "not a checkpoint of this version of sparsetopo (missing entries); delete it to restart the run from epoch 0",
        )
    try:
        out = dict(obj)
        if obj["format"] == FORMAT:
            out["updater"] = json.loads(obj["updater"])
        else:
            out["updater"] = {"rng": json.loads(out.pop("set_rng"))}
        out["records"] = json.loads(obj["records"])
        if obj["format"] == 2:
            out["ever_active"] = [np.flatnonzero(t.numpy().astype(bool).ravel()) for t in obj["ever_active"]]
        else:
            out["ever_active"] = [t.numpy().astype(np.int64) for t in obj["ever_active"]]
        out["epoch"] = int(obj["epoch"])
    except (TypeError, ValueError, AttributeError) as err:
        raise DamagedRunError(path, f"checkpoint entries are malformed ({err}); delete it to restart the run") from None
    return out
