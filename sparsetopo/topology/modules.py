"""Topologies of PyTorch models: read from an ``nn.Module`` or a saved ``state_dict``.

The layers read are ``torch.nn.Linear`` (a 2-D mask ``(n_out, n_in)``) and
``torch.nn.Conv2d`` (a 4-D mask ``(out_channels, in_channels, kh, kw)``), in
forward order; see :mod:`sparsetopo.topology.layered` for what a neuron and its input
set are. Each layer's mask comes from the first of these that exists:

``"weight_mask"``
    the ``weight_mask`` buffer that ``torch.nn.utils.prune`` adds (in a
    ``state_dict`` the weight is then stored as ``weight_orig``);
``"mask"``
    the ``mask`` buffer of sparsetopo's own masked layers
    (:class:`sparsetopo.model.MaskedLinear`);
``"nonzero"``
    the non-zero pattern of the weight (checkpoints of sparse-training
    libraries that store absent weights as zeros, or a pruned model after
    ``prune.remove``).

:class:`ModelTopology` records which source took effect per layer and how the
order was found. Only chains are read: a model in which a layer reads the
output of more than one layer (residual connections, branches) is refused,
because NNSTD renumbers each layer's inputs by the previous layer's matching
alone, and a skip connection would require one permutation to agree across
every layer it joins.

What proves a chain
-------------------
A module's forward pass is traced with ``torch.fx``: a layer that reads
anything but the previous layer's output is refused. A ``state_dict`` records
no data flow, so its layers are accepted in key order only when their shapes
rule out a skip connection or parallel branches: an identity skip, or two
branches joined by a sum, needs two points of the chain with the same width
(channels, or features), so a chain whose widths are all different is proven;
otherwise the reader asks for the module (traced) or for the order given
explicitly (``layers=[...]``, ``--layers``), which states that the layers form
that chain. The same rule applies to a module ``torch.fx`` cannot trace.

Refused, with the reason: layers other than ``Linear`` and ``Conv2d`` (an
``Embedding`` table, ``Conv1d``, an LSTM's or attention's weights, any other
2-D or larger tensor), grouped and transposed convolutions, masks whose shape
differs from their weight, and entries that should be tensors but are not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import one_line, refused_pickle
from .layered import as_layers, describe_layer, input_blocks, summarize_layer

if TYPE_CHECKING:  # annotations only
    import pandas as pd
    import torch

__all__ = [
    "SOURCES",
    "ModelTopology",
    "topology_from_module",
    "topology_from_state_dict",
    "load_state_dict_topology",
]

SOURCES = {
    "weight_mask": "torch.nn.utils.prune weight_mask",
    "mask": "stored mask buffer",
    "nonzero": "non-zero weights",
}
"""What each mask source means, for messages and reports."""

# Parts of layer names that mark a skip connection in common residual networks.
_RESIDUAL_NAMES = ("downsample", "shortcut", "skip", "residual")

_INPUT = "<input>"


@dataclass(frozen=True, eq=False)
class ModelTopology:
    """The sparse topology of a chain of linear and convolutional layers.

    Attributes
    ----------
    masks : tuple of np.ndarray
        Per layer, bool ``(n_out, n_in)`` or ``(out_channels, in_channels, kh, kw)``.
    names : tuple of str
        Module names (``named_modules``) or ``state_dict`` key prefixes.
    sources : tuple of str
        Per layer, a key of :data:`SOURCES`: where the mask came from.
    order : str
        How the layer order was found: ``"forward"`` (traced with
        ``torch.fx``), ``"registration"`` (module registration order, when
        the model cannot be traced), ``"keys"`` (``state_dict`` key order) or
        ``"given"``.
    """

    masks: tuple
    names: tuple
    sources: tuple
    order: str

    def __len__(self) -> int:
        return len(self.masks)

    def __repr__(self) -> str:
        layers = "; ".join(f"{n}: {summarize_layer(m)}" for n, m in zip(self.names, self.masks))
        return f"ModelTopology({len(self.masks)} layers [{layers}], order={self.order!r})"

    def describe(self) -> str:
        """One line: layers with their kind and shape, the mask sources, the order."""
        layers = ", ".join(f"{n} ({describe_layer(m)})" for n, m in zip(self.names, self.masks))
        used = sorted(set(self.sources), key=list(SOURCES).index)
        return f"{len(self.masks)} layers [{layers}]; masks from {' + '.join(SOURCES[s] for s in used)}; order: {self.order}"

    def frame(self) -> pd.DataFrame:
        """One row per layer: name, kind, shape, edges, density, mask source."""
        import pandas as pd

        return pd.DataFrame(
            {
                "layer": list(self.names),
                "kind": [describe_layer(m).split()[0] for m in self.masks],
                "shape": ["x".join(map(str, m.shape)) for m in self.masks],
                "edges": [int(m.sum()) for m in self.masks],
                "density": [float(m.mean()) for m in self.masks],
                "mask source": [SOURCES[s] for s in self.sources],
            }
        )


# ---------------------------------------------------------------------------
# chain checks shared by both readers
# ---------------------------------------------------------------------------


def _check_chain(names: Sequence[str], masks: Sequence[np.ndarray], where: str, hint: str,
                 *, shapes_only: bool = False) -> list[np.ndarray]:
    """Validate that the layers chain; errors name the layers, not their indices.

    ``shapes_only``: the layer kinds are known from shapes alone (a state_dict),
    so a 4-D weight that fits as a grouped or transposed convolution is
    refused as such, rather than with advice to reorder the layers.
    """
    if not masks:
        raise ValueError(f"{where} has no Linear or Conv2d layer (2-D or 4-D weight), so there is no topology to read")
    try:
        masks = as_layers(masks, name=where)
        input_blocks(masks, name=where)
    except ValueError as err:
        if shapes_only:
            _refuse_unrepresentable_conv(names, masks, where)
        numbered = ", ".join(f"{k}={n}" for k, n in enumerate(names))
        raise ValueError(f"{err} (layers: {numbered}){hint}") from None
    return masks


def _refuse_unrepresentable_conv(names: Sequence[str], masks: Sequence[np.ndarray], where: str) -> None:
    """Where a 4-D weight does not chain, say if it fits as a grouped or a transposed convolution."""
    for k in range(1, len(masks)):
        shape, previous = np.shape(masks[k]), np.shape(masks[k - 1])
        channels = previous[0]
        if len(shape) != 4 or len(previous) != 4 or shape[1] == channels:
            continue
        looks = []
        if shape[1] and channels % shape[1] == 0 and shape[0] % (channels // shape[1]) == 0:
            looks.append(f"a grouped convolution (groups={channels // shape[1]}), whose output channels read "
                         "different input channels")
        if shape[0] == channels:
            looks.append("a ConvTranspose2d weight (in_channels first), which spreads each input over an output window")
        if looks:
            raise ValueError(
                f"{where}: layer '{names[k]}' {tuple(shape)} does not read the {channels} channels of "
                f"'{names[k - 1]}' as a convolution: it looks like {' or like '.join(looks)}; NNSTD's input sets "
                "represent neither, so only Conv2d with groups=1 can be read"
            )


def _require_proven_chain(names: Sequence[str], masks: Sequence[np.ndarray], where: str, why: str,
                          *, module_hint: bool = True) -> None:
    """Refuse a layer order that only the shapes support when two points of the chain have the same width.

    An identity skip connection, or two branches joined by a sum, connects
    two points of equal width; a chain whose widths all differ has neither.
    """
    points = [(("conv" if np.ndim(masks[0]) == 4 else "linear"), int(np.shape(masks[0])[1]), "the input")]
    points += [(("conv" if np.ndim(m) == 4 else "linear"), int(np.shape(m)[0]), f"'{n}'") for n, m in zip(names, masks)]
    seen: dict[tuple, str] = {}
    for kind, width, label in points:
        if (kind, width) in seen:
            first = seen[(kind, width)]
            unit = "channels" if kind == "conv" else "features"
            read_module = ("Read the model itself (sparsetopo.topology.modules.topology_from_module(model) traces "
                           "its forward pass), or, if" if module_hint else "If")
            raise ValueError(
                f"{where}: the layer shapes do not prove a chain ({why}): {first} and the output of {label} both "
                f"have {width} {unit}, so an identity skip connection or parallel branches could join them, "
                f"and NNSTD of such a network would be wrong. {read_module} the layers do form a chain in this "
                f"order, say so by giving it: layers=[...] (--layers {','.join(names)})"
            )
        seen[(kind, width)] = "the input" if label == "the input" else f"the output of {label}"


def _refuse_residual(names: Sequence[str], where: str) -> None:
    for name in names:
        parts = name.lower().split(".")
        if any(p in _RESIDUAL_NAMES for p in parts):
            raise ValueError(
                f"{where}: layer '{name}' looks like the projection of a residual (skip) connection; NNSTD "
                "renumbers each layer's inputs by the previous layer's matching, and a skip connection would "
                "need one neuron permutation to agree across all the layers it joins, so only chains of "
                "layers (LeNet/VGG-like networks) are supported"
            )


# ---------------------------------------------------------------------------
# nn.Module
# ---------------------------------------------------------------------------


def _module_mask(module) -> tuple[np.ndarray, str]:
    import torch

    weight = module.weight
    for source in ("weight_mask", "mask"):
        mask = getattr(module, source, None)
        if not torch.is_tensor(mask):
            continue
        if mask.shape != weight.shape:
            raise ValueError(f"its {source} has shape {tuple(mask.shape)} but its weight has {tuple(weight.shape)}; "
                             "a mask must have its weight's shape")
        return mask.detach().cpu().numpy() != 0, source
    values = weight.detach().cpu().numpy()
    if np.issubdtype(values.dtype, np.floating) and np.isnan(values).any():
        raise ValueError(f"layer weight of shape {tuple(values.shape)} contains NaN; a topology needs finite weights")
    return values != 0, "nonzero"


def _layer_modules(model) -> list[tuple[str, Any]]:
    from torch import nn

    layers = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            if isinstance(module, nn.Conv2d) and module.groups != 1:
                raise ValueError(
                    f"layer '{name}' is a grouped convolution (groups={module.groups}); its output channels read "
                    "different input channels, which NNSTD's input sets do not represent; only groups=1 is supported"
                )
            layers.append((name, module))
            continue
        if isinstance(module, nn.ConvTranspose2d):
            raise ValueError(
                f"layer '{name}' is a transposed convolution (ConvTranspose2d); it spreads each input over an output "
                "window, which NNSTD's input sets do not represent; only Linear and Conv2d layers can be read"
            )
        own = [p for p in module.parameters(recurse=False) if p.ndim >= 2]
        if own and not _inside_layer(name, layers):
            raise ValueError(
                f"module '{name}' ({type(module).__name__}) has {own[0].ndim}-D weights; only Linear and Conv2d "
                "layers can be read (replace or remove the others before comparing topologies)"
            )
    return layers


def _inside_layer(name: str, layers: Sequence[tuple[str, Any]]) -> bool:
    return any(name.startswith(f"{parent}.") for parent, _ in layers)


def _forward_order(model, layers: list[tuple[str, Any]]) -> tuple[list[str], str]:
    """Layer names in forward order (torch.fx), checking that they form a chain."""
    from torch import fx, nn

    class _LayerTracer(fx.Tracer):
        def is_leaf_module(self, module, qualname):  # our masked layers are leaves too
            return isinstance(module, (nn.Linear, nn.Conv2d)) or super().is_leaf_module(module, qualname)

    try:
        graph = _LayerTracer().trace(model)
    except Exception as err:  # any tracing failure: registration order, if the shapes prove it a chain
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return [name for name, _ in layers], f"registration (torch.fx could not trace the model: {reason[:120]})"
    layer_names = {name for name, _ in layers}
    feeds: dict[Any, frozenset] = {}
    order: list[str] = []
    for node in graph.nodes:
        below = frozenset().union(*(feeds.get(n, frozenset()) for n in node.all_input_nodes)) if node.all_input_nodes else frozenset()
        if node.op == "placeholder":
            feeds[node] = frozenset({_INPUT})
        elif node.op == "call_module" and node.target in layer_names:
            if node.target in order:
                raise ValueError(
                    f"layer '{node.target}' is called more than once in forward (shared weights); only chains "
                    "in which every layer is used once are supported"
                )
            expected = order[-1] if order else _INPUT
            if below != {expected}:
                readers = " and ".join(sorted(f"'{b}'" if b != _INPUT else "the model input" for b in below)) or "nothing"
                if len(below) > 1:
                    raise ValueError(
                        f"layer '{node.target}' reads the outputs of {readers}: a residual (skip) connection or "
                        "branch; NNSTD renumbers each layer's inputs by the previous layer's matching, and a skip "
                        "connection would need one neuron permutation to agree across all the layers it joins, so "
                        "only chains of layers (LeNet/VGG-like networks) are supported"
                    )
                raise ValueError(
                    f"layer '{node.target}' reads {readers} instead of "
                    f"{'the model input' if expected == _INPUT else repr(expected)}; only chains of layers are supported"
                )
            order.append(node.target)
            feeds[node] = frozenset({node.target})
        elif node.op == "output":
            if order and below != {order[-1]}:
                readers = " and ".join(sorted(f"'{b}'" if b != _INPUT else "the model input" for b in below))
                raise ValueError(
                    f"the model's output combines {readers}: a residual (skip) connection or branch; only chains "
                    "of layers (LeNet/VGG-like networks) are supported"
                )
        else:
            feeds[node] = below
    return order, "forward"


def topology_from_module(model: torch.nn.Module, *, layers: Sequence[str] | None = None) -> ModelTopology:
    """Topology of the ``Linear`` and ``Conv2d`` layers of a model, in forward order.

    Parameters
    ----------
    model : torch.nn.Module
        Possibly pruned with ``torch.nn.utils.prune``, built from
        :class:`sparsetopo.model.MaskedLinear`, or with zeros for absent
        weights.
    layers : sequence of str, optional
        Module names in forward order; default: traced with ``torch.fx``
        (falling back to registration order when the model cannot be traced
        and the layer shapes prove a chain; see the module docstring).

    Returns
    -------
    ModelTopology

    Raises
    ------
    ValueError
        For residual connections or branches, layers used twice, grouped or
        transposed convolutions, other modules with 2-D+ weights (``Conv1d``,
        ``Embedding``, ...), masks of another shape than their weight, unknown
        names in ``layers``, layers whose shapes do not chain, or an
        untraceable model whose shapes do not prove a chain (give ``layers``).
    """
    found = _layer_modules(model)
    by_name = dict(found)
    where = f"model {type(model).__name__}"
    if layers is not None:
        unknown = [n for n in layers if n not in by_name]
        if unknown:
            raise ValueError(f"layers {unknown} are not Linear/Conv2d modules of {where}; available: {list(by_name)}")
        names, order = list(layers), "given"
    else:
        names, order = _forward_order(model, found)
    _refuse_residual(names, where)
    masks, sources = [], []
    for name in names:
        try:
            mask, source = _module_mask(by_name[name])
        except ValueError as err:
            raise ValueError(f"{where}: layer '{name}': {err}") from None
        masks.append(mask)
        sources.append(source)
    masks = _check_chain(names, masks, where, "")
    if order.startswith("registration"):
        _require_proven_chain(names, masks, where, order.partition("(")[2].rstrip(")") or "no trace",
                              module_hint=False)
    return ModelTopology(masks=tuple(masks), names=tuple(names), sources=tuple(sources), order=order)


# ---------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------


def _to_numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def topology_from_state_dict(
    state_dict: Mapping[str, Any],
    *,
    layers: Sequence[str] | None = None,
    where: str = "state_dict",
) -> ModelTopology:
    """Topology of the linear and convolutional layers stored in a ``state_dict``.

    A layer is a key prefix with a 2-D or 4-D ``<prefix>.weight`` or
    ``<prefix>.weight_orig`` (``torch.nn.utils.prune``). Its mask is
    ``<prefix>.weight_mask``, else ``<prefix>.mask``, else the non-zero
    pattern of the weight.

    Layers saved in sparsetopo's sparse weight-file layout (``<prefix>.values``,
    ``<prefix>.index`` flat positions, ``<prefix>.shape``; see
    ``SparseMLP.weight_file_state_dict``) are read as a dense weight and mask
    in their place (memory ``n_out * n_in``: for layers an analysis can hold).

    A state_dict holds no data flow: the key order is accepted only when the
    layer shapes prove a chain (all widths different; see the module
    docstring), or when ``layers`` gives the order. Otherwise read the model
    itself with :func:`topology_from_module`, which checks the chain on the
    traced forward pass.

    Parameters
    ----------
    state_dict : mapping of str to tensors or arrays
    layers : sequence of str, optional
        Layer prefixes in forward order; default: the order of the keys
        (``state_dict`` keeps module registration order, which is forward
        order for sequential models).
    where : str
        Name used in error messages (e.g. the file).

    Returns
    -------
    ModelTopology

    Raises
    ------
    ValueError
        When no layer is found; names look like residual projections
        (``downsample``, ``shortcut``) or embeddings; a tensor of two or more
        dimensions is not the weight of a Linear or Conv2d layer (3-D or 5-D
        weights, LSTM or attention weights); a ``.weight`` entry is not a
        tensor; a mask's shape differs from its weight; a convolution looks
        grouped or transposed; ``layers`` names an unknown prefix; the layers
        do not chain in the order used; or, in key order, the shapes do not
        prove a chain (the message says what would: the module, or ``layers``).
    """
    state_dict = _expand_sparse_layout(state_dict)
    prefixes = _state_dict_layers(state_dict, where)
    if layers is not None:
        unknown = [n for n in layers if n not in prefixes]
        if unknown:
            raise ValueError(f"{where}: layers {unknown} have no 2-D/4-D weight; available: {list(prefixes)}")
        names, order = list(layers), "given"
    else:
        names, order = list(prefixes), "keys"
    _refuse_residual(names, where)
    masks, sources = [], []
    for name in names:
        weight_key = prefixes[name]
        weight_shape = tuple(state_dict[weight_key].shape)
        for leaf, source in (("weight_mask", "weight_mask"), ("mask", "mask")):
            mask = state_dict.get(f"{name}.{leaf}")
            if mask is None:
                continue
            if not hasattr(mask, "shape"):
                raise ValueError(f"{where}: '{name}.{leaf}' is a {type(mask).__name__}, not a tensor; a mask must be "
                                 "a tensor of the weight's shape")
            if tuple(mask.shape) != weight_shape:
                raise ValueError(
                    f"{where}: '{name}.{leaf}' has shape {tuple(mask.shape)} but '{weight_key}' has {weight_shape}; "
                    "a mask must have its weight's shape (was it transposed, or saved from another model?)"
                )
            masks.append(_to_numpy(mask) != 0)
            sources.append(source)
            break
        else:
            weight = _to_numpy(state_dict[weight_key])
            if np.issubdtype(weight.dtype, np.floating) and np.isnan(weight).any():
                raise ValueError(f"{where}: '{weight_key}' contains NaN; a topology needs finite weights")
            masks.append(weight != 0)
            sources.append("nonzero")
    if order == "keys":
        masks = _check_chain(names, masks, where, _KEY_ORDER_HINT, shapes_only=True)
        _require_proven_chain(names, masks, where, "the state_dict records no data flow")
    else:
        masks = _check_chain(names, masks, where, "", shapes_only=True)
    return ModelTopology(masks=tuple(masks), names=tuple(names), sources=tuple(sources), order=order)


_KEY_ORDER_HINT = (
    "; the layers cannot be ordered from the state_dict's keys: if the model is a chain, give the order explicitly "
    "(layers=[...], or --layers NAME,NAME,... on the command line); if it has branches or skip connections, "
    "its topology cannot be compared with NNSTD"
)
# key leaves that belong to a Linear/Conv2d layer read here (or to pruning), and those of harmless 1-D state
_LAYER_LEAVES = ("weight", "weight_orig", "weight_mask", "mask")
_EMBEDDING_NAMES = ("embed", "embedding", "embeddings", "wte", "wpe", "tok_embeddings")


def _expand_sparse_layout(state_dict: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state_dict`` with every sparse-layout layer (``values``/``index``/``shape``) as ``weight`` and ``mask``, in key order."""
    sparse = {k[: -len(".index")] for k in state_dict if isinstance(k, str) and k.endswith(".index")
              and f"{k[: -len('.index')]}.shape" in state_dict and f"{k[: -len('.index')]}.values" in state_dict}
    if not sparse:
        return state_dict
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix not in sparse:
            out[key] = value
        elif leaf == "values":
            n_out, n_in = (int(v) for v in _to_numpy(state_dict[f"{prefix}.shape"]))
            index = _to_numpy(state_dict[f"{prefix}.index"]).astype(np.int64)
            weight = np.zeros(n_out * n_in, dtype=_to_numpy(value).dtype)
            weight[index] = _to_numpy(value)
            mask = np.zeros(n_out * n_in, dtype=bool)
            mask[index] = True
            out[f"{prefix}.weight"] = weight.reshape(n_out, n_in)
            out[f"{prefix}.mask"] = mask.reshape(n_out, n_in)
        elif leaf not in ("index", "shape"):
            out[key] = value
    return out


def _state_dict_layers(state_dict: Mapping[str, Any], where: str) -> dict[str, str]:
    """``{prefix: weight key}`` of the Linear/Conv2d layers of a state_dict, in key order; refuses the rest."""
    prefixes: dict[str, str] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: key {key!r} is a {type(key).__name__}; a state_dict maps names (str) to tensors")
        prefix, _, leaf = key.rpartition(".")
        if not hasattr(value, "shape"):
            if leaf in _LAYER_LEAVES:
                raise ValueError(
                    f"{where}: '{key}' is a {type(value).__name__}, not a tensor; a layer's weight must be a tensor "
                    "(is this a state_dict? save model.state_dict())"
                )
            continue  # metadata (an epoch number, a config) beside the tensors
        ndim = len(value.shape)
        if ndim < 2:
            continue
        if leaf not in _LAYER_LEAVES:
            raise ValueError(
                f"{where}: '{key}' is a {ndim}-D tensor {tuple(value.shape)} that is not the weight of a Linear or "
                "Conv2d layer (an LSTM, attention or a parameter used directly?); only chains of Linear and Conv2d "
                "layers can be read"
            )
        if leaf not in ("weight", "weight_orig"):
            continue  # masks are read with their weight
        if ndim not in (2, 4):
            kind = {3: "Conv1d", 5: "Conv3d"}.get(ndim, "unknown layer")
            raise ValueError(
                f"{where}: '{key}' is a {ndim}-D weight ({kind}); only Linear (2-D) and Conv2d (4-D) layers can be read"
            )
        last = prefix.rpartition(".")[2].lower()
        if ndim == 2 and any(last == n or last.startswith(n) or last.endswith(n) for n in _EMBEDDING_NAMES):
            raise ValueError(
                f"{where}: '{key}' {tuple(value.shape)} looks like an embedding table (nn.Embedding), a lookup "
                "rather than a layer of neurons with input sets; only Linear and Conv2d layers can be read"
            )
        prefixes.setdefault(prefix, key)
    return prefixes


def load_state_dict_topology(path: str | os.PathLike, *, layers: Sequence[str] | None = None) -> ModelTopology:
    """:func:`topology_from_state_dict` of a file saved with ``torch.save``.

    The file is loaded with ``weights_only=True`` (no code is executed). A
    checkpoint dictionary with a ``'state_dict'`` or ``'model'`` entry is
    unwrapped.

    Raises
    ------
    ValueError
        When the file cannot be read as a state_dict, or as in
        :func:`topology_from_state_dict`.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = refused_pickle(err, path, "state_dict")
        if refused is not None:
            raise refused from None
        raise ValueError(f"{path}: cannot be read as a PyTorch state_dict (not a file torch.save wrote, or "
                         "truncated)") from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        first_line = one_line(str(err).strip().splitlines()[0]) if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: cannot be read as a PyTorch state_dict ({first_line[:160]})") from None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state_dict; save model.state_dict() "
                         "(a dict of tensors) with torch.save")
    return topology_from_state_dict(obj, layers=layers, where=str(path))
