"""asv benchmark suite of statespace (``cd benchmarks && asv run``).

asv imports this folder as a package named ``benchmarks``, so its modules import
:mod:`statespace` and each other (relatively, e.g. ``from .baselines import ...``),
nothing else of the checkout. Each module holds classes with ``params``,
``param_names``, ``setup`` and ``time_*``/``peakmem_*`` methods; ``baselines`` holds
what they compare against. ``python -m benchmarks.compare`` (``statespace bench``)
times the same bodies in one process and writes the ratio report.
"""
