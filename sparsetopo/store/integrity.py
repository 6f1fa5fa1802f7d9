"""What makes a run folder complete: the names of :mod:`sparsetopo.integrity`, where they live.

The checks moved below the training package, which uses them while it trains; this module hands them on so
that ``sparsetopo.store.integrity`` keeps working.
"""

from ..integrity import (
    RESULT_KEYS,
    RunState,
    check_finite_record,
    check_run,
    discard_run_files,
    file_manifest,
    remove_debris,
    set_aside,
    verify_run,
    written_by_run,
)

__all__ = ["RunState", "check_run", "verify_run", "file_manifest", "discard_run_files", "written_by_run", "set_aside",
           "remove_debris", "check_finite_record", "RESULT_KEYS"]
