"""Training: S4 and S4D kernels forward and forward + backward, and a whole block step.

* ``KernelTraining``: :class:`statespace.torch.S4Kernel` (default settings, float32
  parameters) against the naive-autograd baselines of the same parameters
  (``baselines.NaiveS4Torch``: materialised broadcast Cauchy; ``NaiveS4DTorch``:
  ``exp`` of the ``(H, N', L)`` outer product), ``H = 256``, ``N = 64``. The loss is
  ``sum(K * G)`` for a fixed random ``G``, so every kernel entry gets a gradient.
* ``BlockStep``: one training step (forward, loss, backward, SGD update) of an
  :class:`statespace.torch.S4Block`, batch 16, ``L = 4096``, ``H = 256``.

:func:`saved_bytes` measures the memory autograd holds for the backward pass: the
sizes of the distinct storages packed by ``torch.autograd.graph.saved_tensors_hooks``.
``benchmarks.compare`` (``statespace bench --sections training``) times the same bodies
in one process and reports ratios.
"""

from __future__ import annotations

H = 256
N = 64
GRID_L = [1024, 4096, 16384]
MODES = ["s4", "s4d"]


def saved_bytes(fn):
    """``(fn(), bytes)``: the result and the bytes of the distinct tensor storages that
    autograd saves for the backward pass while ``fn`` runs (parameters included)."""
    import torch

    seen = {}

    def pack(t):
        try:
            st = t.untyped_storage()
            seen[(st.data_ptr(), st.nbytes())] = st.nbytes()
        except (RuntimeError, NotImplementedError):  # tensors without storage
            seen[id(t)] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def kernel_module(mode, H=H, N=N, seed=0):
    """An ``S4Kernel`` with default settings (float32 parameters, ``kernel_dtype``
    float64) and ``l_max`` set by the first call."""
    import torch

    from statespace.torch import S4Kernel

    torch.manual_seed(seed)
    return S4Kernel(H, N, mode)


def naive_module(kernel, channels=None):
    """The naive-autograd baseline with the parameters of ``kernel`` (first
    ``channels`` channels)."""
    from .baselines import NaiveS4DTorch, NaiveS4Torch

    cls = NaiveS4Torch if kernel.mode == "s4" else NaiveS4DTorch
    return cls(kernel, channels)


class KernelTraining:
    params = (MODES, GRID_L)
    param_names = ["mode", "L"]
    timeout = 900

    def setup(self, mode, L):
        import torch

        self.L = L
        self.k = kernel_module(mode)
        self.k(L)  # fixes l_max
        self.naive = naive_module(self.k)
        self.G = torch.randn(H, L, generator=torch.Generator().manual_seed(1))

    def forward(self):
        import torch

        with torch.no_grad():
            return self.k(self.L)

    def forward_backward(self):
        (self.k(self.L)[0] * self.G).sum().backward()

    def naive_forward(self):
        import torch

        with torch.no_grad():
            return self.naive(self.L)

    def naive_forward_backward(self):
        (self.naive(self.L) * self.G[: self.naive.Lambda.shape[0]]).sum().backward()

    def time_forward(self, *p):
        self.forward()

    def time_forward_backward(self, *p):
        self.forward_backward()

    def time_naive_forward(self, *p):
        self.naive_forward()

    def time_naive_forward_backward(self, *p):
        self.naive_forward_backward()


class BlockStep:
    params = (MODES,)
    param_names = ["mode"]
    timeout = 900
    batch, L = 16, 4096

    def setup(self, mode):
        import torch

        from statespace.torch import S4Block

        torch.manual_seed(0)
        self.block = S4Block(H, N, mode)
        self.opt = torch.optim.SGD(self.block.parameters(), lr=1e-3)
        self.x = torch.randn(self.batch, self.L, H)
        self.y = torch.randn(self.batch, self.L, H)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = (self.block(self.x) - self.y).square().mean()
        loss.backward()
        self.opt.step()
        return loss

    def time_step(self, *p):
        self.step()
