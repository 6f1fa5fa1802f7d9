"""The paper study: one module per notebook, plus findings, figures and the runner.

============================  ==========================================================
module                        notebook / role
============================  ==========================================================
:mod:`.nnstd_behaviour`       ``01_nnstd``: what NNSTD measures, does it behave like a distance
:mod:`.sparse_vs_dense`       ``02_sparse_vs_dense``: static sparse MLPs against dense
:mod:`.set_trajectories`      ``03_evolution``: the topologies SET runs travel through
:mod:`.lottery_tickets`       ``04_lottery_tickets``: tickets, their controls and their cost
:mod:`.published`             the topologies published with the paper's NNSTD code
:mod:`.findings`              claims, verdicts and ``findings.json``
:mod:`.figures`               the figures (functions of data, returning a Figure)
:mod:`.runner`                executes notebooks with papermill (``python -m sparsetopo.study``)
============================  ==========================================================

The library (everything outside this subpackage) never imports it.
"""
