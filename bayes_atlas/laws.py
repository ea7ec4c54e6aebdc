"""Scaling-law functions: pure array maths, numpy and jax.numpy alike.

Every function broadcasts over its arguments, so a vector of posterior draws can be passed
for any parameter. Formulas are those of ATLAS (Longpre et al. 2026, Sec. 3, 5, 6; see
``../shared/atlas/FACTS.md``), Chinchilla (Hoffmann et al. 2022), the data-constrained law
(Muennighoff et al. 2023) and the multilingual law of He et al. 2024.

No sampling and no I/O happen here. Arrays from JAX stay JAX arrays (usable inside a
NumPyro/PyMC-JAX model); everything else is computed with numpy.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "D_REF",
    "N_REF",
    "R_D_STAR",
    "R_N_STAR",
    "ExpansionMultipliers",
    "amplitude_from_reference",
    "atlas_effective_data",
    "atlas_loss",
    "bts_from_tau",
    "chinchilla_loss",
    "chinchilla_loss_ref",
    "compute_optimal_chinchilla",
    "compute_optimal_numeric",
    "compute_optimal_repeated",
    "curse_loss",
    "dcsl_loss",
    "expansion_multipliers",
    "msl_loss",
    "reference_from_amplitude",
    "saturate",
    "tau_from_bts",
]

#: Reference scales of the amplitudes: A / N^alpha = exp(a - alpha log(N / N_REF)).
N_REF = 1e9
D_REF = 1e10
#: Muennighoff et al. 2023: repetition half-life constants for data and parameters.
R_D_STAR = 15.39
R_N_STAR = 5.31

Array = Any  # numpy or jax array, or a Python scalar


def _xp(*arrays: object) -> Any:
    """jax.numpy if any argument is a JAX array (or tracer), else numpy."""
    for value in arrays:
        if type(value).__module__.startswith(("jax", "jaxlib")):
            import jax.numpy as jnp

            return jnp
    return np


def chinchilla_loss(N: Array, D: Array, E: Array, A: Array, alpha: Array, B: Array, beta: Array) -> Array:
    """Chinchilla loss ``E + A / N^alpha + B / D^beta``.

    Examples
    --------
    >>> round(float(chinchilla_loss(1e9, 2e10, 1.69, 406.4, 0.34, 410.7, 0.28)), 3)
    2.58
    """
    xp = _xp(N, D, E, A, alpha, B, beta)
    N, D = xp.asarray(N, dtype=float), xp.asarray(D, dtype=float)
    return E + A * xp.power(N, -alpha) + B * xp.power(D, -beta)


def chinchilla_loss_ref(
    N: Array, D: Array, E: Array, a: Array, alpha: Array, b: Array, beta: Array, N0: float = N_REF, D0: float = D_REF
) -> Array:
    """Chinchilla loss with reference-scale amplitudes.

    ``E + exp(a - alpha log(N / N0)) + exp(b - beta log(D / D0))``; ``a`` and ``b`` are the
    log loss contributions at N0 and D0, which removes most of the amplitude/exponent
    correlation of the raw form (DESIGN.md).
    """
    xp = _xp(N, D, E, a, alpha, b, beta)
    return E + xp.exp(a - alpha * xp.log(xp.asarray(N, dtype=float) / N0)) + xp.exp(
        b - beta * xp.log(xp.asarray(D, dtype=float) / D0)
    )


def amplitude_from_reference(log_amplitude_ref: Array, exponent: Array, scale: float) -> Array:
    """Raw amplitude ``A`` from ``a`` at reference scale: ``A = exp(a + alpha log(scale))``."""
    xp = _xp(log_amplitude_ref, exponent)
    return xp.exp(log_amplitude_ref + exponent * np.log(scale))


def reference_from_amplitude(amplitude: Array, exponent: Array, scale: float) -> Array:
    """``a = log(A) - alpha log(scale)``, the inverse of :func:`amplitude_from_reference`."""
    xp = _xp(amplitude, exponent)
    return xp.log(amplitude) - exponent * np.log(scale)


def saturate(D: Array, U: Array, lam: Array) -> Array:
    """Effective data under repetition, ``S(D; U)`` of ATLAS Eq. 3.

    ``S = D`` for ``D <= U`` (at most one epoch) and
    ``S = U (1 + (1 - exp(-lam (D/U - 1))) / lam)`` beyond, which tends to ``U (1 + 1/lam)``.
    ``U = inf`` (or NaN) means unlimited unique data, so ``S = D``.

    Examples
    --------
    >>> float(saturate(2e9, 1e9, 1 / 15.4)) < 2e9
    True
    """
    xp = _xp(D, U, lam)
    D = xp.asarray(D, dtype=float)
    U = xp.asarray(U, dtype=float)
    U = xp.where(xp.isnan(U), xp.inf, U)
    finite_U = xp.where(xp.isfinite(U), U, 1.0)
    excess = xp.maximum(D / finite_U - 1.0, 0.0)
    repeated = finite_U * (1.0 + -xp.expm1(-lam * excess) / lam)
    return xp.where((D <= U) | ~xp.isfinite(U), D, repeated)


def atlas_effective_data(
    D_target: Array,
    U_target: Array,
    lam: Array,
    D_transfer: Array | None = None,
    U_transfer: Array | None = None,
    tau: Array | None = None,
    D_other: Array = 0.0,
    U_other: Array = np.inf,
    tau_other: Array = 0.0,
) -> Array:
    """ATLAS effective data (Eq. 2).

    ``D_eff = S(D_t; U_t) + sum_i tau_i S(D_i; U_i) + tau_other S(D_other; U_other)``.

    Parameters
    ----------
    D_target, U_target
        Target-language tokens and unique tokens.
    lam
        Repetition rate (one, shared across sources).
    D_transfer, U_transfer, tau
        Tokens, unique tokens and transfer weights of the transfer languages ``K_t``; the
        source axis is the **last** axis (shape ``(..., K)``).
    D_other, U_other, tau_other
        All remaining tokens and their weight.
    """
    xp = _xp(D_target, U_target, lam, D_transfer, U_transfer, tau, D_other, tau_other)
    effective = saturate(D_target, U_target, lam)
    if D_transfer is not None:
        if tau is None:
            raise ValueError("tau is required when D_transfer is given")
        U_transfer = xp.inf if U_transfer is None else U_transfer
        lam_k = xp.asarray(lam)[..., None] if np.ndim(lam) else lam
        effective = effective + xp.sum(xp.asarray(tau) * saturate(D_transfer, U_transfer, lam_k), axis=-1)
    return effective + tau_other * saturate(D_other, U_other, lam)


def atlas_loss(
    N: Array, D_eff: Array, E: Array, A: Array, alpha: Array, B: Array, beta: Array
) -> Array:
    """ATLAS loss (Eq. 1): the Chinchilla form evaluated at effective data ``D_eff``."""
    return chinchilla_loss(N, D_eff, E, A, alpha, B, beta)


def dcsl_loss(
    N: Array,
    D: Array,
    U_D: Array,
    E: Array,
    A: Array,
    alpha: Array,
    B: Array,
    beta: Array,
    R_D_star: Array = R_D_STAR,
    R_N_star: Array = R_N_STAR,
    U_N: Array | None = None,
) -> Array:
    """Data-constrained scaling law (Muennighoff et al. 2023).

    ``D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D))`` with ``R_D = D / U_D - 1`` (clipped at 0)
    and likewise ``N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N))`` with ``R_N = N / U_N - 1``.
    ``U_N`` defaults to the compute-optimal parameter count for ``U_D`` tokens under the
    Chinchilla law with the same (A, alpha, B, beta), as in the paper.
    """
    xp = _xp(N, D, U_D, E, A, alpha, B, beta)
    N, D, U_D = (xp.asarray(v, dtype=float) for v in (N, D, U_D))
    if U_N is None:
        U_N = _compute_optimal_params_for_tokens(U_D, A, alpha, B, beta)
    U_N = xp.minimum(U_N, N)
    R_D = xp.maximum(D / U_D - 1.0, 0.0)
    R_N = xp.maximum(N / U_N - 1.0, 0.0)
    D_prime = U_D + U_D * R_D_star * -xp.expm1(-R_D / R_D_star)
    N_prime = U_N + U_N * R_N_star * -xp.expm1(-R_N / R_N_star)
    return E + A * xp.power(N_prime, -alpha) + B * xp.power(D_prime, -beta)


def _compute_optimal_params_for_tokens(D: Array, A: Array, alpha: Array, B: Array, beta: Array) -> Array:
    """N on the Chinchilla compute-optimal frontier that pairs with D tokens."""
    xp = _xp(D, A, alpha, B, beta)
    G = xp.power(alpha * A / (beta * B), 1.0 / (alpha + beta))
    return G * xp.power(D * G, beta / alpha)


def msl_loss(
    N: Array, D: Array, p: Array, E: Array, A: Array, alpha: Array, B: Array, beta: Array, gamma: Array
) -> Array:
    """Multilingual scaling law of He et al. 2024: ``(E + A/N^alpha + B/D^beta) p^(-gamma)``.

    ``p`` is the sampling ratio of the target's language family in the training mixture.
    """
    xp = _xp(N, D, p, E, A, alpha, B, beta, gamma)
    return chinchilla_loss(N, D, E, A, alpha, B, beta) * xp.power(xp.asarray(p, dtype=float), -gamma)


def curse_loss(
    K: Array, N: Array, D_t: Array, L_inf: Array, A: Array, phi: Array, alpha: Array, B: Array, psi: Array, beta: Array
) -> Array:
    """Curse-of-multilinguality law (ATLAS Sec. 5).

    ``L(K, N, D_t) = L_inf + A K^phi / N^alpha + B K^psi / D_t^beta`` for K languages sampled
    uniformly with ``D_t`` tokens each.
    """
    xp = _xp(K, N, D_t, L_inf, A, phi, alpha, B, psi, beta)
    K, N, D_t = (xp.asarray(v, dtype=float) for v in (K, N, D_t))
    return L_inf + A * xp.power(K, phi) * xp.power(N, -alpha) + B * xp.power(K, psi) * xp.power(D_t, -beta)


class ExpansionMultipliers(NamedTuple):
    """Multipliers for going from K to rK languages at equal loss, compute-optimally."""

    N: Array
    D_per_language: Array
    D_total: Array
    C: Array


def expansion_multipliers(r: Array, phi: Array, psi: Array, alpha: Array, beta: Array) -> ExpansionMultipliers:
    """N, data and compute multipliers for K -> rK languages at equal loss (ATLAS Sec. 5).

    ``N' = N r^(phi/alpha)``, ``D_t' = D_t r^(psi/beta)``, ``D_tot' = D_tot r^(1 + psi/beta)``,
    ``C' = C r^(1 + phi/alpha + psi/beta)``.

    Examples
    --------
    >>> m = expansion_multipliers(2, 0.11, -0.04, 0.4526, 0.15)
    >>> round(float(m.N), 2), round(float(m.D_total), 2)
    (1.18, 1.66)
    """
    xp = _xp(r, phi, psi, alpha, beta)
    r = xp.asarray(r, dtype=float)
    n_exp = phi / alpha
    d_exp = psi / beta
    return ExpansionMultipliers(
        N=xp.power(r, n_exp),
        D_per_language=xp.power(r, d_exp),
        D_total=xp.power(r, 1.0 + d_exp),
        C=xp.power(r, 1.0 + n_exp + d_exp),
    )


def tau_from_bts(bts: Array) -> Array:
    """ATLAS transfer weight from a bilingual transfer score: ``tau = BTS / (2 - BTS)``.

    Derivation (FACTS.md Sec. 2): in a 50/50 bilingual run of D tokens,
    ``D_eff = D/2 (1 + tau)``; matching the monolingual loss gives ``BTS = 2 tau / (1 + tau)``.
    Defined for BTS < 2 (tau > -1).

    Examples
    --------
    >>> float(tau_from_bts(0.5))
    0.3333333333333333
    """
    xp = _xp(bts)
    bts = xp.asarray(bts, dtype=float)
    if xp is np and np.any(bts >= 2):
        raise ValueError("BTS must be < 2 for a finite transfer weight tau")
    return bts / (2.0 - bts)


def bts_from_tau(tau: Array) -> Array:
    """Inverse of :func:`tau_from_bts`: ``BTS = 2 tau / (1 + tau)`` (tau > -1)."""
    xp = _xp(tau)
    tau = xp.asarray(tau, dtype=float)
    if xp is np and np.any(tau <= -1):
        raise ValueError("tau must be > -1")
    return 2.0 * tau / (1.0 + tau)


def compute_optimal_chinchilla(
    C: Array, A: Array, alpha: Array, B: Array, beta: Array
) -> tuple[Array, Array]:
    """Closed-form compute-optimal (N, D) for the Chinchilla form under ``C = 6 N D``.

    ``N* = G (C/6)^(beta/(alpha+beta))``, ``D* = G^-1 (C/6)^(alpha/(alpha+beta))`` with
    ``G = (alpha A / (beta B))^(1/(alpha+beta))`` (Hoffmann et al. 2022, App. D.2).
    E does not enter.

    Examples
    --------
    >>> N, D = compute_optimal_chinchilla(1e21, 406.4, 0.34, 410.7, 0.28)
    >>> bool(abs(6 * N * D / 1e21 - 1) < 1e-12)
    True
    """
    xp = _xp(C, A, alpha, B, beta)
    C = xp.asarray(C, dtype=float)
    G = xp.power(alpha * A / (beta * B), 1.0 / (alpha + beta))
    half = C / 6.0
    N = G * xp.power(half, beta / (alpha + beta))
    D = xp.power(half, alpha / (alpha + beta)) / G
    return N, D


def compute_optimal_numeric(
    C: Array,
    loss_of_N_D: Any,
    *,
    log_N_bounds: tuple[float, float] = (np.log(1e5), np.log(1e14)),
    grid_size: int = 256,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise ``loss(N, C / (6 N))`` over N, vectorised over any batch of parameters.

    A log-spaced grid brackets the minimum for every element at once; a vectorised
    golden-section search then refines it. The loss must be unimodal in log N within the
    bracket around the best grid point.

    Parameters
    ----------
    C
        Compute budget(s) in FLOPs; broadcasts with the parameters inside ``loss_of_N_D``.
    loss_of_N_D
        Callable ``f(N, D) -> loss`` that broadcasts: it is called with arrays whose
        **leading** axis is the grid and whose remaining axes broadcast with ``C`` and the
        parameters (e.g. posterior draws).
    log_N_bounds
        Search range for log N.

    Returns
    -------
    N, D, loss
        Arrays of the broadcast batch shape.
    """
    C = np.asarray(C, dtype=float)
    probe = np.asarray(loss_of_N_D(np.float64(1e9), C / 6e9))
    batch_shape = np.broadcast_shapes(probe.shape, C.shape)
    C_b = np.broadcast_to(C, batch_shape)

    def loss_at(log_N: np.ndarray) -> np.ndarray:
        N = np.exp(log_N)
        return np.asarray(loss_of_N_D(N, C_b / (6 * N)))

    grid = np.linspace(*log_N_bounds, grid_size)
    N_grid = np.exp(grid).reshape((-1,) + (1,) * len(batch_shape))
    values = np.broadcast_to(np.asarray(loss_of_N_D(N_grid, C_b / (6 * N_grid))), (grid_size, *batch_shape))
    values = np.where(np.isfinite(values), values, np.inf)
    best = np.argmin(values, axis=0)
    lo = grid[np.clip(best - 1, 0, grid_size - 1)]
    hi = grid[np.clip(best + 1, 0, grid_size - 1)]

    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    x1 = hi - ratio * (hi - lo)
    x2 = lo + ratio * (hi - lo)
    f1, f2 = loss_at(x1), loss_at(x2)
    for _ in range(200):
        if np.all(hi - lo < tol):
            break
        left = f1 < f2
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x2_new = np.where(left, x1, lo + ratio * (hi - lo))
        x1_new = np.where(left, hi - ratio * (hi - lo), x2)
        f_new = loss_at(np.where(left, x1_new, x2_new))
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
        x1, x2 = x1_new, x2_new
    log_N = 0.5 * (lo + hi)
    at_bound = (log_N - log_N_bounds[0] < 1e-6) | (log_N_bounds[1] - log_N < 1e-6)
    if np.any(at_bound):
        warnings.warn(
            f"{int(np.sum(at_bound))} compute-optimal solution(s) sit at the search bound "
            f"N in [{np.exp(log_N_bounds[0]):.3g}, {np.exp(log_N_bounds[1]):.3g}]; widen log_N_bounds",
            RuntimeWarning,
            stacklevel=2,
        )
    N = np.exp(log_N)
    return N, C_b / (6 * N), loss_at(log_N)


def compute_optimal_repeated(
    C: Array,
    E: Array,
    A: Array,
    alpha: Array,
    B: Array,
    beta: Array,
    U: Array,
    lam: Array,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute-optimal (N, D) when data repeat: ``L = E + A/N^alpha + B/S(D; U)^beta``.

    No closed form exists once ``D > U``; this calls :func:`compute_optimal_numeric`
    vectorised over all parameter draws. With ``U = inf`` it equals
    :func:`compute_optimal_chinchilla`.

    Examples
    --------
    >>> N, D, L = compute_optimal_repeated(1e22, 1.7, 406.4, 0.34, 410.7, 0.28, U=1e9, lam=0.065)
    >>> N_free, D_free = compute_optimal_chinchilla(1e22, 406.4, 0.34, 410.7, 0.28)
    >>> bool(N > N_free)  # scarce data: spend more of the budget on parameters
    True
    """

    def loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        return E + A * np.power(N, -alpha) + B * np.power(saturate(D, U, lam), -beta)

    return compute_optimal_numeric(C, loss, **kwargs)
