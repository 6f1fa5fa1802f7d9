"""The paper study: one module per notebook, plus findings, figures and the runner.

Every notebook module exposes the same small API, and its notebook calls only
that (plus ``display``)::

    params = module.Parameters.from_namespace(globals())  # frozen, validated before any work
    result = module.run(params)                            # computes through the library and the run store
    findings = module.claims(result)                       # every claim and verdict, and the figures' numbers
    figs = module.figures(result)                          # name -> matplotlib Figure
    notes = module.notes(result)                           # sentences of measured numbers for the text
    findings.save_figures(figs); findings.write()          # figures/<notebook>/ and findings.json

============================  ==========================================================
module                        notebook / role
============================  ==========================================================
:mod:`.nnstd_behaviour`       ``01_nnstd``: what NNSTD measures, does it behave like a distance
:mod:`.sparse_vs_dense`       ``02_sparse_vs_dense``: static sparse MLPs against dense
:mod:`.set_trajectories`      ``03_evolution``: the topologies SET runs travel through
:mod:`.lottery_tickets`       ``04_lottery_tickets``: tickets, their controls and their cost
:mod:`.any_model`             ``05_any_model``: NNSTD of pruned CNNs of different widths
:mod:`.verdicts`              verdict rules (margins fixed in advance), intervals over networks, convergence
:mod:`.params`                ``StudyParameters``: each notebook's parameters, checked before any work
:mod:`.report`                the README's findings tables, generated from ``figures/*/findings.json``
:mod:`.published`             the topologies published with the paper's NNSTD code
:mod:`.params`                the parameters dataclass every notebook module extends, and its checks
:mod:`.findings`              claims, verdicts and ``findings.json``
:mod:`.verdicts`              verdict rules (margins, intervals over networks, convergence)
:mod:`.figures`               the figures (functions of data, returning a Figure)
:mod:`.runner`                executes notebooks with papermill (``python -m sparsetopo.study``)
:mod:`.report`                the README's findings tables (``make report``)
============================  ==========================================================

The library (everything outside this subpackage) never imports it.
"""

__all__: list[str] = []
