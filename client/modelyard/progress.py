"""Follow a server-side job until it is done, with a tqdm bar on interactive terminals."""

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

from modelyard.errors import JobFailed


def last_step(job: dict) -> str:
    steps = job.get("steps") or []
    return str(steps[-1].get("message", "")) if steps else ""


def follow(
    fetch: Callable[[int], dict],
    job_id: int,
    *,
    progress: bool = True,
    interval: float = 1.0,
    timeout: float | None = None,
) -> dict:
    """Poll ``fetch(job_id)`` until the job is done and return its final dict. Raises JobFailed when
    it failed, or when ``timeout`` seconds pass first (the job itself keeps running)."""
    show = progress and sys.stderr.isatty()
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = tqdm(
        total=100,
        disable=not show,
        desc=f"job {job_id}",
        file=sys.stderr,
        leave=True,
        bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}{postfix}",  # a rate in %/s means nothing
    )
    try:
        while True:
            job = fetch(job_id)
            bar.n = int(job.get("progress") or 0)
            bar.set_postfix_str(f"{job.get('status')}: {last_step(job)}"[:70], refresh=True)
            if job.get("done"):
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise JobFailed(
                    f"job {job_id} is still {job.get('status')} after {timeout:g}s; it keeps running on "
                    "the server (a worker must be running to process it)",
                    job,
                )
            time.sleep(interval)
    finally:
        bar.close()
    if job.get("status") != "succeeded":
        reason = job.get("error") or last_step(job) or "no reason given"
        raise JobFailed(f"job {job_id} ({job.get('kind')}) {job.get('status')}: {reason}", job)
    return job
