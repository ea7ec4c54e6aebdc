"""Closed forms and numeric helpers of the scaling laws: pure array maths.

The loss formulas themselves live once each in the law registry (:mod:`bayes_atlas.laws`,
one module per law); this module holds what the laws share or derive from them: the
repetition saturation ``S`` (ATLAS Eq. 3), reference-scale amplitudes, the transfer weight
``tau = BTS / (2 - BTS)``, closed-form and numeric compute optima and the curse law's
expansion multipliers. Formulas are those of ATLAS (Longpre et al. 2026, Sec. 3, 5, 6; see
``../shared/atlas/FACTS.md``), Chinchilla (Hoffmann et al. 2022) and the data-constrained law
(Muennighoff et al. 2023).

Every function broadcasts, so a vector of posterior draws can be passed for any parameter.
No sampling and no I/O happen here.
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
    "bts_from_tau",
    "chinchilla_loss",
    "compute_optimal_chinchilla",
    "compute_optimal_numeric",
    "compute_optimal_repeated",
    "expansion_multipliers",
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

Array = Any  # numpy, jax or pytensor array, or a Python scalar


def _xp(*arrays: object) -> Any:
    """jax.numpy if any argument is a JAX array (or tracer), pytensor.tensor for a tensor, else numpy."""
    for value in arrays:
        module = type(value).__module__
        if module.startswith(("jax", "jaxlib")):
            import jax.numpy as jnp

            return jnp
        if module.startswith("pytensor"):
            import pytensor.tensor as pt

            return pt
    return np


def _is_data(*arrays: object) -> bool:
    """True when every argument is concrete numpy data (no tensor or tracer)."""
    return all(isinstance(value, np.ndarray | np.generic | float | int) for value in arrays)


def chinchilla_loss(N: Array, D: Array, E: Array, A: Array, alpha: Array, B: Array, beta: Array) -> Array:
    """Chinchilla loss ``E + A / N^alpha + B / D^beta`` with raw amplitudes.

    The registry's ``chinchilla`` law (:mod:`bayes_atlas.laws.chinchilla`) evaluated at
    ``a = log A - alpha log N_REF``, ``b = log B - beta log D_REF``.

    Examples
    --------
    >>> round(float(chinchilla_loss(1e9, 2e10, 1.69, 406.4, 0.34, 410.7, 0.28)), 3)
    2.58
    """
    from bayes_atlas.laws.design import Design
    from bayes_atlas.laws.registry import get_law

    xp = _xp(N, D, E, A, alpha, B, beta)
    params = {
        "log_E": xp.log(E),
        "a": reference_from_amplitude(A, alpha, N_REF),
        "alpha": alpha,
        "b": reference_from_amplitude(B, beta, D_REF),
        "beta": beta,
    }
    return xp.exp(get_law("chinchilla").mean_log_loss(xp, Design.of_run(params=N, tokens=D), params))


def amplitude_from_reference(log_amplitude_ref: Array, exponent: Array, scale: float) -> Array:
    """Raw amplitude ``A`` from ``a`` at reference scale: ``A = exp(a + alpha log(scale))``."""
    xp = _xp(log_amplitude_ref, exponent)
    return xp.exp(log_amplitude_ref + exponent * np.log(scale))


def reference_from_amplitude(amplitude: Array, exponent: Array, scale: float) -> Array:
    """``a = log(A) - alpha log(scale)``, the inverse of :func:`amplitude_from_reference`."""
    xp = _xp(amplitude, exponent)
    return xp.log(amplitude) - exponent * np.log(scale)


def saturate(D: Array, U: Array, lam: Array, xp: Any = None) -> Array:
    """Effective data under repetition, ``S(D; U)`` of ATLAS Eq. 3.

    ``S = D`` for ``D <= U`` (at most one epoch) and
    ``S = U (1 + (1 - exp(-lam (D/U - 1))) / lam)`` beyond, which tends to ``U (1 + 1/lam)``.
    ``U = inf`` (or NaN) means unlimited unique data, so ``S = D``.

    Parameters
    ----------
    D, U
        Tokens and unique tokens (data: numpy).
    lam
        Repetition rate (a number, numpy draws, or a pytensor / JAX tensor).
    xp
        Array namespace of ``lam`` (numpy, ``jax.numpy`` or ``pytensor.tensor``); detected
        when None. Data-only parts are computed with numpy whenever the data are numpy, so
        no branch of ``where`` ever carries a NaN gradient.

    Examples
    --------
    >>> float(saturate(2e9, 1e9, 1 / 15.4)) < 2e9
    True
    """
    xp = _xp(D, U, lam) if xp is None else xp
    dp = np if _is_data(D, U) else xp
    D = dp.asarray(D, dtype=float)
    U = dp.asarray(U, dtype=float)
    U = dp.where(dp.isnan(U), dp.inf, U)
    bounded = dp.isfinite(U)
    finite_U = dp.where(bounded, U, 1.0)
    excess = dp.maximum(D / finite_U - 1.0, 0.0)
    repeated = finite_U * (1.0 - xp.expm1(-lam * excess) / lam)
    return xp.where((D <= U) | ~bounded, D, repeated)


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
    if _is_data(bts):
        bts = np.asarray(bts, dtype=float)
        if np.any(bts >= 2):
            raise ValueError("BTS must be < 2 for a finite transfer weight tau")
    return bts / (2.0 - bts)


def bts_from_tau(tau: Array) -> Array:
    """Inverse of :func:`tau_from_bts`: ``BTS = 2 tau / (1 + tau)`` (tau > -1)."""
    if _is_data(tau):
        tau = np.asarray(tau, dtype=float)
        if np.any(tau <= -1):
            raise ValueError("tau must be > -1")
    return 2.0 * tau / (1.0 + tau)


def compute_optimal_chinchilla(C: Array, A: Array, alpha: Array, B: Array, beta: Array) -> tuple[Array, Array]:
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

    from bayes_atlas.laws.design import Design
    from bayes_atlas.laws.registry import get_law

    law = get_law("atlas")
    params = {
        "log_E": np.log(E),
        "a": reference_from_amplitude(A, alpha, N_REF),
        "alpha": alpha,
        "b": reference_from_amplitude(B, beta, D_REF),
        "beta": beta,
        "lam": lam,
        "tau": 0.0,
        "tau_other": 0.0,
    }

    def loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        return np.exp(law.mean_log_loss(np, Design.of_run(params=N, tokens=D, unique=U), params))

    return compute_optimal_numeric(C, loss, **kwargs)
