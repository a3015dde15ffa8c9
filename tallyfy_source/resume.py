"""What a run does with a load package an interrupted run left behind: discard it.

Resuming such a package is not safe: dlt copies a half-copied staging file again, and its
merge then duplicates root rows of tables with child tables. Dropping the local working
folder makes dlt restore the state from the last COMPLETED load in the destination, so the
run reads everything since then again; merges are idempotent, so tables that already took
part of the dropped package stay exact. The command and the deploy script both call this.
"""

from typing import Tuple

import dlt


def discard_interrupted_load(pipeline: dlt.Pipeline) -> Tuple[dlt.Pipeline, bool]:
    """(the pipeline to run, whether an interrupted run's package was discarded)."""
    if not pipeline.has_pending_data:
        return pipeline, False
    return pipeline.drop(), True
