"""What a notebook cell calls besides its study module: start, show a figure, show the answer, show prose.

Every notebook of the study starts with :func:`begin` and displays its figures
with :func:`show`, which stores each one as a PNG image (with a short alt
text) whatever matplotlib backend the kernel was started with: with
``MPLBACKEND=Agg`` in the environment the kernel registers no PNG formatter,
and ``display(fig)`` would store only the text ``<Figure size ...>``.
"""

from __future__ import annotations

import base64
import io
import time
import warnings
from typing import Any

from .findings import Findings, summary_markdown
from .prose import render

__all__ = ["begin", "show", "answer", "prose", "findings_table", "png_bytes"]


def begin(params: Any) -> float:
    """Apply the parameters' verbosity and executor, quieten notices that carry no information here,
    and return the start time (``time.perf_counter()``) for the notebook's wall time."""
    # tqdm falls back to text bars where ipywidgets is absent
    warnings.filterwarnings("ignore", message="IProgress not found")
    params.configure()
    return time.perf_counter()


def png_bytes(fig, dpi: int = 100) -> bytes:
    """``fig`` rendered as PNG (tight bounding box), independent of the active backend."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def show(fig, alt: str, *, dpi: int = 100) -> None:
    """Display ``fig`` as a PNG image whose text alternative is ``alt`` (one short sentence).

    The figure is closed in pyplot afterwards, so an inline backend does not
    display it a second time at the end of the cell; it can still be saved.
    """
    from IPython.display import display

    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must be a short sentence saying what the figure shows")
    bundle = {"image/png": base64.b64encode(png_bytes(fig, dpi=dpi)).decode("ascii"), "text/plain": alt.strip()}
    display(bundle, raw=True, metadata={"image/png": {"alt": alt.strip()}})
    import matplotlib.pyplot as plt

    plt.close(fig)  # a no-op for a Figure made without pyplot


def answer(findings: Findings) -> None:
    """Display the notebook's answer: its headline verdicts and every decided claim, from ``findings``."""
    from IPython.display import Markdown, display

    display(Markdown(summary_markdown(findings.to_dict())))


def prose(notebook: str, section: str, **context: Any) -> None:
    """Display the Markdown template ``templates/<notebook>/<section>.md`` filled from ``context``."""
    from IPython.display import Markdown, display

    display(Markdown(render(notebook, section, **context)))


def findings_table(findings: Findings, *, decided_only: bool = False, title: str = "Every claim of this notebook") -> None:
    """Display the findings table folded in a ``<details>`` block (open it to read every row).

    ``decided_only`` keeps the claims a rule decided (drops the ``n/a`` descriptions).
    """
    from IPython.display import HTML, display

    table = findings.table()
    if decided_only:
        table = table[table["verdict"] != "n/a"]
    html = table.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0, escape=True)
    display(HTML(f"<details><summary>{title} ({len(table)} rows)</summary>\n\n{html}\n</details>"))
