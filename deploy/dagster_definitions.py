"""Dagster definitions: the Tallyfy load fanned out one unit per org, with `dagster-dlt`.

    pip install -e ".[postgres,dagster]"
    dagster dev -f deploy/dagster_definitions.py        # from the project folder

Each org configured in `org_id` under `[sources.tallyfy]` (or SOURCES__TALLYFY__ORG_ID; the same
setting `tallyfy-load` reads) gets its own unit: an asset group `tallyfy_org_<id>` of one asset per
dlt resource (members, groups, tags, guests, templates, processes, tasks with comments, activity),
materialized by one `dlt_assets` op that runs a dlt pipeline of its own (`tallyfy_<id>`) into the
shared dataset, then creates the reporting views, as `tallyfy-load` does (it calls the command's
own functions). A job per org (`tallyfy_org_<id>`), one for every org (`tallyfy_all_orgs`), and a
schedule for the latter (every 6 hours, stopped until you start it).

The destination is the deploy script's: the DuckDB file $TALLYFY_DUCKDB names, else PostgreSQL
(`DESTINATION__POSTGRES__CREDENTIALS`). Secrets are read when a unit runs, not when Dagster loads
this file, so the asset graph shows without a token.

Why Dagster and not (also) Airflow: with dlt 1.31 on Python 3.11, pip resolves dagster 1.13.27 and
dagster-dlt 0.29.27 (which pins that dagster) with no conflict against this project's pins, adding
~100 MB (32 packages) to a dlt venv; apache-airflow 3.3 adds ~235 MB (109 packages) and more than
twice the install time, too much to add to every `make test` install.

Units take turns, one at a time per dataset: DuckDB has one writer per file, and dlt merges
through one staging dataset (`tallyfy_staging`) that two orgs' loads would overwrite under each
other. Within a run, the executor below limits the units to one at a time; across runs (a schedule
and a manual run), the units share the Dagster pool `tallyfy` (`dagster instance concurrency set
tallyfy 1`), and on one machine an OS file lock on the dataset makes a second unit wait
($TALLYFY_LOCK_WAIT_SECONDS, default 5 s) and then fail with one line. An org's failure is its own
unit's: the other orgs' units still load.
"""

import io
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from deploy.tallyfy_scheduled import scheduled_destination
from pipelines.errors import one_line_reason
from pipelines.lock import pipeline_lock
from pipelines.tallyfy_pipeline import after_load, failed_orgs, loader_file_format
from tallyfy_source import apply_file_format, select_resources, tallyfy_source
from tallyfy_source.validation import check_pipeline_name, org_ids_from

DATASET = "tallyfy"
POOL = "tallyfy"
#: op tag the executor limits to one unit at a time (see the module docstring)
DATASET_TAG = "tallyfy/dataset"
ORG_TAG = "tallyfy/org"
ALL_ORGS_JOB = "tallyfy_all_orgs"
CRON = "17 */6 * * *"  # every 6 hours, at minute 17 (UTC), like deploy/github-actions
#: the token the definition-time source is built with: it only names the resources (the asset
#: graph) and never sends a request; a unit's run reads the real one from dlt's config
NO_REQUEST_TOKEN = "definitions-only-no-request"


def org_slug(org_id: str) -> str:
    """The org id as Dagster names allow it (letters, digits and _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", org_id)


def group_name(org_id: str) -> str:
    return f"tallyfy_org_{org_slug(org_id)}"


def op_name(org_id: str) -> str:
    return f"load_tallyfy_org_{org_slug(org_id)}"


def pipeline_name(org_id: str) -> str:
    """One dlt pipeline (state, cursors) per org, all loading into the same dataset."""
    return check_pipeline_name(f"tallyfy_{org_slug(org_id)}")


def configured_org_ids() -> List[str]:
    """The orgs `tallyfy-load` would load: `org_id` under [sources.tallyfy] or
    SOURCES__TALLYFY__ORG_ID (one id, a comma list or a JSON list); none is a ConfigError."""
    return org_ids_from(dlt.config.get("sources.tallyfy.org_id"))


@dataclass
class TallyfyOrgTranslator(DagsterDltTranslator):
    """Asset keys `tallyfy/org_<id>/<resource>` in group `tallyfy_org_<id>`: the same source
    once per org without colliding keys (dagster-dlt's default, `dlt_tallyfy_members`, would)."""

    org_id: str = ""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        resource = data.resource.name
        tables = [resource, "comments"] if resource == "tasks" else [resource]  # one walk fills both
        return spec.replace_attributes(
            key=dg.AssetKey(["tallyfy", f"org_{org_slug(self.org_id)}", resource]),
            group_name=group_name(self.org_id),
            deps=[],
            description=f"Tallyfy {', '.join(tables)} of org {self.org_id}",
            tags={**spec.tags, ORG_TAG: org_slug(self.org_id)},
            metadata={**spec.metadata, "tallyfy/tables": ", ".join(tables)},
        )


def org_assets(org_id: str, destination: Any, dataset_name: str = DATASET,
               pipelines_dir: Optional[str] = None) -> dg.AssetsDefinition:
    """One org's unit: every table, merged like `tallyfy-load`, then the reporting views."""
    pipeline = dlt.pipeline(pipeline_name=pipeline_name(org_id), destination=destination,
                            dataset_name=dataset_name, pipelines_dir=pipelines_dir)
    # only for the asset specs: the resource names; no request is sent with it
    specs_source = select_resources(tallyfy_source(org_id=org_id, access_token=NO_REQUEST_TOKEN), None)

    @dlt_assets(
        dlt_source=specs_source,
        dlt_pipeline=pipeline,
        name=op_name(org_id),
        dagster_dlt_translator=TallyfyOrgTranslator(org_id=org_id),
        pool=POOL,
        op_tags={DATASET_TAG: dataset_name, ORG_TAG: org_slug(org_id)},
    )
    def load_org(context: dg.AssetExecutionContext, dlt: DagsterDltResource):  # dagster-dlt's resource
        resources = [key.path[-1] for key in context.selected_asset_keys]  # all, or the subset picked
        reports: List[Any] = []
        # built now, so the token and every other setting come from dlt's config at run time
        source = select_resources(tallyfy_source(org_id=org_id, reports=reports), None)
        summary = io.StringIO()
        try:
            # one unit per dataset at a time on this machine (see the module docstring)
            with pipeline_lock(pipeline.pipelines_dir, f"{dataset_name}_dataset"):
                # dagster-dlt drops the local working folder first and dlt restores the state
                # from the destination: what tallyfy-load does after an interrupted run
                file_format = loader_file_format(pipeline.destination)
                results = list(dlt.run(context=context, dlt_source=apply_file_format(source, file_format),
                                       dlt_pipeline=pipeline, loader_file_format=file_format))
                after_load(pipeline, resources, reports, out=summary)  # the views, the summary
        except Exception as error:  # one line, as tallyfy-load says it (pipelines/errors.py)
            raise dg.Failure(description=f"org {org_id} failed: {one_line_reason(error)}") from error
        if summary.getvalue():
            context.log.info(summary.getvalue().rstrip())
        failed = failed_orgs(reports)
        if failed:
            # as tallyfy-load says it; the data that did land and the views stay
            raise dg.Failure(description=f"org {org_id} failed: {failed.get(org_id) or next(iter(failed.values()))}",
                             metadata={"summary": summary.getvalue()})
        yield from results

    return load_org


def build_definitions(org_ids: Optional[Sequence[str]] = None, destination: Any = None,
                      dataset_name: str = DATASET, pipelines_dir: Optional[str] = None,
                      cron: str = CRON) -> dg.Definitions:
    """Dagster definitions for `org_ids` (default: the configured orgs) into `destination`
    (default: the deploy script's, $TALLYFY_DUCKDB or PostgreSQL)."""
    ids = org_ids_from(list(org_ids)) if org_ids is not None else configured_org_ids()
    destination = destination if destination is not None else scheduled_destination()
    units: Dict[str, dg.AssetsDefinition] = {
        org_id: org_assets(org_id, destination, dataset_name, pipelines_dir) for org_id in ids
    }
    jobs = [dg.define_asset_job(group_name(org_id), selection=dg.AssetSelection.groups(group_name(org_id)),
                                description=f"Load Tallyfy org {org_id}")
            for org_id in units]
    all_orgs = dg.define_asset_job(ALL_ORGS_JOB, selection=dg.AssetSelection.groups(*map(group_name, units)),
                                   description="Load every configured Tallyfy org, one org's unit at a time")
    return dg.Definitions(
        assets=list(units.values()),
        jobs=[*jobs, all_orgs],
        schedules=[dg.ScheduleDefinition(name=f"{ALL_ORGS_JOB}_schedule", job=all_orgs, cron_schedule=cron)],
        resources={"dlt": DagsterDltResource()},
        # every job, the UI's "Materialize all" too: one unit of a dataset at a time per run
        executor=dg.multiprocess_executor.configured(
            {"tag_concurrency_limits": [{"key": DATASET_TAG, "limit": 1}]}),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev -f deploy/dagster_definitions.py` loads: the configured orgs, read when
    Dagster loads the code location (importing this module reads no config)."""
    return build_definitions()
