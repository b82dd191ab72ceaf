"""Benchmarks of statespace: checkout-only tooling, not installed with the package.

Run from the repository root (they depend on statespace, never the reverse):

* ``benchmarks.compare``: the one-process ratio report (``python -m benchmarks.compare``,
  or ``statespace bench`` from a checkout);
* ``benchmarks.benchmarks``: the asv suite (``cd benchmarks && asv run``) and the
  baselines it compares against (``benchmarks.benchmarks.baselines``);
* ``benchmarks.float32_budget``: the float32 error budget of ``docs/float32.md``;
* ``benchmarks.s4_training``: S4 kernel forward and forward+backward against naive
  autograd (``docs/benchmarks.md``);
* ``benchmarks.tasks``: training tasks of the torch adapter.
"""
