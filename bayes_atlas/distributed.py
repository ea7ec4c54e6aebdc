"""Many independent fits at once, on Dask distributed: a LocalCluster or a running cluster.

The many-fit routines (:func:`bayes_atlas.evaluate`, :func:`bayes_atlas.transfer_eval.evaluate_languages`
and :func:`~bayes_atlas.transfer_eval.evaluate_random`, the calibration helpers and
:func:`bayes_atlas.calibration.run_suite`) build a list of :class:`Task` objects and hand them to
:func:`run_tasks`:

- ``workers=None, scheduler=None``: run them one after another in this process (serial);
- ``workers=n``: a ``LocalCluster(n_workers=n, threads_per_worker=1, processes=True)`` is
  created and closed inside the call;
- ``scheduler="tcp://host:8786"``: tasks go to a running cluster (``distributed.Client(address)``);
  its workers need this package (same version) importable.

Every task carries its own seed (in its keyword arguments) and its JAX settings
(``jax_devices``: host devices JAX starts with, one per NUTS chain). A worker calls
:func:`bayes_atlas.inference.configure_jax` before JAX starts in it, so each fit samples its
chains in parallel on one virtual host device per chain, exactly as the serial run does:
the same seed gives the same posterior, bit for bit (sequential chains would give another
one, see :func:`bayes_atlas.scaling.fit`). On 2 workers x 4 chains on 2 cores the chains
share the cores; the gain comes from the single-threaded parts (point fits, model building,
compilation, prediction, PSIS-LOO) that now overlap.

Dask is imported only inside these functions: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bayes_atlas import defaults

__all__ = ["Task", "check_scheduler_options", "client_for", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One independent unit of work: ``function(**kwargs)`` with its JAX settings.

    Attributes
    ----------
    function
        A module-level function (pickled by reference: workers import it).
    kwargs
        Its keyword arguments, the seed among them.
    jax_devices
        Host devices JAX must start with in the process that runs it (the fit's chains);
        ``0``: the task starts no JAX.
    key
        A label (Dask task key prefix and progress line).
    """

    function: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    jax_devices: int = defaults.CHAINS
    key: str = "task"


def _prepare_process(jax_devices: int) -> None:
    """JAX settings of a worker process, made before JAX starts in it (again is harmless)."""
    if jax_devices > 0:
        from bayes_atlas.inference import configure_jax

        configure_jax(jax_devices)


def _run(task: Task) -> Any:
    """Worker-side entry point: settings first, then the work."""
    _prepare_process(task.jax_devices)
    return task.function(**task.kwargs)


def check_scheduler_options(workers: int | None, scheduler: str | None) -> None:
    """Raise ValueError for both options at once or a worker count below 1."""
    if workers is not None and scheduler is not None:
        raise ValueError("pass workers= (a LocalCluster) or scheduler= (a running cluster), not both")
    if workers is not None and (int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")


@contextlib.contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None, *, jax_devices: int = defaults.CHAINS) -> Iterator[Any]:
    """A ``distributed.Client``: on a new LocalCluster of ``workers`` processes (closed on exit)
    or connected to ``scheduler``. Every worker's JAX is configured for ``jax_devices`` chains.

    LocalCluster workers are started non-daemonic, so a fit that must sample in a fresh
    process (:func:`bayes_atlas.scaling.fit`) may start one.
    """
    check_scheduler_options(workers, scheduler)
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            client.run(_prepare_process, jax_devices)
            yield client
        return
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        LocalCluster(
            n_workers=int(workers or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,  # logging.ERROR
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_prepare_process, jax_devices)
        yield client


def run_tasks(
    tasks: Sequence[Task],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[Task, Any], None] | None = None,
) -> list[Any]:
    """Results of ``tasks``, in order: serially here, or on Dask workers.

    Parameters
    ----------
    tasks
        The work; each task is independent of the others.
    workers
        Run on a LocalCluster of this many single-threaded worker processes, created and
        closed inside the call.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to run on instead.
    progress
        Called as ``progress(task, result)`` in this process as each task finishes.

    Returns
    -------
    list
        ``task.function(**task.kwargs)`` for each task, in the order given; the same values
        for any of the three ways of running.
    """
    check_scheduler_options(workers, scheduler)
    tasks = list(tasks)
    if workers is None and scheduler is None:
        results = []
        for task in tasks:
            result = _run(task)
            if progress is not None:
                progress(task, result)
            results.append(result)
        return results
    if not tasks:
        return []
    import uuid

    from distributed import as_completed

    devices = max(task.jax_devices for task in tasks)
    run_id = uuid.uuid4().hex[:8]  # keys unique on a shared scheduler
    with client_for(workers, scheduler, jax_devices=devices) as client:
        futures = [client.submit(_run, task, key=f"{task.key}-{run_id}-{i}", pure=False) for i, task in enumerate(tasks)]
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            if progress is not None:
                progress(tasks[i], results[i])
            future.release()
        return results
