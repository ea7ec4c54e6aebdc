"""Safe file writes for the package and the command line.

:func:`write_atomically` writes to a temporary file beside the target, flushes it to disk and
renames it over the target, so a reader never sees a half-written file. :func:`check_output_path`
is what the ``bayes-atlas`` commands call *before* any expensive work: it refuses an output that
is one of the command's inputs, refuses to replace a file that bayes_atlas did not write (unless
forced), and checks that the directory can be written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bayes_atlas.errors import OutputPathError  # noqa: F401 - re-exported for the CLI

#: Marker the command line appends to the model cards it writes (an HTML comment: invisible in
#: rendered markdown), so that a later run may replace them without ``--force``.
CARD_MARKER = "<!-- written by bayes-atlas -->"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _fsync_file(path: Path) -> None:
    # O_RDWR: Windows refuses to flush a read-only descriptor.
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` only if it succeeded.

    The temporary file sits beside ``path`` (same file system, so the rename is atomic), is
    flushed to disk (``fsync``) before the rename, and the directory entry is flushed after it.
    Nothing is left half-written: on any error, ``KeyboardInterrupt`` included, the temporary
    file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(tmp_name)
        os.close(handle)
        write(tmp)
        _fsync_file(tmp)
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        tmp = None
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)
    return target


# -- output checks (used by the command line before it samples) ---------------------------------


def is_posterior_file(path: str | Path) -> bool:
    """Whether ``path`` is a netCDF posterior written by bayes_atlas (``bayes_atlas_model`` attribute)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_HDF5_SIGNATURE)) != _HDF5_SIGNATURE:
                return False
        import h5py

        with h5py.File(path, "r") as opened:
            return "bayes_atlas_model" in opened.attrs
    except Exception:  # noqa: BLE001 - unreadable means "not ours"
        return False


def is_model_card(path: str | Path) -> bool:
    """Whether ``path`` is a markdown model card written by bayes_atlas.

    Cards written by the command line end with :data:`CARD_MARKER`; older cards (such as the
    shipped ``models/*.md``) are recognised by their first lines: a ``# `` title and a
    ``Created ...`` line naming the law or bayes_atlas.
    """
    try:
        if Path(path).stat().st_size > 4_000_000:
            return False
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if CARD_MARKER in text:
        return True
    lines = text.splitlines()[:5]
    return (
        bool(lines)
        and lines[0].startswith("# ")
        and any(line.startswith("Created ") and ("law `" in line or "bayes_atlas" in line) for line in lines)
    )


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _probe_writable(directory: Path) -> None:
    """Create and remove a file in ``directory`` (the only check that holds for ACLs, read-only mounts and root)."""
    handle, name = tempfile.mkstemp(prefix=".bayes-atlas-probe.", dir=directory)
    os.close(handle)
    os.unlink(name)


def check_output_path(
    path: str | Path,
    *,
    option: str = "--out",
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    force: bool = False,
    ours: Callable[[Path], bool] | None = None,
    what: str = "file",
) -> Path:
    """Check, before any work, that ``path`` may be written; return it resolved.

    Parameters
    ----------
    path
        The output path the user gave.
    option
        The option that named it, for messages (``--out``, ``--card``).
    inputs
        ``(label, path)`` pairs of the command's inputs (and of its other outputs); ``path``
        may be None. The output may never be one of them, whatever ``force`` says: symlinks
        are resolved and hard links compared by inode.
    force
        Replace an existing file even if it is not one bayes_atlas wrote.
    ours
        Recognises a file bayes_atlas wrote (it may be replaced without ``force``); None: any
        existing file needs ``force``.
    what
        What the command writes (``netCDF posterior``, ``model card``, ``CSV``), for messages.

    Raises
    ------
    OutputPathError
        If the path is an input, a directory, an existing foreign file without ``force``, or
        if its directory cannot be created or written.
    """
    given = Path(path).expanduser()
    resolved = given.resolve()
    for label, other in inputs:
        if other is None:
            continue
        if _same_file(resolved, Path(other).expanduser().resolve()):
            raise OutputPathError(
                f"{option} {path} is the same file as {label} {other}: writing it would destroy that input; "
                "choose another output path"
            )
    if resolved.is_dir():
        raise OutputPathError(f"{option} {path} is a directory; give a file path")
    if resolved.exists() and not force and (ours is None or not ours(resolved)):
        kind = "" if ours is None else f" (it is not a {what} bayes_atlas wrote)"
        raise OutputPathError(f"{option} {path} exists{kind}; refusing to overwrite it: pass --force to replace it")
    # The nearest existing ancestor must be a directory we can write in (write_atomically makes the rest).
    ancestor = resolved.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{option} {path}: {ancestor} is not a directory")
    try:
        _probe_writable(ancestor)
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputPathError(f"{option} {path}: cannot write in {ancestor} ({reason})") from None
    return resolved


def strict_json(value: Any) -> Any:
    """``value`` as strict JSON data: numpy scalars and arrays to Python, non-finite numbers to
    None, paths and other objects to strings (decisions' ``to_dict`` and saved posteriors' attributes use it).

    Examples
    --------
    >>> import numpy as np
    >>> strict_json({"a": np.float64("nan"), "b": np.arange(2), "c": (1.5, float("inf"))})
    {'a': None, 'b': [0, 1], 'c': [1.5, None]}
    """
    import numpy as np  # here, not at import: the CLI imports this module and must start fast

    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [strict_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
