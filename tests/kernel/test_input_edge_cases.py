"""Odd input to `tallyfy-load` is refused before any request and before anything is written:
one stderr line starting `tallyfy-load: `, exit code 2, no new file or folder, no secret echoed."""

import os

import pytest

from tests.pipelines.test_command import run_command

LEAKS = ("leakuser", "leakpass", "leaktoken")


def base(sim):
    return sim.base_url


def with_query(sim):
    return f"{sim.base_url}?x=1"


def with_token_query(sim):
    return f"{sim.base_url}?api_key=leaktoken"


def with_fragment(sim):
    return f"{sim.base_url}#users"


def with_credentials(sim):
    return f"http://leakuser:leakpass@127.0.0.1:{sim.port}/api"


def with_user_only(sim):
    return f"http://leakuser@127.0.0.1:{sim.port}/api"


CASES = {
    # name: (flags, env overrides (value or f(sim)), text the one stderr line must contain)
    "query": (["--base-url", with_query], {}, "remove the query"),
    "query-with-token": (["--base-url", with_token_query], {}, "remove the query"),
    "query-from-env": ([], {"SOURCES__TALLYFY__BASE_URL": with_query}, "remove the query"),
    "fragment": (["--base-url", with_fragment], {}, "remove the"),
    "credentials": (["--base-url", with_credentials], {}, "credentials"),
    "user-only": (["--base-url", with_user_only], {}, "credentials"),
    "credentials-from-env": ([], {"SOURCES__TALLYFY__BASE_URL": with_credentials}, "credentials"),
    "credentials-not-http": (["--base-url", "leakuser:leakpass@go.tallyfy.com/api"], {}, "credentials"),
    "resources-empty": (["--resources", ""], {}, "--resources is empty"),
    "resources-blank": (["--resources", " , "], {}, "--resources is empty"),
    "per-page-text": (["--per-page", "abc"], {}, "--per-page"),
    "requests-per-minute-text": (["--requests-per-minute", "x"], {}, "--requests-per-minute"),
    "deleted-records-unknown": (["--deleted-records", "purge"], {}, "--deleted-records"),
    "unknown-flag": (["--no-such-flag"], {}, "--no-such-flag"),
    "pipeline-name-escapes": (["--pipeline-name", "../escaped"], {}, "pipeline name"),
    "pipeline-name-slash": (["--pipeline-name", "a/b"], {}, "pipeline name"),
    "pipeline-name-backslash": (["--pipeline-name", "a\\b"], {}, "pipeline name"),
    "pipeline-name-dot": (["--pipeline-name", "tallyfy.prod"], {}, "pipeline name"),
    "pipeline-name-empty": (["--pipeline-name", ""], {}, "pipeline name"),
    "dataset-escapes": (["--dataset", "../x"], {}, "dataset name"),
    "dataset-empty": (["--dataset", ""], {}, "dataset name"),
    "per-page-out-of-range": (["--per-page", "0"], {}, "per_page 0"),
    "per-page-from-env": ([], {"SOURCES__TALLYFY__PER_PAGE": "500"}, "per_page 500"),
    "unknown-destination": (["--destination", "nosuchdb"], {}, "unknown destination"),
    # workflow settings
    "resources-unknown-among-workflow": (["--resources", "templates,activity,process,comments"], {},
                                         "unknown resource process: choose from"),
    "activity-start-date-not-a-day": ([], {"SOURCES__TALLYFY__ACTIVITY_START_DATE": "2025-13-01"},
                                      "activity_start_date '2025-13-01' is not a day: use YYYY-MM-DD"),
    "activity-start-date-words": ([], {"SOURCES__TALLYFY__ACTIVITY_START_DATE": "last monday"},
                                  "activity_start_date 'last monday' is not a day"),
    "sweep-interval-not-a-number": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "daily"},
                                    "the configured sweep_interval_hours is not a number"),
    "max-attempts-not-a-number": ([], {"SOURCES__TALLYFY__MAX_ATTEMPTS": "many"}, "max_attempts is not a whole number"),
    "max-attempts-zero": ([], {"SOURCES__TALLYFY__MAX_ATTEMPTS": "0"}, "max_attempts"),
    "max-attempts-huge": ([], {"SOURCES__TALLYFY__MAX_ATTEMPTS": "1000"}, "max_attempts"),
    "request-timeout-zero": ([], {"SOURCES__TALLYFY__REQUEST_TIMEOUT": "0"}, "request_timeout"),
    "request-timeout-negative": ([], {"SOURCES__TALLYFY__REQUEST_TIMEOUT": "-5"}, "request_timeout"),
    "request-timeout-infinite": ([], {"SOURCES__TALLYFY__REQUEST_TIMEOUT": "inf"}, "request_timeout"),
    "sweep-interval-negative": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "-1"}, "sweep_interval_hours"),
    "sweep-interval-nan": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "nan"}, "sweep_interval_hours"),
    "sweep-interval-infinite": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "inf"}, "sweep_interval_hours"),
    # issue 16, defect 5: passed validation, then the second run failed with OverflowError
    "sweep-interval-huge": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "1e11"},
                            "must be a number of hours from 0 to 8760"),
    "sweep-interval-over-a-year": ([], {"SOURCES__TALLYFY__SWEEP_INTERVAL_HOURS": "8761"}, "from 0 to 8760"),
}


def resolve(value, sim):
    return value(sim) if callable(value) else value


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_in_one_line_before_any_request_or_file(sim, tmp_path, case):
    flags, env_overrides, expected = CASES[case]
    env = {**sim.env(), **{name: resolve(value, sim) for name, value in env_overrides.items()}}
    args = [resolve(a, sim) for a in flags]
    args += ["--pipelines-dir", str(tmp_path / "pipelines"), "--duckdb-file", str(tmp_path / "db" / "t.duckdb")]
    before = sorted(os.listdir(tmp_path))
    result = run_command(args, tmp_path, env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("tallyfy-load: "), lines
    assert expected in lines[0], lines[0]
    for secret in LEAKS:
        assert secret not in result.stdout + result.stderr, lines[0]
    assert sim.request_count() == 0
    assert sorted(os.listdir(tmp_path)) == before  # no pipelines dir, no duckdb file or folder, nothing stray


def test_help_still_prints_the_usage(tmp_path):
    result = run_command(["--help"], tmp_path)
    assert result.returncode == 0 and "usage: tallyfy-load" in result.stdout and "--resources" in result.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["tallyfy", "Tallyfy_prod-2", "a"])
def test_plain_pipeline_and_dataset_names_are_accepted(sim, tmp_path, name):
    (tmp_path / "db").mkdir()
    result = run_command(["--resources", "tags", "--pipeline-name", name, "--dataset", name,
                          "--pipelines-dir", str(tmp_path / "p"), "--duckdb-file", str(tmp_path / "db" / "t.duckdb")],
                         tmp_path, sim.env())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "db" / "t.duckdb").exists()


MAX_ATTEMPTS = [(1, 1), (6, 6), ("20", 20), (0, None), (21, None), (2.5, None), (True, None), ("", None), (None, None)]
REQUEST_TIMEOUT = [(60, 60.0), ("0.5", 0.5), (0, None), (-1, None), ("inf", None), ("nan", None), (None, None),
                   ("soon", None)]


@pytest.mark.parametrize("setting, value, ok", [("max_attempts", v, ok) for v, ok in MAX_ATTEMPTS]
                         + [("request_timeout", v, ok) for v, ok in REQUEST_TIMEOUT])
def test_max_attempts_and_request_timeout_take_only_sensible_numbers(setting, value, ok):
    """max_attempts: a whole number from 1 to 20; request_timeout: finite seconds above 0."""
    from tallyfy_source import validation
    from tallyfy_source.errors import ConfigError
    check = getattr(validation, f"check_{setting}")
    if ok is None:
        with pytest.raises(ConfigError, match=setting):
            check(value)
    else:
        assert check(value) == ok


@pytest.mark.parametrize("value, ok", [(0, 0.0), ("24", 24.0), (8760, 8760.0), (8760.5, None), (1e11, None)])
def test_sweep_interval_hours_is_at_most_a_year(value, ok):
    from tallyfy_source.errors import ConfigError
    from tallyfy_source.validation import check_sweep_interval_hours
    if ok is None:
        with pytest.raises(ConfigError, match="from 0 to 8760"):
            check_sweep_interval_hours(value)
    else:
        assert check_sweep_interval_hours(value) == ok
