"""Every table a load writes gets the file format asked for (`apply_file_format`), the tables a
resource fills from inside (comments, the history tables) too: on DuckDB those fell back to SQL
insert files, which took the load step of a 50,000-task org from 460 MB to 1.6 GB."""

from tallyfy_source import apply_file_format, tallyfy_source
from tests.conftest import Loader
from tests.workflow.test_process_history import sim  # noqa: F401 (a workflow org)
from tests.workflow.test_workflow import START, WORKFLOW

FILLED_FROM_INSIDE = {"comments", "tag_statistics_history", "members_history", "processes_history",
                      "process_tags_history"}


def root_tables(pipeline):
    return {t["name"]: t for t in pipeline.default_schema.data_tables() if "parent" not in t}


def test_every_root_table_is_written_as_parquet_when_asked(sim, tmp_path):
    loader = Loader(sim, tmp_path, loader_file_format="parquet")
    pipeline, _ = loader.run(resources=WORKFLOW + ["members", "groups", "tags", "guests"],
                             activity_start_date=START)
    tables = root_tables(pipeline)
    assert FILLED_FROM_INSIDE <= set(tables)
    assert {name: t.get("file_format") for name, t in tables.items()} == dict.fromkeys(tables, "parquet")
    data_files = [job.job_file_info.file_format for package in pipeline.last_trace.last_load_info.load_packages
                  for job in package.jobs["completed_jobs"]
                  if not job.job_file_info.table_name.startswith("_dlt") and job.job_file_info.file_format != "sql"]
    assert data_files and set(data_files) == {"parquet"}  # (`sql`: the merge statements dlt runs after)
    assert "run_status" not in tables["comments"]["columns"]  # its own columns only (issue 16, defect 8)


def test_without_a_format_nothing_is_set():
    source = tallyfy_source(org_id="a" * 32, access_token="t", base_url="http://127.0.0.1:9/api")
    assert apply_file_format(source, None) is source
    assert all(r.compute_table_schema().get("file_format") is None for r in source.resources.values())
