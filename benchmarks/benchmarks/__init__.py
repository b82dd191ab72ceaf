"""asv benchmark suite of statespace (``cd benchmarks && asv run``).

Each module holds classes with ``params``, ``param_names``, ``setup`` and
``time_*``/``peakmem_*`` methods; :mod:`benchmarks.compare` times the same bodies in
one process and writes the ratio report (``statespace bench``).
"""
