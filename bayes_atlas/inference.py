"""Run NUTS on a PyMC model, diagnose it, and save / load labelled posteriors.

NumPyro's NUTS through JAX (float64) is the default sampler; PyMC's own NUTS and nutpie
are selectable for comparison. Results are ArviZ 1.x DataTrees. Loading a saved posterior
needs only xarray (no PyMC, JAX or ArviZ import), so decisions from a shipped posterior
stay fast.

JAX settings are process-global and must be made before JAX starts:
:func:`configure_jax` is called at the top of every fit, and again is harmless.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayes_atlas._io import strict_json, write_atomically
from bayes_atlas.defaults import ESS_MIN, MAX_TREE_DEPTH, R_HAT_MAX
from bayes_atlas.errors import ConvergenceWarning, PosteriorFileError

__all__ = [
    "SAMPLERS",
    "ConvergenceWarning",
    "Diagnostics",
    "PosteriorFileError",
    "as_float64",
    "compact_posterior",
    "configure_jax",
    "diagnose",
    "fit_in_fresh_process",
    "jax_started_with_fewer_devices",
    "read_posterior",
    "sample_nuts",
    "warn_on_diagnostics",
    "write_posterior",
]

SAMPLERS = ("numpyro", "pymc", "nutpie")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Diagnostics:
    """Sampler diagnostics of a fit.

    Attributes
    ----------
    divergences
        Divergent transitions after tuning.
    max_r_hat
        Largest rank-normalised split r_hat over every sampled quantity.
    min_ess_bulk, min_ess_tail
        Smallest bulk / tail effective sample size over every sampled quantity.
    worst_r_hat, worst_ess
        The quantity (``name[index]``) with the largest r_hat / the smallest bulk ESS.
    tree_depth_hits
        Draws that reached the maximum tree depth (0 when the sampler does not report it).
    max_tree_depth
        The tree depth limit used.
    chains, draws
        Shape of the posterior.
    wall_time_s
        Seconds spent in the sampler call, compilation included.
    sampler
        ``numpyro``, ``pymc`` or ``nutpie``.
    stuck_chains
        Chains (0-based positions along ``chain``) that reached the maximum tree depth on at least
        :data:`STUCK_DEPTH_SHARE` of their draws while the other chains mostly did not: a
        chain whose step size adapted to a narrow corner of the posterior and never left it
        (measured on a Goldfish fit: one of four chains at step size 0.005 against 0.019-0.022,
        every draw at depth 10, r_hat 1.54). Empty unless more than half of the chains mostly
        stay below the limit (so never with two chains). Positions, not ``chain`` labels: they
        differ only after chains were selected or concatenated.
    step_sizes
        Each chain's step size after tuning (``step_size_bar`` where the sampler reports it,
        else the mean ``step_size``; empty when it reports neither).
    """

    divergences: int
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    worst_r_hat: str
    worst_ess: str
    tree_depth_hits: int
    max_tree_depth: int
    chains: int
    draws: int
    wall_time_s: float
    sampler: str
    stuck_chains: tuple[int, ...] = ()
    step_sizes: tuple[float, ...] = ()

    @property
    def converged(self) -> bool:
        """True when every threshold of the project's quality bar holds.

        No divergences, r_hat <= 1.01, bulk and tail ESS >= 400. Draws at the maximum tree
        depth do not bias a posterior that passes these (they cost time: warning BA104), so
        they are reported but do not fail it.
        """
        return (
            self.divergences == 0
            and self.max_r_hat <= R_HAT_MAX
            and self.min_ess_bulk >= ESS_MIN
            and self.min_ess_tail >= ESS_MIN
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {key: (value.item() if isinstance(value, np.generic) else value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Diagnostics:
        """Inverse of :meth:`to_dict` as stored in a file (non-finite numbers were written as null)."""
        read = {k: (float("nan") if v is None else v) for k, v in values.items()}
        # JSON lists, absent in files written before them; a non-finite step size was written as null.
        read["stuck_chains"] = tuple(int(c) for c in read.get("stuck_chains", ()))
        read["step_sizes"] = tuple(float("nan") if v is None else float(v) for v in read.get("step_sizes", ()))
        return cls(**read)

    def stuck_note(self) -> str:
        """A sentence naming the stuck chains and what to do ('' when there are none)."""
        if not self.stuck_chains:
            return ""
        which = ", ".join(str(c) for c in self.stuck_chains)
        plural = "s" if len(self.stuck_chains) > 1 else ""
        note = f"chain{plural} {which} of {self.chains} stuck at the maximum tree depth"
        if len(self.step_sizes) == self.chains:
            stuck = [self.step_sizes[c] for c in self.stuck_chains]
            others = [s for c, s in enumerate(self.step_sizes) if c not in self.stuck_chains]
            if np.isfinite(stuck).any() and np.isfinite(others).any():
                note += f" (step size {_span(stuck)} against {_span(others)} in the others)"
        return note + "; rerun with another random_seed or more tune, and check the other chains' posterior"


def _span(values: list[float]) -> str:
    finite = [v for v in values if np.isfinite(v)]
    low, high = min(finite), max(finite)
    return f"{low:.2g}" if np.isclose(low, high, rtol=0.05) else f"{low:.2g}-{high:.2g}"


#: A chain with at least this share of its draws at the maximum tree depth is reported as
#: stuck when more than half of all chains have under :data:`STUCK_OTHERS_SHARE` there.
STUCK_DEPTH_SHARE = 0.9
STUCK_OTHERS_SHARE = 0.5


def _stuck_chains(at_limit: np.ndarray) -> tuple[int, ...]:
    """Chains (rows of the ``(chain, draw)`` boolean ``at_limit``) that saturate while most do not."""
    share = at_limit.mean(axis=1)
    if np.sum(share < STUCK_OTHERS_SHARE) <= share.size / 2:
        return ()  # no majority of healthy chains: hard geometry everywhere, or no telling which
    return tuple(int(c) for c in np.flatnonzero(share >= STUCK_DEPTH_SHARE))


def configure_jax(n_chains: int = 4) -> None:
    """Float64, ``n_chains`` host devices (parallel chains) and a persistent compile cache.

    What this changes in the process, and only where the user has not decided it:

    - JAX's float64 mode (``numpyro.enable_x64``): the models need it (float32 gave 30x more
      divergences, TOOLCHAIN.md);
    - the host device count, only before JAX has started (``XLA_FLAGS``; afterwards it could
      not take effect, and :func:`bayes_atlas.fit` samples in a fresh process instead);
    - the persistent compilation cache, only if none is configured (``JAX_COMPILATION_CACHE_DIR``
      or ``jax.config``): the project's ``.cache/jax``.
    """
    import sys

    import numpyro

    if "jax" not in sys.modules or not _jax_started():
        # At least 4 (the default chains), so a first fit with fewer chains does not force
        # later default fits into a fresh process.
        numpyro.set_host_device_count(max(int(n_chains), 4))
    numpyro.enable_x64(True)
    import jax

    from bayes_atlas._paths import cache_dir

    if not (os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir):
        jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _jax_started() -> bool:
    try:
        from jax._src import xla_bridge  # private: JAX has no public "backend started" query

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return True  # cannot tell: assume started and change nothing that needs a fresh start


def sample_nuts(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    nuts_sampler: str = "numpyro",
    target_accept: float = 0.9,
    dense_mass: bool = True,
    max_tree_depth: int = MAX_TREE_DEPTH,
    progressbar: bool = True,
    init: str = "jitter",
) -> tuple[xr.DataTree, float]:
    """Sample ``model`` with NUTS; return the DataTree and the wall time in seconds.

    Parameters
    ----------
    model
        A ``pymc.Model``.
    draws, tune, chains
        Kept draws and tuning steps per chain; number of chains.
    random_seed
        Seed (``None``: random).
    nuts_sampler
        ``"numpyro"`` (default), ``"pymc"`` or ``"nutpie"``.
    target_accept
        Target acceptance rate of step-size adaptation.
    dense_mass
        Adapt a dense mass matrix (NumPyro only; PyMC's NUTS adapts a diagonal one, nutpie
        its own low-rank one).
    max_tree_depth
        Tree depth limit.
    progressbar
        Show the sampler's progress bar.
    init
        ``"jitter"`` (PyMC's default: every free variable of every chain starts at its
        initial value plus uniform(-1, 1) noise on the unconstrained scale) or ``"z"``:
        population and noise parameters start at their initial values and only the standard
        normal offsets (variables named ``*_z``) are dispersed, by N(0, 0.5) per chain
        (NumPyro and PyMC samplers). With many languages and little data per language a
        jittered noise scale or exponent can strand a chain (measured on Goldfish: one of
        four chains stuck at sigma 0.29 and beta -6.5, r_hat 2.2).
    """
    if init not in ("jitter", "z"):
        raise ValueError(f"init must be 'jitter' or 'z', got {init!r}")
    if nuts_sampler not in SAMPLERS:
        raise ValueError(f"nuts_sampler must be one of {SAMPLERS}, got {nuts_sampler!r}")
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) != value or value < (0 if name == "tune" else 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    if nuts_sampler == "numpyro":
        configure_jax(chains)
    import pymc as pm

    kwargs: dict[str, Any] = {}
    if nuts_sampler == "numpyro":
        import jax

        # Parallel chains need one host device per chain, which can only be set before JAX
        # starts (configure_jax); in a process where JAX is already running, run them in turn.
        # On an accelerator, chains run vectorised on one device.
        if jax.default_backend() != "cpu":
            chain_method = "vectorized"
        else:
            chain_method = "parallel" if jax.local_device_count() >= chains else "sequential"
        kwargs["nuts"] = {
            "chain_method": chain_method,
            "target_accept": target_accept,
            "dense_mass": dense_mass,
            "max_tree_depth": max_tree_depth,
        }
    elif nuts_sampler == "pymc":
        kwargs["nuts"] = {"target_accept": target_accept, "max_treedepth": max_tree_depth}
    else:
        try:
            import nutpie  # noqa: F401
        except ImportError as error:
            raise ImportError("nuts_sampler='nutpie' needs nutpie: pip install nutpie==0.16.11") from error
        kwargs["nuts"] = {"target_accept": target_accept, "max_treedepth": max_tree_depth}  # PyMC passes it as maxdepth
    initvals = None
    if init == "z":
        rng = np.random.default_rng(random_seed)
        offsets = [v for v in model.free_RVs if v.name.endswith("_z")]
        shapes = model.initial_point()
        initvals = [{v.name: rng.normal(0.0, 0.5, size=shapes[v.name].shape) for v in offsets} for _ in range(chains)]
        if nuts_sampler == "nutpie":
            raise ValueError("init='z' needs per-chain initial values, which nutpie does not take; use init='jitter'")
        if nuts_sampler == "pymc":
            kwargs["init"] = "adapt_diag"  # PyMC's own NUTS: no jitter
        else:
            kwargs["nuts"]["jitter"] = False
    start = time.perf_counter()
    with model, warnings.catch_warnings():
        # PyMC re-reports divergences as its own warning; diagnose() reports them with a code.
        warnings.filterwarnings("ignore", message=".*divergences after tuning.*")
        warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            nuts_sampler=nuts_sampler,
            progressbar=progressbar,
            compute_convergence_checks=False,
            initvals=initvals,
            **kwargs,
        )
    wall = time.perf_counter() - start
    idata.attrs["max_tree_depth"] = max_tree_depth
    idata.attrs["chain_method"] = kwargs.get("nuts", {}).get("chain_method", "") if nuts_sampler == "numpyro" else ""
    return idata, wall


def jax_started_with_fewer_devices(chains: int) -> bool:
    """True when JAX already runs with fewer host devices than ``chains`` (chains would then
    run sequentially, whose floating point differs from parallel chains: another posterior
    for the same seed)."""
    import sys

    if "jax" not in sys.modules or not _jax_started():
        return False
    import jax

    return jax.default_backend() == "cpu" and jax.local_device_count() < chains


def fit_in_fresh_process(function: Any, arguments: dict[str, Any]) -> Any:
    """Run ``function(**arguments)`` in a new interpreter (``python -m bayes_atlas.inference``).

    For a fit whose chains must run in parallel when JAX already runs here with fewer host
    devices (:func:`jax_started_with_fewer_devices`): in the new process JAX starts with one
    host device per chain, so the same seed gives the same posterior as a fit in a fresh
    session. ``function`` and ``arguments`` travel by pickle (``function`` must be importable
    by name: a module-level function or a bound method of a picklable object), and so does
    the result. Not multiprocessing's spawn: that re-imports the caller's ``__main__``, which
    reruns a script without a ``if __name__ == "__main__":`` guard.

    Returns
    -------
    Any
        What ``function`` returned.

    Raises
    ------
    Exception
        The function's own error, re-raised here (``FitInputError``, ``FitFailedError``, ...).
    RuntimeError
        If the new process died without an answer (its output is shown above the error).
    """
    import pickle
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bayes-atlas-fit-") as folder:
        request, answer = Path(folder) / "arguments.pkl", Path(folder) / "fit.pkl"
        request.write_bytes(pickle.dumps((function, arguments)))
        done = subprocess.run([sys.executable, "-m", "bayes_atlas.inference", str(request), str(answer)], check=False)
        if not answer.is_file():
            raise RuntimeError(
                f"the fit in a fresh process failed (exit {done.returncode}; its output is above). To sample in "
                "this process instead, import bayes_atlas and fit before anything starts JAX"
            )
        outcome = pickle.loads(answer.read_bytes())
        if isinstance(outcome, BaseException):
            raise outcome  # the fit's own error (FitInputError, FitFailedError, ...)
        return outcome


def diagnose(
    idata: xr.DataTree,
    *,
    var_names: list[str] | None = None,
    wall_time_s: float = float("nan"),
    sampler: str = "numpyro",
    max_tree_depth: int | None = None,
) -> Diagnostics:
    """Divergences, r_hat, ESS and tree-depth hits of a sampled DataTree.

    ``var_names`` defaults to every variable of the posterior group.
    """
    import arviz as az

    posterior = idata["posterior"].to_dataset()
    if var_names is not None:
        posterior = posterior[var_names]
    r_hat = az.rhat(posterior)
    ess_bulk = az.ess(posterior, method="bulk")
    ess_tail = az.ess(posterior, method="tail")

    def extreme(dataset: Any, pick: str) -> tuple[float, str]:
        best_value, best_name = (np.inf if pick == "min" else -np.inf), ""
        # A quantity stuck at one value in every chain has r_hat / ESS NaN: that is a failure,
        # not something to skip (NaN r_hat -> inf, NaN ESS -> 0).
        for name, values in dataset.data_vars.items():
            array = np.asarray(values.values, dtype=float)
            finite = np.where(np.isfinite(array), array, np.inf if pick == "max" else 0.0)
            if finite.size == 0:
                continue
            flat = int(np.argmin(finite) if pick == "min" else np.argmax(finite))
            value = float(finite.ravel()[flat])
            if (pick == "min" and value < best_value) or (pick == "max" and value > best_value):
                index = np.unravel_index(flat, finite.shape) if finite.ndim else ()
                label = ",".join(str(values[dim].values[i]) for dim, i in zip(values.dims, index, strict=True))
                best_value, best_name = value, f"{name}[{label}]" if label else str(name)
        return best_value, best_name

    max_r_hat, worst_r_hat = extreme(r_hat, "max")
    min_ess_bulk, worst_ess = extreme(ess_bulk, "min")
    min_ess_tail, _ = extreme(ess_tail, "min")
    stats = idata["sample_stats"]
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    depth_limit = int(max_tree_depth or idata.attrs.get("max_tree_depth", 10))
    # The sampler's own flag where it has one (PyMC: reached_max_treedepth, nutpie:
    # maxdepth_reached; a tree that U-turned in its last doubling also has depth == limit),
    # else the depth (NumPyro: tree_depth, nutpie: depth).
    flag = next((name for name in ("reached_max_treedepth", "maxdepth_reached") if name in stats), None)
    depth = next((name for name in ("tree_depth", "depth") if name in stats), None)
    at_limit = None
    if flag is not None:
        at_limit = np.asarray(stats[flag].transpose("chain", "draw").values, dtype=bool)
    elif depth is not None:
        at_limit = np.asarray(stats[depth].transpose("chain", "draw").values) >= depth_limit
    hits = int(at_limit.sum()) if at_limit is not None else 0
    stuck = _stuck_chains(at_limit) if at_limit is not None else ()
    # The step size sampled with after tuning: PyMC's and nutpie's step_size_bar (their
    # step_size is the last tuning proposal), NumPyro's step_size.
    step = next((name for name in ("step_size_bar", "step_size") if name in stats), None)
    step_sizes = tuple(float(v) for v in stats[step].mean("draw").values.ravel()) if step is not None else ()
    return Diagnostics(
        divergences=divergences,
        max_r_hat=max_r_hat,
        min_ess_bulk=min_ess_bulk,
        min_ess_tail=min_ess_tail,
        worst_r_hat=worst_r_hat,
        worst_ess=worst_ess,
        tree_depth_hits=hits,
        max_tree_depth=depth_limit,
        chains=int(posterior.sizes["chain"]),
        draws=int(posterior.sizes["draw"]),
        wall_time_s=float(wall_time_s),
        sampler=sampler,
        stuck_chains=stuck,
        step_sizes=step_sizes,
    )


def warn_on_diagnostics(diagnostics: Diagnostics, *, what: str = "the fit", stacklevel: int = 3) -> None:
    """Raise one :class:`ConvergenceWarning` per failed threshold, each saying what to do."""
    d = diagnostics
    if d.divergences:
        warnings.warn(
            ConvergenceWarning(
                "BA101",
                f"{what}: {d.divergences} divergent transitions; raise target_accept (e.g. 0.95) "
                "and check the priors before trusting the intervals",
            ),
            stacklevel=stacklevel,
        )
    if not d.max_r_hat <= R_HAT_MAX:
        warnings.warn(
            ConvergenceWarning(
                "BA102",
                f"{what}: r_hat {d.max_r_hat:.3f} > {R_HAT_MAX} ({d.worst_r_hat}); "
                + (d.stuck_note() if d.stuck_chains else "run more tune/draws or more chains"),
            ),
            stacklevel=stacklevel,
        )
    if not min(d.min_ess_bulk, d.min_ess_tail) >= ESS_MIN:
        warnings.warn(
            ConvergenceWarning(
                "BA103",
                f"{what}: effective sample size {min(d.min_ess_bulk, d.min_ess_tail):.0f} < {ESS_MIN} "
                f"({d.worst_ess}); increase draws",
            ),
            stacklevel=stacklevel,
        )
    if d.tree_depth_hits:
        warnings.warn(
            ConvergenceWarning(
                "BA104",
                f"{what}: {d.tree_depth_hits} draws hit the maximum tree depth {d.max_tree_depth}; "
                "the posterior geometry is hard; this costs time, not validity, while r_hat and ESS pass "
                "(raise max_tree_depth or reparameterise)",
            ),
            stacklevel=stacklevel,
        )


def compact_posterior(posterior: xr.Dataset, *, max_draws: int | None = None, float32: bool = False) -> xr.Dataset:
    """Thin ``posterior`` evenly per chain to at most ``max_draws`` in total; optionally store floats in single precision."""
    if max_draws is not None:
        per_chain = max(1, int(max_draws) // posterior.sizes["chain"])
        step = max(1, posterior.sizes["draw"] // per_chain)
        posterior = posterior.isel(draw=slice(None, None, step)).isel(draw=slice(0, per_chain))
    if float32:
        posterior = posterior.map(lambda v: v.astype(np.float32) if v.dtype.kind == "f" else v)
    return posterior


def as_float64(posterior: xr.Dataset) -> xr.Dataset:
    """Undo :func:`compact_posterior`'s single precision after loading."""
    return posterior.map(lambda v: v.astype(np.float64) if v.dtype.kind == "f" else v)


def write_posterior(tree: xr.DataTree, path: str | Path, *, model: str, attrs: dict[str, Any]) -> Path:
    """Write ``tree`` to netCDF atomically with identifying attributes.

    ``attrs`` values that are not strings or numbers are stored as JSON text.
    """
    from bayes_atlas import __version__

    tree = tree.copy()
    stored = {
        "bayes_atlas_model": model,
        "bayes_atlas_format": FORMAT_VERSION,
        "bayes_atlas_version": __version__,
    }
    for key, value in attrs.items():
        # Strict JSON: a one-chain fit's r_hat is inf, stored as null and read back as NaN.
        stored[key] = (
            value if isinstance(value, str | int | float) else json.dumps(strict_json(value), sort_keys=True, allow_nan=False)
        )
    tree.attrs = {**tree.attrs, **stored}

    def write(tmp: Path) -> None:
        encoding = {}
        for node in tree.subtree:
            node_encoding = {
                name: {"zlib": True, "complevel": 4}
                for name, variable in node.dataset.data_vars.items()
                if variable.dtype.kind in "fiub"
            }
            if node_encoding:
                encoding[node.path] = node_encoding
        tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)

    return write_atomically(path, write)


def read_posterior(path: str | Path, *, model: str) -> xr.DataTree:
    """Read a posterior written by :func:`write_posterior`, fully into memory.

    Raises
    ------
    PosteriorFileError
        If the file is missing or unreadable, was written for another model, or by an
        incompatible format version.
    """
    path = Path(path)
    if not path.is_file():
        raise PosteriorFileError(f"no posterior file at {path}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load().copy()
    except Exception as error:  # noqa: BLE001 - any reader failure is one user-facing error
        raise PosteriorFileError(f"cannot read {path} as a netCDF posterior: {error}") from error
    found = tree.attrs.get("bayes_atlas_model")
    if found != model:
        raise PosteriorFileError(
            f"{path} holds a {found or 'non-bayes_atlas'!s} posterior, not a {model!r} one; "
            f"load it with the matching model's load()"
        )
    version = int(tree.attrs.get("bayes_atlas_format", -1))
    if version != FORMAT_VERSION:
        raise PosteriorFileError(
            f"{path} uses posterior format {version}; this bayes_atlas reads format {FORMAT_VERSION}: refit and save again"
        )
    return tree


def json_attr(tree: xr.DataTree, key: str) -> Any:
    """Decode an attribute stored as JSON by :func:`write_posterior`."""
    value = tree.attrs.get(key)
    if value is None:
        raise PosteriorFileError(f"posterior file lacks the {key!r} attribute; refit and save again")
    return json.loads(value) if isinstance(value, str) else value


if __name__ == "__main__":  # the fresh process of fit_in_fresh_process
    import pickle
    import sys

    _request, _answer = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        _function, _arguments = pickle.loads(_request.read_bytes())  # imports the function's module by name
        _outcome = _function(**_arguments)
    except Exception as _error:  # noqa: BLE001 - handed back to the parent, which raises it
        _outcome = _error
    _answer.write_bytes(pickle.dumps(_outcome))
