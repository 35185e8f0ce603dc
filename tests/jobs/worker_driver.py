"""A worker process for the race and chaos tests: the real ``Worker`` with ``MarkerKind``.

``python -m tests.jobs.worker_driver WORKSPACE LEDGER SLEEP_S [--until-empty]
[--lease S --heartbeat S]`` submits nothing; it claims and runs until told to stop
(SIGTERM drains) or, with ``--until-empty``, until nothing is claimable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from tau_engine.jobs.service import JobService
from tau_engine.jobs.worker import WorkerConfig
from tau_engine.paths import WorkspacePaths
from tests.jobs.marker_kind import MarkerKind


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("ledger")
    parser.add_argument("sleep", type=float)
    parser.add_argument("--until-empty", action="store_true")
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    args = parser.parse_args()
    paths = WorkspacePaths(Path(args.workspace))
    service = JobService.open(paths, kinds={"marker": MarkerKind(Path(args.ledger), args.sleep)})
    config = WorkerConfig(
        lease_s=args.lease,
        heartbeat_s=args.heartbeat,
        recover_every_s=args.lease / 2,
        idle_wait_s=0.2,
        until_empty=args.until_empty,
    )

    async def run() -> None:
        worker = service.worker(
            config, environ=os.environ, log=lambda text: print(text, file=sys.stderr)
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.drain)
        report = await worker.run()
        sys.stdout.write(f"ran {report.ran} lost {report.lost}\n")

    try:
        asyncio.run(run())
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
