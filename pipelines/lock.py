"""One run per pipeline at a time: an OS file lock next to dlt's pipeline folder.

Two scheduled runs of the same pipeline would share dlt's working folder and state (load
packages, cursors); the second one must not start while the first holds the lock.
`filelock` takes the OS lock (`flock` on Linux and macOS, `msvcrt` on Windows), which the OS
releases when its process ends, even on a crash, so a stale lock never blocks.
"""

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Optional

from filelock import FileLock, Timeout

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


def _holder(path: str) -> str:
    """The pid the current holder wrote beside the lock (the lock file itself is the OS's)."""
    try:
        with open(f"{path}.pid", encoding="ascii", errors="replace") as handle:
            return handle.read(32).strip() or "unknown"
    except OSError:
        return "unknown"


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
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if wait_seconds <= 0:
            raise _locked(pipeline_name, path) from None
        logger.warning("pipeline %s is locked by another tallyfy-load run (pid %s); waiting up to %g s",
                       pipeline_name, _holder(path), wait_seconds)
        try:
            lock.acquire(timeout=wait_seconds, poll_interval=0.1)
        except Timeout:
            raise _locked(pipeline_name, path) from None
    try:
        with open(f"{path}.pid", "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        yield path
    finally:
        lock.release()


def _locked(pipeline_name: str, path: str) -> PipelineLocked:
    return PipelineLocked(
        f"another tallyfy-load run holds the lock on pipeline {pipeline_name}"
        f" (pid {_holder(path)}); try again when it ends"
    )
