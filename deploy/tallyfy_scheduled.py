"""The scheduled load, shaped for `dlt deploy`: literal pipeline arguments and one `run` call.

`dlt deploy deploy/tallyfy_scheduled.py github-action|airflow-composer` reads the pipeline
name, destination and dataset from this file and the config from its last local run. Config
and secrets come from dlt's usual places (`SOURCES__TALLYFY__*`, `DESTINATION__POSTGRES__*`, or
`.dlt/*.toml`). The lock keeps a second run on the same machine from starting while one runs.
"""

import dlt

from pipelines.lock import pipeline_lock
from tallyfy_source import tallyfy_source
from tallyfy_source.resume import discard_interrupted_load

if __name__ == "__main__":
    with pipeline_lock(None, "tallyfy"):
        # dlt's postgres, publishing all tables in one transaction (tallyfy_source/destinations.py);
        # or name bigquery, snowflake, motherduck or filesystem (and set its keys)
        pipeline = dlt.pipeline(pipeline_name="tallyfy", destination="tallyfy_source.destinations.postgres",
                                dataset_name="tallyfy")
        # an earlier run was interrupted: redo it from the last completed load, as tallyfy-load does
        pipeline, _ = discard_interrupted_load(pipeline)
        load_info = pipeline.run(tallyfy_source())
        print(load_info)
