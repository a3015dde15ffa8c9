"""One run per pipeline at a time: an OS file lock next to dlt's pipeline folder.

Two scheduled runs of the same pipeline would share dlt's working folder and state (load
packages, cursors); the second one must not start while the first holds the lock. The OS
releases a `flock` when its process ends, even on a crash, so a stale lock never blocks.
"""

import fcntl
import logging
import os
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from tallyfy_source.errors import ConfigError, TallyfyError

DEFAULT_WAIT_SECONDS = 5.0
WAIT_ENV = "TALLYFY_LOCK_WAIT_SECONDS"  # a scheduler that would rather queue runs sets it higher

logger = logging.getLogger(__name__)


class PipelineLocked(TallyfyError):
    """Another run of the same pipeline is in progress."""


def lock_path(pipelines_dir: Optional[str], pipeline_name: str) -> str:
    """`<pipelines_dir>/.<pipeline_name>.lock`: beside the pipeline folder, which dlt may wipe."""
    if not pipelines_dir:
        from dlt.common.pipeline import get_dlt_pipelines_dir

        pipelines_dir = get_dlt_pipelines_dir()
    return os.path.join(os.path.abspath(pipelines_dir), f".{pipeline_name}.lock")


def wait_seconds_from_env() -> float:
    raw = os.environ.get(WAIT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{WAIT_ENV}={raw!r}: use a number of seconds >= 0")
    return value


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"


@contextmanager
def pipeline_lock(pipelines_dir: Optional[str], pipeline_name: str,
                  wait_seconds: Optional[float] = None) -> Iterator[str]:
    """Hold the pipeline's lock for the block; wait up to `wait_seconds` (default: 5, or
    $TALLYFY_LOCK_WAIT_SECONDS), then refuse.

    Raises `PipelineLocked` with the holder's pid when another process keeps it.
    """
    if wait_seconds is None:
        wait_seconds = wait_seconds_from_env()
    path = lock_path(pipelines_dir, pipeline_name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting and wait_seconds > 0:
                    waiting = True
                    logger.warning("pipeline %s is locked by another tallyfy-load run (pid %s); waiting up to %g s",
                                   pipeline_name, _holder(fd), wait_seconds)
                if time.monotonic() >= deadline:
                    raise PipelineLocked(
                        f"another tallyfy-load run holds the lock on pipeline {pipeline_name}"
                        f" (pid {_holder(fd)}); try again when it ends"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
