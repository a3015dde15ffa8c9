"""The README's tables diagram is the one dlt draws from a demo load's schema today (issue 19)."""

from pathlib import Path

import pytest

from pipelines.schema_diagram import END, JOINS, START, check_joins, demo_schema, diagram, main, replace_in

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def schema():
    return demo_schema()


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(START + "\n", 1)[1].split(END, 1)[0]


def test_the_readme_diagram_is_up_to_date(schema):
    assert readme_block() == diagram(schema), (
        "the README's diagram is out of date: run `.venv/bin/python -m pipelines.schema_diagram --readme README.md`")


def test_every_data_table_is_drawn_and_every_child_joins_its_parent_without_dlt_keys(schema):
    block = diagram(schema)
    tables = [t for t in schema.data_table_names() if not t.startswith("_dlt")]
    assert len(tables) >= 19
    for table in tables:
        assert f"    {table}{{\n" in block, table
    assert "_dlt" not in block
    for table in tables:
        parent = schema.tables[table].get("parent")
        if parent:  # org_id and the parent's id, a column of the child table itself
            join = [j for j in JOINS if j[0] == table and j[2] == parent]
            assert join and join[0][1][0] == "org_id" and join[0][3] == ("org_id", "id"), table
            assert join[0][1][1] in schema.tables[table]["columns"], table
            assert f'{table} }}|--|| {parent} : "' in block, table


def test_a_join_on_a_column_the_schema_lacks_stops_the_drawing(schema):
    broken = schema.clone()
    broken.tables["processes__tags"]["columns"].pop("process_id")
    with pytest.raises(ValueError, match=r"processes__tags\.process_id"):
        check_joins(broken)
    with pytest.raises(ValueError):
        diagram(broken)


def test_the_command_rewrites_only_the_marked_part(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold diagram\n{END}\n\nthe rest\n", encoding="utf-8")
    assert main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# Title\n\n{START}\n```mermaid\nerDiagram\n") and text.endswith(f"```\n{END}\n\nthe rest\n")
    assert "old diagram" not in text
    with pytest.raises(ValueError, match="no diagram markers"):
        replace_in("no markers here", "x")
