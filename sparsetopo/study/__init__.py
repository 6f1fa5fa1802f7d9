"""The paper study: one experiment definition per notebook, plus what the notebooks share.

Every notebook module exposes the same small API, and its notebook calls only
that, its figures module and :mod:`.notebook`::

    params = module.Parameters.from_namespace(globals())  # the parameters cell's values, checked
    started = notebook.begin(params)
    result = module.run(params)                            # computes through the library and the run store
    findings = module.claims(result)                       # every claim, verdict and headline
    figs = figures.<module>.figures(result)                # name -> matplotlib Figure
    notebook.answer(findings)                              # the answer first, generated from the findings
    notebook.prose(NOTEBOOK, "discussion", **module.context(result, findings))   # Markdown templates
    notebook.show(figs["name"], "alt text")                # a PNG whatever the matplotlib backend
    findings.save_figures(figs); findings.write()          # figures/<notebook>/ and findings.json

============================  ==========================================================
module                        notebook / role
============================  ==========================================================
:mod:`.nnstd_behaviour`       ``01_nnstd``: what NNSTD measures, does it behave like a distance
:mod:`.sparse_vs_dense`       ``02_sparse_vs_dense``: static sparse MLPs against dense
:mod:`.set_trajectories`      ``03_evolution``: the topologies SET runs travel through
:mod:`.lottery_tickets`       ``04_lottery_tickets``: tickets, their controls and their cost
:mod:`.any_model`             ``05_any_model``: NNSTD of pruned CNNs of different widths
:mod:`.common`                pieces several notebooks share
:mod:`.accuracy`              accuracy tables over runs, arms and epochs
:mod:`.run_groups`            groups of stored runs: shared snapshots, between-run distances
:mod:`.published`             the topologies published with the paper's NNSTD code
:mod:`.params`                the parameters cell as the one source of defaults, and the checks
:mod:`.findings`              claims, verdicts, headlines and ``findings.json``
:mod:`.verdicts`              verdict rules (margins fixed in advance), intervals over networks, convergence
:mod:`.prose`                 Markdown templates (``templates/<notebook>/``) filled from numbers
:mod:`.notebook`              what a notebook cell calls: begin, show, answer, prose, findings_table
:mod:`.figures`               every figure: shared primitives, one module per notebook
:mod:`.runner`                executes notebooks with papermill (``python -m sparsetopo.study``)
:mod:`.report`                the README's headline and findings tables (``make report``)
============================  ==========================================================

The library (everything outside this subpackage) never imports it.
"""

__all__: list[str] = []
