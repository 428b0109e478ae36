"""One Dask fan-out: many independent tasks on a cluster, each reported done or failed on its own.

`denoise_many` (stacks) and the survey (pointings) both run through `fan_out`;
`cluster_map` spreads the parts of one task (a pointing's search and injection
realizations) over the same cluster; `task_map` lets a task start parts on the
other workers while it works itself.

`fan_out`:
a `distributed.LocalCluster` it starts and closes, a scheduler's address, or
a client the caller holds; fresh task keys on every call, retries per task,
and a failure that is returned, not raised, so that one bad task never sinks
the others.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping

from .extras import require_extra

__all__ = ["dask_client", "fan_out", "cluster_map", "task_map", "spawn_environment", "WORKER_ENV"]

#: The environment of the workers of a cluster started here, and (where not set already) of any
#: process importing asteris. torch then backs its large CPU tensors with transparent huge pages
#: (Linux): without, the network's activations (hundreds of MB a tile, beyond what the allocator
#: keeps for reuse) come back as fresh 4-KB pages on every layer, and the kernel spent 40% of a
#: one-thread network pass filling them in. The images are the same bit for bit.
WORKER_ENV = {"THP_MEM_ALLOC_ENABLE": "1"}


#: Dask's settings of the environment its nannies start workers in.
SPAWN_ENV = "distributed.nanny.pre-spawn-environ"


def spawn_environment() -> dict:
    """Dask's environment for the workers a nanny starts, less ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets it so that freed memory goes back to the system at once. Set at all, it also stops
    glibc from raising the size above which a block is mapped afresh (128 kB, else up to 32 MB as
    large blocks are freed), so every block of the network's layers between those sizes comes back as
    new pages: in one run, a one-thread network pass over a 768-px pointing in a Dask worker took 4%
    longer alone with it, and 7-10% longer beside another worker's.
    """
    import dask
    import distributed  # noqa: F401  (its settings are Dask's once imported)

    return {k: v for k, v in dask.config.get(SPAWN_ENV, {}).items() if k != "MALLOC_TRIM_THRESHOLD_"}


def dask_client(scheduler, n_workers: int, *, threads_per_worker: int = 1, feature: str):
    """A `distributed.Client` and the cluster it started (None when given a client or an address).

    ``scheduler``: None or ``"local"`` (a `distributed.LocalCluster` of ``n_workers``
    processes), an address such as ``tcp://host:8786``, or a `distributed.Client`.
    """
    require_extra("survey", feature=feature)
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler, None  # a Client given by the caller
    if scheduler in (None, "local"):
        with dask.config.set({SPAWN_ENV: spawn_environment()}):
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                                   dashboard_address=":0", env=WORKER_ENV)  # fmt: skip
        return Client(cluster), cluster
    return Client(scheduler), None


def fan_out(
    function: Callable,
    tasks: Mapping[str, tuple],
    *,
    scheduler=None,
    n_workers: int = 1,
    retries: int = 1,
    feature: str,
    key: str = "asteris",
    on_done: Callable[[str], None] | None = None,
    **common,
) -> dict[str, object]:
    """``function(*args, **common)`` for each named task on a Dask cluster.

    Returns each task's result, or the exception it raised, by name; ``on_done``
    is called with each name as its task ends (a progress bar's update).
    """
    from distributed import as_completed

    client, cluster = dask_client(scheduler, n_workers, feature=feature)
    made_here = client is not scheduler  # a client the caller gave stays open
    run = uuid.uuid4().hex[:8]  # fresh task keys: a scheduler must not hand back an earlier run's results
    try:
        futures = {client.submit(function, *args, **common, key=f"{key}-{run}-{name}", retries=retries,
                                 pure=False): name for name, args in tasks.items()}  # fmt: skip
        results: dict[str, object] = {}
        for future in as_completed(futures):
            name = futures[future]
            try:
                results[name] = future.result()
            except Exception as exc:  # reported per task: one bad task must not sink the others
                results[name] = exc
            if on_done is not None:
                on_done(name)
        return results
    finally:
        if made_here:
            client.close()
        if cluster is not None:
            cluster.close()


def _apply(function: Callable, item, torch_threads: int | None = None):
    if torch_threads is None:
        return function(item)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        return function(item)
    finally:
        torch.set_num_threads(before)


def cluster_map(client=None) -> Callable[[Callable, list], list]:
    """A map that runs ``function(item)`` for each item as a task of a Dask cluster, results in order.

    ``client``: a `distributed.Client`; by default, called from inside a Dask task, the cluster
    that runs that task (`distributed.worker_client`: the task steps aside while its parts run, so
    a worker of one thread can run them too). ``function`` is sent to the cluster once. Where the
    caller has torch loaded, each part runs on the caller's number of torch threads, whatever
    its worker's: a network's sums are grouped by thread, so the parts then give what the caller
    would have computed itself.
    """
    require_extra("survey", feature="cluster_map (Dask)")

    def mapper(function: Callable, items) -> list:
        items = list(items)
        torch = sys.modules.get("torch")
        threads = torch.get_num_threads() if torch is not None else None
        if client is not None:
            return _gathered(client, function, items, threads)
        from distributed import worker_client

        with worker_client() as inside:
            return _gathered(inside, function, items, threads)

    return mapper


def _gathered(client, function: Callable, items: list, torch_threads: int | None) -> list:
    shared = client.scatter(function, hash=False)
    items = client.scatter(items, hash=False)  # large ones (a realization's images) not through the scheduler
    futures = client.map(_apply, [shared] * len(items), items, torch_threads=torch_threads,
                         key=f"asteris-part-{uuid.uuid4().hex[:8]}", pure=False)  # fmt: skip
    return client.gather(futures)


def task_map() -> Callable[[Callable, list], list]:
    """`cluster_map` on the cluster running this Dask task, usable from any thread of the task.

    The task does not step aside: while it works, its worker's slot stays its own (a one-thread
    worker takes no part beside it), so parts mapped then run on the other workers. Inside
    `distributed.worker_client` the task steps aside and its worker takes parts as well.
    """
    require_extra("survey", feature="task_map (Dask)")
    from distributed import get_client

    return cluster_map(get_client())
