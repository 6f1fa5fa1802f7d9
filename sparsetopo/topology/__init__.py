"""Topologies: which connections a sparse network has.

:mod:`.masks`   masks ``(n_out, n_in)`` bool, Erdős–Rényi graphs with exact edge counts, file formats
                (ours and the published ``epoch_EEE/weight_l<k>.npz`` layout), perturbations
:mod:`.layered` layers of any kind (linear ``(n_out, n_in)``, conv ``(c_out, c_in, kh, kw)``) and how they chain
:mod:`.modules` the topology of a ``torch.nn.Module`` or a saved ``state_dict``
:mod:`.sparse`  topologies as edge index sets (memory linear in edges): what training, SET and snapshots use

The names of :mod:`.masks` are available from this package directly.
"""

from .masks import *  # noqa: F401,F403
from .masks import __all__  # noqa: F401
