r"""CUDA kernels (CuPy ``RawKernel``) for the Cauchy and Vandermonde reductions.

:mod:`statespace._router` routes CuPy arrays and CUDA torch tensors that need no
gradient here (see :func:`try_cauchy`) unless the switch
:func:`statespace.reductions.fast_paths` (or ``STATESPACE_FAST``) says otherwise.
torch tensors travel through DLPack both ways (``cupy.from_dlpack`` /
``torch.from_dlpack``), so nothing is copied and nothing visits the host; the kernels
run on torch's current stream.

.. warning::
   Written without access to a GPU: these kernels have not been compiled by NVRTC or
   run on a device here (the GPU tests skip without a CUDA device). Their source and
   the host code are exercised on the CPU by ``tests/test_fast.py``, which compiles
   the same source with the host C++ compiler and runs it one thread per block.

Layout and algorithm (both kernels)
-----------------------------------
One thread per (batch row, node ``l``); a block covers 128 consecutive nodes of one
batch row and stages the row's poles and numerators in shared memory, ``TILE`` poles
at a time. Each thread keeps its ``MM`` numerators' accumulators in registers (``MM``
is a compile-time constant, at most :data:`MAX_M`; larger ``M`` is split into groups),
so each denominator is formed once per (node, pole) for all numerators, exactly as on
the CPU (:mod:`statespace._fast_cpu`), including the folded conjugate pair and the
optional compensated differences ``(z - w) + (z_lo - w_lo)``.

The Vandermonde kernel evaluates ``exp(x l)`` directly; the products ``x * l`` are
formed in double precision and the phase reduced modulo ``2 pi`` before the
single-precision ``sincosf``, so complex64 results carry one rounding of the
exponential instead of ``eps * |x| l``.

Backward kernel (:func:`cauchy_vjp`): the sums over the nodes that the autograd
Function of :mod:`statespace._torch_reductions` needs, ``dv`` and ``beta`` (see
:mod:`statespace._fast_cpu`); one thread per (batch row, pole), the nodes and the
gradient rows staged in shared memory, each reciprocal and its square formed once per
(node, pole) for all rows of a launch.

Non-finite results: :func:`try_cauchy` and :func:`try_vandermonde` check the result
with one reduction on the device; only when it holds a non-finite sum do they list
the blocks (batch row, ``128`` positions) that hold one (:func:`nonfinite_chunks`),
which :mod:`statespace._router` recomputes with the generic implementation (``1 /
d`` through ``|d|^2`` overflows for differences the generic ``1 / (z - w)`` handles,
as on the CPU).
"""

from __future__ import annotations

import importlib.util
import math

from . import _reduction_contract as _contract

__all__ = ["available", "try_cauchy", "try_cauchy_vjp", "try_vandermonde",
           "try_vandermonde_grad", "vandermonde_grad", "nonfinite_chunks", "MAX_M"]

#: Numerators handled per launch (register accumulators per thread).
MAX_M = 16
_TILE = 64
_BLOCK = 128
_GRID_Y = 65535  # blocks along the batch axis; the kernels loop over further rows

_HAVE_CUPY = importlib.util.find_spec("cupy") is not None

_CAUCHY_SRC = r"""
#define MM {MM}
#define TILE {TILE}
typedef {T} T;

extern "C" __global__ void cauchy_kernel(
    const T* __restrict__ vr, const T* __restrict__ vi, const long long* __restrict__ iv,
    const T* __restrict__ zr, const T* __restrict__ zi,
    const T* __restrict__ zlr, const T* __restrict__ zli, const long long* __restrict__ iz,
    const T* __restrict__ wr, const T* __restrict__ wi,
    const T* __restrict__ wlr, const T* __restrict__ wli, const long long* __restrict__ iw,
    const long long nb, const int N, const int L, const int Mtot, const int k0,
    const int conj, const int comp, T* __restrict__ out)
{{
    __shared__ T s_wr[TILE], s_wi[TILE], s_wlr[TILE], s_wli[TILE];
    __shared__ T s_vr[MM * TILE], s_vi[MM * TILE];
    const int l = blockIdx.x * blockDim.x + threadIdx.x;
    for (long long b = blockIdx.y; b < nb; b += gridDim.y) {{
        const long long jv = iv[b], jz = iz[b], jw = iw[b];
        T x = 0, y = 0, xl = 0, yl = 0;
        if (l < L) {{
            x = zr[jz * L + l];
            y = zi[jz * L + l];
            if (comp) {{
                xl = zlr[jz * L + l];
                yl = zli[jz * L + l];
            }}
        }}
        T accr[MM], acci[MM];
#pragma unroll
        for (int k = 0; k < MM; ++k) {{
            accr[k] = 0;
            acci[k] = 0;
        }}
        for (int n0 = 0; n0 < N; n0 += TILE) {{
            const int nt = min(TILE, N - n0);
            __syncthreads();
            for (int i = threadIdx.x; i < nt; i += blockDim.x) {{
                s_wr[i] = wr[jw * N + n0 + i];
                s_wi[i] = wi[jw * N + n0 + i];
                s_wlr[i] = comp ? wlr[jw * N + n0 + i] : T(0);
                s_wli[i] = comp ? wli[jw * N + n0 + i] : T(0);
            }}
            for (int i = threadIdx.x; i < MM * nt; i += blockDim.x) {{
                const int k = i / nt, n = i - k * nt;
                const long long src = (jv * Mtot + k0 + k) * (long long)N + n0 + n;
                s_vr[k * TILE + n] = vr[src];
                s_vi[k * TILE + n] = vi[src];
            }}
            __syncthreads();
            if (l < L) {{
                for (int n = 0; n < nt; ++n) {{
                    const T c = s_wi[n];
                    // (z + z_lo) - (w + w_lo): z - w first (exact when close), then the lows
                    T dr = x - s_wr[n];
                    T d1 = y - c;
                    if (comp) {{
                        dr += xl - s_wlr[n];
                        d1 += yl - s_wli[n];
                    }}
                    const T i1 = T(1) / (dr * dr + d1 * d1);
                    const T a1 = dr * i1, b1 = -d1 * i1;
                    if (conj) {{
                        T d2 = y + c;
                        if (comp) d2 += yl + s_wli[n];
                        const T i2 = T(1) / (dr * dr + d2 * d2);
                        const T a2 = dr * i2, b2 = -d2 * i2;
                        const T sa = a1 + a2, sb = b1 + b2, da = a1 - a2, db = b1 - b2;
#pragma unroll
                        for (int k = 0; k < MM; ++k) {{
                            const T p = s_vr[k * TILE + n], q = s_vi[k * TILE + n];
                            accr[k] += p * sa - q * db;
                            acci[k] += p * sb + q * da;
                        }}
                    }} else {{
#pragma unroll
                        for (int k = 0; k < MM; ++k) {{
                            const T p = s_vr[k * TILE + n], q = s_vi[k * TILE + n];
                            accr[k] += p * a1 - q * b1;
                            acci[k] += p * b1 + q * a1;
                        }}
                    }}
                }}
            }}
        }}
        if (l < L) {{
#pragma unroll
            for (int k = 0; k < MM; ++k) {{
                const long long dst = ((b * Mtot + k0 + k) * (long long)L + l) * 2;
                out[dst] = accr[k];
                out[dst + 1] = acci[k];
            }}
        }}
    }}
}}
"""

_VANDERMONDE_SRC = r"""
#define MM {MM}
#define TILE {TILE}
#define IS_DOUBLE {IS_DOUBLE}
typedef {T} T;

extern "C" __global__ void vandermonde_kernel(
    const T* __restrict__ vr, const T* __restrict__ vi, const long long* __restrict__ iv,
    const T* __restrict__ xr, const T* __restrict__ xi, const long long* __restrict__ ix,
    const long long nb, const int N, const int L, const int Mtot, const int k0,
    T* __restrict__ out)
{{
    __shared__ double s_xr[TILE], s_xi[TILE];
    __shared__ T s_vr[MM * TILE], s_vi[MM * TILE];
    const int l = blockIdx.x * blockDim.x + threadIdx.x;
    const double two_pi = 6.283185307179586476925286766559;
    for (long long b = blockIdx.y; b < nb; b += gridDim.y) {{
        const long long jv = iv[b], jx = ix[b];
        T accr[MM], acci[MM];
#pragma unroll
        for (int k = 0; k < MM; ++k) {{
            accr[k] = 0;
            acci[k] = 0;
        }}
        for (int n0 = 0; n0 < N; n0 += TILE) {{
            const int nt = min(TILE, N - n0);
            __syncthreads();
            for (int i = threadIdx.x; i < nt; i += blockDim.x) {{
                s_xr[i] = (double)xr[jx * N + n0 + i];
                s_xi[i] = (double)xi[jx * N + n0 + i];
            }}
            for (int i = threadIdx.x; i < MM * nt; i += blockDim.x) {{
                const int k = i / nt, n = i - k * nt;
                const long long src = (jv * Mtot + k0 + k) * (long long)N + n0 + n;
                s_vr[k * TILE + n] = vr[src];
                s_vi[k * TILE + n] = vi[src];
            }}
            __syncthreads();
            if (l < L) {{
                for (int n = 0; n < nt; ++n) {{
                    const double ar = s_xr[n] * l;
                    const double th = s_xi[n] * l;
#if IS_DOUBLE
                    const double m = exp(ar);
                    double sn, cs;
                    sincos(th, &sn, &cs);
                    const T er = m * cs, ei = m * sn;
#else
                    const float m = expf((float)ar);
                    float sn, cs;
                    sincosf((float)remainder(th, two_pi), &sn, &cs);
                    const T er = m * cs, ei = m * sn;
#endif
#pragma unroll
                    for (int k = 0; k < MM; ++k) {{
                        const T p = s_vr[k * TILE + n], q = s_vi[k * TILE + n];
                        accr[k] += p * er - q * ei;
                        acci[k] += p * ei + q * er;
                    }}
                }}
            }}
        }}
        if (l < L) {{
#pragma unroll
            for (int k = 0; k < MM; ++k) {{
                const long long dst = ((b * Mtot + k0 + k) * (long long)L + l) * 2;
                out[dst] = accr[k];
                out[dst + 1] = acci[k];
            }}
        }}
    }}
}}
"""

_CAUCHY_VJP_SRC = r"""
#define MM {MM}
#define TILE {TILE}
typedef {T} T;

// The sums over the nodes of the Cauchy reduction's backward pass (see
// statespace._fast_cpu.cauchy_vjp): one thread per (batch row, pole n), the row's
// nodes and gradient rows staged in shared memory TILE nodes at a time; each
// reciprocal (and its square) is formed once per (node, pole) for all MM rows.
extern "C" __global__ void cauchy_vjp_kernel(
    const T* __restrict__ gr, const T* __restrict__ gi,
    const T* __restrict__ zr, const T* __restrict__ zi,
    const T* __restrict__ zlr, const T* __restrict__ zli, const long long* __restrict__ iz,
    const T* __restrict__ wr, const T* __restrict__ wi,
    const T* __restrict__ wlr, const T* __restrict__ wli, const long long* __restrict__ iw,
    const long long nb, const int N, const int L, const int Mtot, const int k0,
    const int conj, const int comp, T* __restrict__ out)
{{
    __shared__ T s_zr[TILE], s_zi[TILE], s_zlr[TILE], s_zli[TILE];
    __shared__ T s_gr[MM * TILE], s_gi[MM * TILE];
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    for (long long b = blockIdx.y; b < nb; b += gridDim.y) {{
        const long long jz = iz[b], jw = iw[b];
        T a = 0, c = 0, al = 0, cl = 0;
        if (n < N) {{
            a = wr[jw * N + n];
            c = wi[jw * N + n];
            if (comp) {{
                al = wlr[jw * N + n];
                cl = wli[jw * N + n];
            }}
        }}
        T vr_[MM], vi_[MM], br_[MM], bi_[MM];
#pragma unroll
        for (int k = 0; k < MM; ++k) {{
            vr_[k] = 0;
            vi_[k] = 0;
            br_[k] = 0;
            bi_[k] = 0;
        }}
        for (int l0 = 0; l0 < L; l0 += TILE) {{
            const int lt = min(TILE, L - l0);
            __syncthreads();
            for (int i = threadIdx.x; i < lt; i += blockDim.x) {{
                s_zr[i] = zr[jz * L + l0 + i];
                s_zi[i] = zi[jz * L + l0 + i];
                s_zlr[i] = comp ? zlr[jz * L + l0 + i] : T(0);
                s_zli[i] = comp ? zli[jz * L + l0 + i] : T(0);
            }}
            for (int i = threadIdx.x; i < MM * lt; i += blockDim.x) {{
                const int k = i / lt, l = i - k * lt;
                const long long src = (b * Mtot + k0 + k) * (long long)L + l0 + l;
                s_gr[k * TILE + l] = gr[src];
                s_gi[k * TILE + l] = gi[src];
            }}
            __syncthreads();
            if (n < N) {{
                for (int l = 0; l < lt; ++l) {{
                    // (z + z_lo) - (w + w_lo): z - w first (exact when close), then the lows
                    T dr = s_zr[l] - a;
                    T d1 = s_zi[l] - c;
                    if (comp) {{
                        dr += s_zlr[l] - al;
                        d1 += s_zli[l] - cl;
                    }}
                    const T i1 = T(1) / (dr * dr + d1 * d1);
                    const T a1 = dr * i1, b1 = -d1 * i1;
                    const T A1 = (a1 - b1) * (a1 + b1), B1 = (a1 + a1) * b1;
                    // folded first and second powers (no conjugate pole: r1 alone)
                    T sa = a1, sb = b1, da = a1, db = b1;
                    T SA = A1, SB = B1, DA = A1, DB = B1;
                    if (conj) {{
                        T d2 = s_zi[l] + c;
                        if (comp) d2 += s_zli[l] + cl;
                        const T i2 = T(1) / (dr * dr + d2 * d2);
                        const T a2 = dr * i2, b2 = -d2 * i2;
                        const T A2 = (a2 - b2) * (a2 + b2), B2 = (a2 + a2) * b2;
                        sa = a1 + a2; sb = b1 + b2; da = a1 - a2; db = b1 - b2;
                        SA = A1 + A2; SB = B1 + B2; DA = A1 - A2; DB = B1 - B2;
                    }}
#pragma unroll
                    for (int k = 0; k < MM; ++k) {{
                        const T p = s_gr[k * TILE + l], q = s_gi[k * TILE + l];
                        vr_[k] += p * sa + q * sb;
                        vi_[k] += q * da - p * db;
                        br_[k] += p * SA + q * SB;
                        bi_[k] += q * DA - p * DB;
                    }}
                }}
            }}
        }}
        if (n < N) {{
#pragma unroll
            for (int k = 0; k < MM; ++k) {{
                const long long d0 = (((b * 2) * Mtot + k0 + k) * (long long)N + n) * 2;
                const long long d1 = (((b * 2 + 1) * Mtot + k0 + k) * (long long)N + n) * 2;
                out[d0] = vr_[k];
                out[d0 + 1] = vi_[k];
                out[d1] = br_[k];
                out[d1 + 1] = bi_[k];
            }}
        }}
    }}
}}
"""
# Vandermonde backward (the l-weighted sums of the autograd Function): one block per
# (batch row, mode) pair, a grid-stride loop over further pairs. Thread t of the block
# takes the positions l = t, t + B, t + 2B, ... (B = blockDim.x); its power exp(x l)
# is re-anchored exactly (exp of the double argument x l) every REANCHOR positions
# and advanced by one product with exp(x B) in between, so each power carries at most
# REANCHOR (5 + sqrt 5) u + (|Re x| + |Im x|) l u of relative error (u = 2^-53; the
# notation of statespace._fast_cpu). Each power serves all MM numerators and both
# sums, accumulated in double; the block then reduces its threads' partial sums in
# shared memory (a tree over B, a power of two), numerator by numerator.
_VANDERMONDE_GRAD_SRC = r"""
#define MM {MM}
#define BLOCK {BLOCK}
#define REANCHOR {REANCHOR}
typedef {T} T;

extern "C" __global__ void vandermonde_grad_kernel(
    const T* __restrict__ g, const long long* __restrict__ ig,
    const T* __restrict__ vr, const T* __restrict__ vi, const long long* __restrict__ iv,
    const T* __restrict__ xr, const T* __restrict__ xi, const long long* __restrict__ ix,
    const long long npairs, const int N, const int L, const int Mtot, const int k0,
    double* __restrict__ out_v, double* __restrict__ out_x)
{{
    __shared__ double red[4 * BLOCK];
    const int t = threadIdx.x, B = blockDim.x;
    for (long long p = blockIdx.x; p < npairs; p += gridDim.x) {{
        const long long b = p / N;
        const int n = (int)(p - b * N);
        const long long jg = ig[b], jv = iv[b], jx = ix[b];
        const double a = (double)xr[jx * N + n], c = (double)xi[jx * N + n];
        // the step between a thread's positions, exp(x B), from the exact argument
        const double em = exp(a * B);
        double es, ec;
        sincos(c * B, &es, &ec);
        const double er = em * ec, ei = em * es;
        double sv_r[MM], sv_i[MM], sx_r[MM], sx_i[MM];
#pragma unroll
        for (int k = 0; k < MM; ++k) {{
            sv_r[k] = 0; sv_i[k] = 0; sx_r[k] = 0; sx_i[k] = 0;
        }}
        double pr = 0, pi = 0;
        int step = 0;
        for (int l = t; l < L; l += B, ++step) {{
            if (step % REANCHOR == 0) {{  // exact re-anchoring: exp(x l)
                const double m = exp(a * l);
                double sn, cs;
                sincos(c * l, &sn, &cs);
                pr = m * cs;
                pi = m * sn;
            }} else {{  // one step: exp(x (l - B)) exp(x B)
                const double qr = pr * er - pi * ei;
                pi = pr * ei + pi * er;
                pr = qr;
            }}
            const double ell = (double)l;
#pragma unroll
            for (int k = 0; k < MM; ++k) {{
                const long long src = ((jg * Mtot + k0 + k) * (long long)L + l) * 2;
                const double gr = (double)g[src], gi = (double)g[src + 1];
                // g conj(P)
                const double sr = gr * pr + gi * pi, si = gi * pr - gr * pi;
                sv_r[k] += sr;
                sv_i[k] += si;
                sx_r[k] += ell * sr;
                sx_i[k] += ell * si;
            }}
        }}
        double ax_r = 0, ax_i = 0;
        for (int k = 0; k < MM; ++k) {{
            red[t] = sv_r[k];
            red[BLOCK + t] = sv_i[k];
            red[2 * BLOCK + t] = sx_r[k];
            red[3 * BLOCK + t] = sx_i[k];
            __syncthreads();
            for (int h = B / 2; h > 0; h >>= 1) {{
                if (t < h) {{
                    for (int q = 0; q < 4; ++q) red[q * BLOCK + t] += red[q * BLOCK + t + h];
                }}
                __syncthreads();
            }}
            if (t == 0) {{
                const long long dst = ((b * Mtot + k0 + k) * (long long)N + n) * 2;
                out_v[dst] = red[0];
                out_v[dst + 1] = red[BLOCK];
                const long long sv = (jv * Mtot + k0 + k) * (long long)N + n;
                const double pv = (double)vr[sv], qv = (double)vi[sv];
                // conj(v) * sum_l l g conj(P)
                ax_r += pv * red[2 * BLOCK] + qv * red[3 * BLOCK];
                ax_i += pv * red[3 * BLOCK] - qv * red[2 * BLOCK];
            }}
            __syncthreads();
        }}
        if (t == 0) {{  // summed over the launches of the numerator groups
            out_x[(b * N + n) * 2] += ax_r;
            out_x[(b * N + n) * 2 + 1] += ax_i;
        }}
    }}
}}
"""
_REANCHOR = 16
_GRID_PAIRS = 1 << 20  # blocks along the (row, mode) pairs; the kernel loops over more

_compiled = {}


def available():
    """Whether the CUDA kernels can be used: CuPy is importable (a CUDA device is checked
    per call) and the switch (:func:`statespace.reductions.fast_paths`,
    ``STATESPACE_FAST``) is not "generic"."""
    return _HAVE_CUPY and _contract.fast_mode != "generic"


def _kernel(kind, single, MM):
    key = (kind, single, MM)
    k = _compiled.get(key)
    if k is None:
        import cupy

        T = "float" if single else "double"
        if kind == "cauchy":
            src = _CAUCHY_SRC.format(MM=MM, TILE=_TILE, T=T)
        elif kind == "cauchy_vjp":
            src = _CAUCHY_VJP_SRC.format(MM=MM, TILE=_TILE, T=T)
        elif kind == "vandermonde_grad":
            src = _VANDERMONDE_GRAD_SRC.format(MM=MM, BLOCK=_BLOCK, REANCHOR=_REANCHOR, T=T)
        else:
            src = _VANDERMONDE_SRC.format(MM=MM, TILE=_TILE, T=T, IS_DOUBLE=int(not single))
        k = cupy.RawKernel(src, f"{kind}_kernel")
        _compiled[key] = k
    return k


# --------------------------------------------------------------------------------------
# host side (CuPy arrays only; nothing here moves data to the host)
# --------------------------------------------------------------------------------------
def _index_map(cp, shape, batch):
    shape = (1,) * (len(batch) - len(shape)) + tuple(shape)
    idx = cp.arange(math.prod(shape), dtype=cp.int64).reshape(shape)
    return cp.ascontiguousarray(cp.broadcast_to(idx, batch)).reshape(-1)


def _split(cp, a, rdt):
    return (cp.ascontiguousarray(a.real, dtype=rdt), cp.ascontiguousarray(a.imag, dtype=rdt))


def cauchy(vs, z, w, *, conj, z_lo=None, w_lo=None):
    """Cauchy reduction on CuPy arrays (contract of ``_reductions_generic.cauchy``)."""
    import cupy as cp

    single = vs.dtype == cp.complex64
    rdt = cp.float32 if single else cp.float64
    batch = tuple(cp.broadcast_shapes(vs.shape[:-2], z.shape[:-1], w.shape[:-1]))
    M, N, L = vs.shape[-2], vs.shape[-1], z.shape[-1]
    nb = math.prod(batch)
    out = cp.empty(batch + (M, L), dtype=vs.dtype)
    if nb == 0 or M == 0:
        return out
    comp = z_lo is not None or w_lo is not None
    vr, vi = _split(cp, vs, rdt)
    zr, zi = _split(cp, z, rdt)
    wr, wi = _split(cp, w, rdt)
    if comp:
        zlr, zli = _split(cp, cp.zeros_like(z) if z_lo is None else z_lo, rdt)
        wlr, wli = _split(cp, cp.zeros_like(w) if w_lo is None else w_lo, rdt)
    else:
        zlr, zli, wlr, wli = zr, zi, wr, wi  # never read
    iv = _index_map(cp, vs.shape[:-2], batch)
    iz = _index_map(cp, z.shape[:-1], batch)
    iw = _index_map(cp, w.shape[:-1], batch)
    grid = ((L + _BLOCK - 1) // _BLOCK, min(nb, _GRID_Y))
    out_f = out.view(rdt)
    for k0 in range(0, M, MAX_M):
        MM = min(MAX_M, M - k0)
        _kernel("cauchy", single, MM)(
            grid, (_BLOCK,),
            (vr, vi, iv, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw, cp.int64(nb),
             cp.int32(N), cp.int32(L), cp.int32(M), cp.int32(k0), cp.int32(bool(conj)),
             cp.int32(comp), out_f),
        )
    return out


def cauchy_vjp(g, z, w, *, conj, z_lo=None, w_lo=None):
    """Sums over the nodes of the Cauchy backward pass on CuPy arrays: ``(dv, beta)``,
    each batch + (M, N) for ``g`` of batch + (M, L) (contract of
    :func:`statespace._fast_cpu.cauchy_vjp`)."""
    import cupy as cp

    single = g.dtype == cp.complex64
    rdt = cp.float32 if single else cp.float64
    batch = tuple(g.shape[:-2])
    M, L, N = g.shape[-2], g.shape[-1], w.shape[-1]
    nb = math.prod(batch)
    if nb == 0 or M == 0 or N == 0:
        return tuple(cp.zeros(batch + (M, N), dtype=g.dtype) for _ in range(2))
    out = cp.empty((nb, 2, M, N), dtype=g.dtype)
    comp = z_lo is not None or w_lo is not None
    gr, gi = _split(cp, g, rdt)
    zr, zi = _split(cp, z, rdt)
    wr, wi = _split(cp, w, rdt)
    if comp:
        zlr, zli = _split(cp, cp.zeros_like(z) if z_lo is None else z_lo, rdt)
        wlr, wli = _split(cp, cp.zeros_like(w) if w_lo is None else w_lo, rdt)
    else:
        zlr, zli, wlr, wli = zr, zi, wr, wi  # never read
    iz = _index_map(cp, z.shape[:-1], batch)
    iw = _index_map(cp, w.shape[:-1], batch)
    grid = ((N + _BLOCK - 1) // _BLOCK, min(nb, _GRID_Y))
    out_f = out.view(rdt)
    for k0 in range(0, M, MAX_M):
        MM = min(MAX_M, M - k0)
        _kernel("cauchy_vjp", single, MM)(
            grid, (_BLOCK,),
            (gr, gi, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw, cp.int64(nb), cp.int32(N),
             cp.int32(L), cp.int32(M), cp.int32(k0), cp.int32(bool(conj)), cp.int32(comp),
             out_f),
        )
    out = out.reshape(batch + (2, M, N))
    return out[..., 0, :, :], out[..., 1, :, :]


def vandermonde(vs, x, L):
    """Vandermonde reduction on CuPy arrays (contract of the generic path)."""
    import cupy as cp

    single = vs.dtype == cp.complex64
    rdt = cp.float32 if single else cp.float64
    batch = tuple(cp.broadcast_shapes(vs.shape[:-2], x.shape[:-1]))
    M, N = vs.shape[-2], vs.shape[-1]
    nb = math.prod(batch)
    out = cp.empty(batch + (M, L), dtype=vs.dtype)
    if nb == 0 or M == 0:
        return out
    vr, vi = _split(cp, vs, rdt)
    xr, xi = _split(cp, x, rdt)
    iv = _index_map(cp, vs.shape[:-2], batch)
    ix = _index_map(cp, x.shape[:-1], batch)
    grid = ((L + _BLOCK - 1) // _BLOCK, min(nb, _GRID_Y))
    out_f = out.view(rdt)
    for k0 in range(0, M, MAX_M):
        MM = min(MAX_M, M - k0)
        _kernel("vandermonde", single, MM)(
            grid, (_BLOCK,),
            (vr, vi, iv, xr, xi, ix, cp.int64(nb), cp.int32(N), cp.int32(L), cp.int32(M),
             cp.int32(k0), out_f),
        )
    return out


def vandermonde_grad(g, vs, x):
    """Gradients of the Vandermonde reduction on CuPy arrays (see
    :func:`statespace._fast_cpu.vandermonde_grad`): ``(gv, gx)``, batch + (M, N) and
    batch + (N,), not yet summed over broadcast axes; sums in double."""
    import cupy as cp

    single = vs.dtype == cp.complex64
    rdt = cp.float32 if single else cp.float64
    batch = tuple(g.shape[:-2])
    M, N, L = vs.shape[-2], vs.shape[-1], g.shape[-1]
    nb = math.prod(batch)
    gv = cp.empty(batch + (M, N), dtype=cp.complex128)
    gx = cp.empty(batch + (N,), dtype=cp.complex128)
    gx[...] = 0
    if nb == 0 or M == 0:
        return gv.astype(vs.dtype), gx.astype(vs.dtype)
    g_f = cp.ascontiguousarray(g).view(rdt)
    vr, vi = _split(cp, vs, rdt)
    xr, xi = _split(cp, x, rdt)
    ig = cp.arange(nb, dtype=cp.int64)
    iv = _index_map(cp, vs.shape[:-2], batch)
    ix = _index_map(cp, x.shape[:-1], batch)
    npairs = nb * N
    grid = (min(npairs, _GRID_PAIRS), 1)
    for k0 in range(0, M, MAX_M):
        MM = min(MAX_M, M - k0)
        _kernel("vandermonde_grad", single, MM)(
            grid, (_BLOCK,),
            (g_f, ig, vr, vi, iv, xr, xi, ix, cp.int64(npairs), cp.int32(N), cp.int32(L),
             cp.int32(M), cp.int32(k0), gv.view(cp.float64), gx.view(cp.float64)),
        )
    return gv.astype(vs.dtype), gx.astype(vs.dtype)


def nonfinite_chunks(cp, y):
    """The chunks ``(index, l0, l1)`` of ``y`` (batch + (M, L)) that hold a non-finite
    entry, one per thread block (batch row, ``_BLOCK`` positions; see
    :func:`~statespace._reduction_contract.task_chunks`); ``[]`` after one device
    reduction when every entry is finite."""
    ok = cp.isfinite(y)
    if bool(cp.all(ok)):
        return []
    batch, L = tuple(y.shape[:-2]), y.shape[-1]
    nb = math.prod(batch)
    rows, pos = cp.nonzero(~cp.all(ok.reshape(nb, y.shape[-2], L), axis=1))
    nchunk = -(-L // _BLOCK)
    tasks = sorted({r * nchunk + p // _BLOCK for r, p in zip(rows.tolist(), pos.tolist(),
                                                                 strict=True)})
    return _contract.task_chunks(tasks, batch, L, _BLOCK)


# --------------------------------------------------------------------------------------
# routing: CuPy arrays as they are, CUDA torch tensors through DLPack
# --------------------------------------------------------------------------------------
class _Ctx:
    """Device and stream context for a call (torch's current stream for torch inputs)."""

    def __init__(self, cp, torch_device):
        self.cp = cp
        self.torch_device = torch_device
        self._stack = []

    def __enter__(self):
        cp = self.cp
        if self.torch_device is not None:
            import torch

            dev = cp.cuda.Device(self.torch_device.index or 0)
            stream = cp.cuda.ExternalStream(
                torch.cuda.current_stream(self.torch_device).cuda_stream
            )
            for c in (dev, stream):
                c.__enter__()
                self._stack.append(c)
        return self

    def __exit__(self, *exc):
        while self._stack:
            self._stack.pop().__exit__(*exc)
        return False


def _eligible(arrays):
    """``(arrays, torch device or None)`` when every input is eligible, else None.

    Eligible: all CuPy arrays, or all CUDA torch tensors without a pending gradient,
    of one complex dtype.
    """
    if not _HAVE_CUPY:
        return None
    mods = {type(a).__module__.split(".")[0] for a in arrays}
    if mods == {"cupy"}:
        import cupy as cp

        if arrays[0].dtype not in (cp.complex64, cp.complex128):
            return None
        return (list(arrays), None) if all(a.dtype == arrays[0].dtype for a in arrays) else None
    if mods != {"torch"}:
        return None
    import torch

    dev = arrays[0].device
    if dev.type != "cuda":
        return None
    for a in arrays:
        if a.device != dev or a.dtype != arrays[0].dtype:
            return None
        if a.requires_grad and torch.is_grad_enabled():
            return None
    if arrays[0].dtype not in (torch.complex64, torch.complex128):
        return None
    return [a.detach().resolve_conj().resolve_neg() for a in arrays], dev


def _to_cupy(cp, arrays, tdev):
    # inside the stream context, so DLPack orders the hand-over on torch's stream
    return arrays if tdev is None else [cp.from_dlpack(a) for a in arrays]


def _back(y, tdev):
    if tdev is None:
        return y
    import torch

    return torch.from_dlpack(y)


def try_cauchy(vs, z, w, *, conj, z_lo=None, w_lo=None):
    """Run the CUDA Cauchy kernel when it applies; None when it does not.

    Returns ``(y, bad)``: the result in the namespace of the inputs and the list of its
    chunks ``(index, l0, l1)`` that hold a non-finite sum (:func:`nonfinite_chunks`),
    for the router to recompute.
    """
    extra = [a for a in (z_lo, w_lo) if a is not None]
    got = _eligible((vs, z, w, *extra))
    if got is None:
        return None
    arrs, tdev = got
    import cupy as cp

    with _Ctx(cp, tdev):
        arrs = _to_cupy(cp, arrs, tdev)
        lo = iter(arrs[3:])
        zl = next(lo) if z_lo is not None else None
        wl = next(lo) if w_lo is not None else None
        y = cauchy(arrs[0], arrs[1], arrs[2], conj=conj, z_lo=zl, w_lo=wl)
        return _back(y, tdev), nonfinite_chunks(cp, y)


def try_cauchy_vjp(g, z, w, *, conj, z_lo=None, w_lo=None):
    """Run the CUDA backward kernel (:func:`cauchy_vjp`) when it applies.

    Returns ``(dv, beta)`` in the namespace of the inputs, or None when the kernel does
    not apply or a sum came out non-finite (one device reduction decides; the caller
    then uses its generic backward pass).
    """
    extra = [a for a in (z_lo, w_lo) if a is not None]
    got = _eligible((g, z, w, *extra))
    if got is None:
        return None
    arrs, tdev = got
    import cupy as cp

    with _Ctx(cp, tdev):
        arrs = _to_cupy(cp, arrs, tdev)
        lo = iter(arrs[3:])
        zl = next(lo) if z_lo is not None else None
        wl = next(lo) if w_lo is not None else None
        dv, beta = cauchy_vjp(arrs[0], arrs[1], arrs[2], conj=conj, z_lo=zl, w_lo=wl)
        if not (bool(cp.all(cp.isfinite(dv))) and bool(cp.all(cp.isfinite(beta)))):
            return None
        return _back(dv, tdev), _back(beta, tdev)


def try_vandermonde(vs, x, L):
    """Run the CUDA Vandermonde kernel when it applies; None when it does not.

    Returns ``(y, bad)`` as :func:`try_cauchy`.
    """
    got = _eligible((vs, x))
    if got is None:
        return None
    arrs, tdev = got
    import cupy as cp

    with _Ctx(cp, tdev):
        v_, x_ = _to_cupy(cp, arrs, tdev)
        y = vandermonde(v_, x_, L)
        return _back(y, tdev), nonfinite_chunks(cp, y)


def try_vandermonde_grad(g, vs, x):
    """Run :func:`vandermonde_grad` when it applies (CuPy arrays, or CUDA torch tensors
    through DLPack); None when it does not or when a sum came out non-finite."""
    got = _eligible((g, vs, x))
    if got is None:
        return None
    arrs, tdev = got
    import cupy as cp

    with _Ctx(cp, tdev):
        g_, v_, x_ = _to_cupy(cp, arrs, tdev)
        gv, gx = vandermonde_grad(g_, v_, x_)
        if not (bool(cp.all(cp.isfinite(gv))) and bool(cp.all(cp.isfinite(gx)))):
            return None
        return _back(gv, tdev), _back(gx, tdev)
