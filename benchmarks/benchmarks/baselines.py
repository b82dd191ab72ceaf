r"""Baselines the benchmarks compare against (they live here, never in the library).

* :func:`naive_cauchy` / :func:`naive_s4_kernel`: the reference implementation's CPU
  method for S4's Cauchy sums: for each numerator the full ``(H, 2N', L')``
  term tensor ``v / (z - w)`` is materialised by broadcasting (with the conjugate
  poles concatenated, as the reference does) and summed over the poles; nothing is
  shared between the four Woodbury numerators and nothing is chunked. The rest of
  Algorithm 1 (Woodbury, inverse FFT) is the same as in
  :func:`statespace.kernels.kernel_dplr` (``tilde=True``), so the comparison
  isolates the Cauchy method.
* The LSSL-style kernel is :func:`statespace.kernel_dense` (Krylov doubling of the
  dense discretized matrix, ``O(N^2 L)`` work and ``O(N L)`` memory per channel).
* :func:`conv_recompute_step`: autoregressive generation without a recurrent state:
  each new token re-runs the causal convolution over the whole prefix.
* :class:`NaiveS4Torch` / :class:`NaiveS4DTorch`: the training baselines, the
  reference method re-implemented in plain torch and differentiated by autograd: S4
  with the materialised broadcast Cauchy (``(numerators, H, 2N', L/2 + 1)`` terms, the
  conjugate poles concatenated), S4D (ZOH) with ``exp`` of the ``(H, N', L)`` outer
  product ``dt Lambda l``. Their parameters are the same raw tensors as an
  :class:`statespace.torch.S4Kernel`'s (``Lambda``, ``P``, ``B``, ``C``, ``log dt``,
  copied as float32 leaves).
"""

from __future__ import annotations

import numpy as np

import statespace as ss

__all__ = ["naive_cauchy", "naive_s4_kernel", "conv_recompute_step", "legs_inputs",
           "NaiveS4Torch", "NaiveS4DTorch"]


def naive_cauchy(v, z, w):
    """``sum_n v[..., k, n] / (z[l] - w[..., n])`` by materialising ``(H, N, L)`` per numerator.

    ``v``: (H, M, N) numerators, ``z``: (L,) nodes, ``w``: (H, N) poles (conjugate
    poles already concatenated, as in the reference implementation). Returns (H, M, L).
    """
    out = np.empty(v.shape[:-1] + z.shape, dtype=np.result_type(v, z, w))
    for k in range(v.shape[-2]):
        terms = v[:, k, :, None] / (z[None, None, :] - w[:, :, None])  # (H, N, L)
        out[:, k] = terms.sum(axis=1)
    return out


def naive_s4_kernel(Lambda, P, B, Ct, dt, L):
    """S4 kernel (``tilde=True``, halved, rank ``r``) with the naive broadcast Cauchy.

    Same arguments as ``statespace.kernel_dplr(Lambda, P, B, Ct, dt, L, halved=True,
    tilde=True)``; NumPy arrays, float32 or float64 work precision from ``Ct``.
    """
    cdt = np.complex64 if np.asarray(Ct).dtype in (np.complex64, np.float32) else np.complex128
    rdt = np.float32 if cdt == np.complex64 else np.float64
    Lam = np.asarray(Lambda, np.complex128)
    Pm = np.asarray(P, np.complex128)
    Bm = np.asarray(B, np.complex128)
    Cm = np.atleast_2d(np.asarray(Ct, np.complex128))
    dt = np.asarray(dt, np.float64).reshape(-1)
    H, r = Cm.shape[0], Pm.shape[-2]
    half = dt[:, None] / 2
    s = 1 / (1 - half * Lam)  # (H, N)
    lam_d = (1 + half * Lam) * s
    U = np.concatenate([Cm[:, None, :], np.broadcast_to(Pm, (H, r, Pm.shape[-1]))], axis=1)
    W = np.concatenate([np.broadcast_to(Bm, (H, 1, Bm.shape[-1])),
                        np.broadcast_to(Pm.conj(), (H, r, Pm.shape[-1]))], axis=1)
    v = (U[:, :, None, :] * W[:, None, :, :] * s[:, None, None, :]).reshape(H, (1 + r) ** 2, -1)
    # reference: concatenate the conjugate half, N' = 2N
    v = np.concatenate([v, v.conj()], axis=-1).astype(cdt)
    w = np.concatenate([lam_d, lam_d.conj()], axis=-1).astype(cdt)
    count = L // 2 + 1
    z = np.exp(2j * np.pi * np.arange(count) / L).astype(cdt)
    kk = naive_cauchy(v, z, w).reshape(H, 1 + r, 1 + r, count)
    sigma = (dt.astype(rdt)[:, None] / 2 * (1 + z)).astype(cdt)
    k00 = kk[:, 0, 0]
    if r == 1:
        G = k00 - sigma * kk[:, 0, 1] * kk[:, 1, 0] / (1 + sigma * kk[:, 1, 1])
    else:
        kpp = np.moveaxis(kk[:, 1:, 1:], -1, 1)
        Mx = np.eye(r, dtype=cdt) + sigma[:, :, None, None] * kpp
        y = np.linalg.solve(Mx, np.moveaxis(kk[:, 1:, 0:1], -1, 1))[..., 0]
        G = k00 - sigma * np.sum(np.moveaxis(kk[:, 0, 1:], -1, 1) * y, axis=-1)
    G = dt.astype(rdt)[:, None] * z * G
    return np.fft.irfft(G, n=L, axis=-1).astype(rdt)


def conv_recompute_step(u_prefix, K, D=None):
    """Output for the newest token by re-running the causal convolution on the prefix."""
    t = u_prefix.shape[-1]
    return ss.causal_conv(u_prefix, K[..., :t], D)[..., -1]


def legs_inputs(H, N, L, dtype=np.float32, seed=0):
    """LegS DPLR inputs for ``H`` channels: (Lambda, P, B, C~, dt) and the dense (A, B).

    ``dt`` is log-uniform in ``[1e-3, 1e-1]``; ``C~`` is random complex (it is a
    trained parameter in S4). Real dense ``C`` for the LSSL baseline is random normal.
    """
    rng = np.random.default_rng(seed)
    h = ss.dplr("legs", N, dtype=dtype)
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    Ct = (rng.standard_normal((H, N // 2)) + 1j * rng.standard_normal((H, N // 2))).astype(cdt)
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), H)).astype(dtype)
    A, Bd = ss.hippo.transition("legs", N, dtype=dtype)
    Cd = rng.standard_normal((H, N)).astype(dtype)
    return dict(Lambda=h.Lambda, P=h.P, B=h.B, Ct=Ct, dt=dt, A=A, Bdense=Bd, Cdense=Cd)


# --------------------------------------------------------------------------------------
# training baselines (plain torch under autograd)
# --------------------------------------------------------------------------------------
class _NaiveTorch:
    """Leaves ``Lambda, P, B, C, log_dt`` (float32 / complex64) copied from ``kernel``."""

    def __init__(self, kernel, channels=None):
        import torch

        lam, P, B, C, dt = kernel._system(torch.float32)
        sl = slice(None, channels)
        self.Lambda = lam.detach()[sl].clone().requires_grad_()
        self.P = None if P is None else P.detach()[sl].clone().requires_grad_()
        self.B = B.detach()[sl].clone().requires_grad_()
        self.C = C.detach()[..., sl, :].clone().requires_grad_()
        self.log_dt = torch.log(dt.detach()[sl]).clone().requires_grad_()
        self.params = [t for t in (self.Lambda, self.P, self.B, self.C, self.log_dt)
                       if t is not None]


class NaiveS4Torch(_NaiveTorch):
    """S4 kernel (bilinear, rank ``r``, ``C~`` given) with the broadcast Cauchy."""

    def __call__(self, L):
        import torch

        lam, P, B, C = self.Lambda, self.P, self.B, self.C[0]  # (H, N'), (H, r, N'), ...
        dt = torch.exp(self.log_dt)[:, None]  # (H, 1)
        r = P.shape[-2]
        s = 1 / (1 - dt / 2 * lam)
        lam_d = (1 + dt / 2 * lam) * s  # discrete poles
        U = torch.cat([C[:, None, :], P], dim=1)  # (H, 1 + r, N')
        W = torch.cat([B[:, None, :], P.conj()], dim=1)
        v = (U[:, :, None, :] * W[:, None, :, :] * s[:, None, None, :]).reshape(
            U.shape[0], (1 + r) ** 2, -1)
        v = torch.cat([v, v.conj()], dim=-1)  # the conjugate half concatenated
        w = torch.cat([lam_d, lam_d.conj()], dim=-1)
        count = L // 2 + 1
        ang = 2 * torch.pi * torch.arange(count, dtype=torch.float32) / L
        z = torch.polar(torch.ones_like(ang), ang)
        # (H, (1 + r)^2, 2N', count) terms, summed over the poles
        kk = (v[..., None] / (z - w[:, None, :, None])).sum(dim=-2)
        kk = kk.reshape(U.shape[0], 1 + r, 1 + r, count)
        sigma = dt / 2 * (1 + z)
        k00 = kk[:, 0, 0]
        if r == 1:
            G = k00 - sigma * kk[:, 0, 1] * kk[:, 1, 0] / (1 + sigma * kk[:, 1, 1])
        else:  # pragma: no cover - LegS has rank 1
            raise NotImplementedError("rank > 1")
        return torch.fft.irfft(dt * z * G, n=L, dim=-1)


class NaiveS4DTorch(_NaiveTorch):
    """S4D (ZOH) kernel by ``exp`` of the ``(H, N', L)`` outer product."""

    def __call__(self, L):
        import torch

        dtA = self.Lambda * torch.exp(self.log_dt)[:, None]  # (H, N')
        K = dtA[..., None] * torch.arange(L, dtype=torch.float32)  # (H, N', L)
        C = self.C[0] * self.B * (torch.exp(dtA) - 1) / self.Lambda
        return 2 * torch.einsum("hn,hnl->hl", C, torch.exp(K)).real
