"""Load any saved posterior, and check it is the kind a question needs.

:func:`load` reads a file written by ``Fit.save`` (a law fit) or ``TransferFit.save`` (the
transfer map) and dispatches on the model kind stored in it. Loaded files are cached by
file identity (resolved path, size, modification and change times, inode), so saving a new fit over a
file is never answered from the old draws. :func:`resolve` is what every decision calls: it
takes a fitted object, a path or None (the shipped posterior for the role) and refuses a
posterior of the wrong law with :class:`bayes_atlas.errors.PosteriorKindError`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from bayes_atlas.errors import PosteriorFileError, PosteriorKindError

__all__ = ["DEFAULT_FILES", "ROLES", "load", "resolve"]

#: Shipped posteriors by role (files in ``models/``).
DEFAULT_FILES = {
    "law": "atlas-emulated.nc",
    "curse": "curse-emulated.nc",
    "finetune": "finetune-emulated.nc",
    "transfer": "transfer.nc",
}


def _roles() -> dict[str, tuple[str, ...]]:
    from bayes_atlas.laws.registry import REGISTRY

    roles: dict[str, tuple[str, ...]] = {"law": (), "curse": (), "finetune": ()}
    for name, spec in REGISTRY.items():
        roles[spec.role] = (*roles.get(spec.role, ()), name)
    return {**roles, "transfer": ("transfer",)}


#: Which fitted laws answer each role's questions (``LawSpec.role``), and the transfer model.
ROLES = _roles()


@functools.lru_cache(maxsize=16)
def _load_file(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> Any:  # noqa: ARG001 - they key the cache
    import xarray as xr

    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            kind = opened.attrs.get("bayes_atlas_model")
    except Exception as error:  # noqa: BLE001 - any reader failure is one user-facing error
        raise PosteriorFileError(f"cannot read {path} as a netCDF posterior: {error}") from error
    if kind == "transfer":
        from bayes_atlas.transfer import TransferFit

        return TransferFit.load(path)
    if kind == "law":
        from bayes_atlas.scaling import Fit

        return Fit.load(path)
    raise PosteriorFileError(f"{path} holds no bayes_atlas posterior (model kind {kind!r}); fit one and save it")


def load(path: str | Path) -> Any:
    """Read a saved posterior of any kind: a law fit (:class:`bayes_atlas.Fit`) or a transfer fit.

    Parameters
    ----------
    path
        A file written by ``Fit.save`` or ``TransferFit.save``.

    Returns
    -------
    Fit or TransferFit
        Shared with every other caller that loads the same unchanged file (it is cached):
        do not modify it; load a private copy with ``Fit.load(path)`` to experiment.

    Raises
    ------
    bayes_atlas.PosteriorFileError
        Missing, unreadable, not a bayes_atlas posterior, or of an incompatible format.

    Examples
    --------
    >>> import bayes_atlas
    >>> from bayes_atlas._paths import models_dir
    >>> bayes_atlas.load(models_dir() / "finetune-emulated.nc").law
    'finetune'
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise PosteriorFileError(f"no posterior file at {file}")
    stat = file.stat()
    # A save writes a new file and renames it over the old one: a new inode and change time.
    return _load_file(str(file.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _kind(fitted: Any) -> str:
    return "transfer" if type(fitted).__name__ == "TransferFit" else str(getattr(fitted, "law", "?"))


def resolve(role: str, posterior: Any = None) -> Any:
    """The posterior for ``role`` (``law``, ``curse``, ``finetune``, ``transfer``), checked.

    ``posterior`` may be a fitted object, a path to a saved one, or None for the shipped one.

    Raises
    ------
    bayes_atlas.PosteriorKindError
        The posterior is of a law that does not answer this role's questions.
    bayes_atlas.PosteriorFileError
        No file there, or an unreadable one.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {tuple(ROLES)}, got {role!r}")
    if posterior is None:
        from bayes_atlas._paths import models_dir

        path = models_dir() / DEFAULT_FILES[role]
        if not path.is_file():
            raise PosteriorFileError(f"no {role} posterior at {path}; see models/README.md for how to regenerate it")
        fitted, where = load(path), str(path)
    elif isinstance(posterior, str | Path):
        fitted, where = load(posterior), str(posterior)
    else:
        fitted, where = posterior, "the posterior given"
    if getattr(fitted, "failed", False):
        from bayes_atlas.errors import FitFailedError

        raise FitFailedError(
            f"{where}: its chains did not mix ({fitted.meta.get('failure')}); decisions refuse it. Refit, or call "
            "fit.accept_failure() to decide from it anyway"
        )
    found = _kind(fitted)
    if found not in ROLES[role]:
        expected = " or ".join(repr(law) for law in ROLES[role])
        raise PosteriorKindError(
            f"{where} holds a posterior of kind {found!r}, but this question needs the {role} posterior: "
            f"a fit of kind {expected} (fit one with bayes_atlas.fit(runs, law=...), or pass None for the shipped one)"
        )
    return fitted
