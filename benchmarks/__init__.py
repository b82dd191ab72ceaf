"""Benchmarks of statespace (depends on statespace, never the reverse).

* :mod:`benchmarks.compare`: the one-process ratio report behind ``statespace bench``;
* :mod:`benchmarks.baselines`: the baselines it compares against;
* :mod:`benchmarks.benchmarks`: asv classes (``cd benchmarks && asv run``);
* :mod:`benchmarks.float32_budget`: the float32 error budget of ``docs/float32.md``;
* :mod:`benchmarks.tasks`: training tasks of the torch adapter.
"""
