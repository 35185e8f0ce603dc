"""Durable background jobs: a queue in the store, workers with leases, and operator views.

``queue.py`` holds a worker's lease on a job (heartbeats, fenced writes, backoff
on a busy database); ``worker.py`` claims and runs jobs as child processes;
``operator.py`` derives each job's operator state and the next command from its
record; ``service.py`` is what ``tau jobs`` drives. Job kinds (``kinds.py``)
say how a job of each kind runs: prompt jobs in ``prompt_kind.py``.
"""
