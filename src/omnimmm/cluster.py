"""A Dask client for the commands that spread work: on a cluster the user runs, or on a
local one made for the command and closed after it.

``omnimmm portfolio`` (one market per task) and ``omnimmm lifecycle score --scheduler``
(one customer bucket per task) share it, so both say the same thing when a scheduler does
not answer or has no workers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

__all__ = ["CONNECT_SECONDS", "dask_client"]

#: Seconds to wait for a scheduler to answer and for its first worker to join.
CONNECT_SECONDS = 30.0


@contextlib.contextmanager
def dask_client(
    scheduler: str | None,
    n_workers: int,
    *,
    error: type[Exception],
    local_hint: str,
) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``, or on a new LocalCluster of ``n_workers``
    single-threaded processes on 127.0.0.1 that is closed afterwards.

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler (``tcp://host:8786``); None for a local cluster.
    n_workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    error : type of Exception
        What to raise when the scheduler does not answer or has no workers (the caller's
        plan or data error, so the command exits with its own status).
    local_hint : str
        How the user asks for a local cluster instead, for the message.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise error(
                f"--scheduler {scheduler}: no Dask scheduler answered within "
                f"{CONNECT_SECONDS:.0f} s ({exc}). Start one with 'dask scheduler' and "
                f"workers with 'dask worker ADDRESS', or {local_hint}"
            ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            except TimeoutError:
                raise error(
                    f"--scheduler {scheduler}: the scheduler has no workers (none joined "
                    f"within {CONNECT_SECONDS:.0f} s); start some with 'dask worker "
                    f"{scheduler}'"
                ) from None
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=max(1, n_workers),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
