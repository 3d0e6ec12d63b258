"""The export command (DATA_FORMAT.md, Export): JSON to stdout or a file, CSV one file per level."""

import csv
import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command

from godview.models import Role
from metrics.registry import METRICS
from tests import factories

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 4, 15)
TOP_LEVEL_KEYS = {"as_of", "start", "end", "agency", "departments", "pods", "staff", "clients"}
PERIOD = ["--as-of", "2026-03-31", "--start", "2026-01-01"]


@pytest.fixture(autouse=True)
def _agency_today(monkeypatch):
    monkeypatch.setattr("metrics.management.commands.export_metrics.agency_today", lambda: TODAY)


@pytest.fixture
def agency():
    """Two departments; a pod with two account managers, a designer, two active clients with
    work, and a client that left in the period; a leader; and a former staff member."""
    department = factories.department()
    empty_department = factories.department()  # listed too, with nothing in it
    pod = factories.pod(department=department)
    managers = [factories.staff(pod=pod, department=department) for _ in range(2)]
    designer = factories.staff(role=Role.DESIGNER, pod=pod, department=department)
    leader = factories.staff(role=Role.LEADERSHIP)
    factories.staff(active=False)
    active = []
    for manager in managers:
        client = factories.client(pod=pod, account_manager=manager)
        factories.engagement(client, D(2025, 1, 1))
        factories.touchpoint(client, D(2026, 3, 20), staff=manager)
        factories.task(client, assignee=manager, due_on=D(2026, 3, 10))
        active.append(client)
    left = factories.client(pod=pod, account_manager=managers[0])
    factories.engagement(left, D(2025, 1, 1), ended_on=D(2026, 2, 15))
    gone_before = factories.client(pod=pod, account_manager=managers[0])
    factories.engagement(gone_before, D(2024, 1, 1), ended_on=D(2025, 6, 30))
    return {
        "departments": {department.key, empty_department.key},
        "pods": {pod.key},
        "staff": {s.key for s in (*managers, designer, leader)},
        "clients": {c.key for c in (*active, left)},
        "left": left,
    }


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_metrics", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def applicable(level: str) -> list[str]:
    return [metric.key for metric in METRICS if level in metric.levels]


def read_csv(path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


# JSON


def test_json_to_stdout_has_the_export_shape(agency):
    result = json.loads(export(*PERIOD))
    assert set(result) == TOP_LEVEL_KEYS
    assert (result["as_of"], result["start"], result["end"]) == (
        "2026-03-31",
        "2026-01-01",
        "2026-03-31",
    )
    for name in ("departments", "pods", "staff", "clients"):
        assert {entry["key"] for entry in result[name]} == agency[name], name
    assert result["agency"]["active_clients"] == 2


def test_json_to_a_file(agency, tmp_path):
    out = tmp_path / "exports" / "metrics.json"
    assert export(*PERIOD, "--out", str(out)) == ""
    assert set(json.loads(out.read_text(encoding="utf-8"))) == TOP_LEVEL_KEYS


def test_dates_default_to_the_agency_today_and_its_quarter(agency):
    result = json.loads(export())
    assert (result["as_of"], result["start"]) == ("2026-04-15", "2026-04-01")


# CSV


def test_csv_writes_one_file_per_level_with_a_column_per_metric(agency, tmp_path):
    folder = tmp_path / "new-folder"
    export(*PERIOD, "--format", "csv", "--out", str(folder))

    assert sorted(path.name for path in folder.iterdir()) == [
        "agency.csv",
        "clients.csv",
        "departments.csv",
        "pods.csv",
        "staff.csv",
    ]
    for name, level in [
        ("agency", "agency"),
        ("departments", "department"),
        ("pods", "pod"),
        ("staff", "staff"),
        ("clients", "client"),
    ]:
        header, *rows = read_csv(folder / f"{name}.csv")
        assert header == ["key", *applicable(level)], name
        assert all(len(row) == len(header) for row in rows), name
        keys = [row[0] for row in rows]
        assert len(keys) == len(set(keys)), name
        expected = {"agency"} if name == "agency" else agency[name]
        assert set(keys) == expected, name


def test_csv_header_follows_the_registry(agency, tmp_path):
    export(*PERIOD, "--format", "csv", "--out", str(tmp_path))
    client_header = read_csv(tmp_path / "clients.csv")[0]
    staff_header = read_csv(tmp_path / "staff.csv")[0]
    assert "risk_signals" in client_header
    assert "retention_rate" not in client_header  # a period count, not for one client
    assert "leaderboard_parts" in staff_header
    assert "risk_score" not in staff_header


def test_csv_cells_match_the_json(agency, tmp_path):
    result = json.loads(export(*PERIOD))
    export(*PERIOD, "--format", "csv", "--out", str(tmp_path))

    header, row = read_csv(tmp_path / "agency.csv")
    agency_cells = dict(zip(header, row, strict=True))
    assert agency_cells["active_clients"] == str(result["agency"]["active_clients"])
    assert json.loads(agency_cells["cro_by_confidence"]) == result["agency"]["cro_by_confidence"]

    header, *rows = read_csv(tmp_path / "clients.csv")
    clients = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    by_key = {entry["key"]: entry for entry in result["clients"]}
    for key, cells in clients.items():
        assert json.loads(cells["risk_signals"] or "null") == by_key[key].get("risk_signals")
    # A client that left in the period is listed, with its as-of-only metrics null.
    left = clients[agency["left"].key]
    assert by_key[agency["left"].key]["days_inactive"] is None
    assert left["days_inactive"] == ""
    assert left["risk_score"] == ""


def test_csv_staff_cells_for_metrics_a_role_has_not_are_empty(agency, tmp_path):
    result = json.loads(export(*PERIOD))
    export(*PERIOD, "--format", "csv", "--out", str(tmp_path))
    header, *rows = read_csv(tmp_path / "staff.csv")
    by_key = {entry["key"]: entry for entry in result["staff"]}
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        for column in header[1:]:
            if column not in by_key[row[0]]:
                assert cells[column] == "", (row[0], column)


def test_csv_needs_a_folder(agency):
    with pytest.raises(CommandError, match="give a folder with --out"):
        export(*PERIOD, "--format", "csv")


def test_csv_out_must_not_be_a_file(agency, tmp_path):
    file = tmp_path / "taken"
    file.write_text("")
    with pytest.raises(CommandError, match="--out"):
        export(*PERIOD, "--format", "csv", "--out", str(file))


# Bad dates


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--as-of", "2026-13-01"], "--as-of"),
        (["--as-of", "yesterday"], "--as-of"),
        (["--as-of", ""], "--as-of"),
        (["--as-of", "2026-4-1"], "--as-of"),
        (["--as-of", "2026-02-30"], "--as-of"),
        (["--as-of", "2026-03-31", "--start", "2026-1-1"], "--start"),
        (["--as-of", "2026-03-31", "--start", "'; DROP TABLE clients_client; --"], "--start"),
    ],
)
def test_bad_dates_name_the_option(args, named):
    with pytest.raises(CommandError) as error:
        export(*args)
    assert str(error.value).startswith(f"{named}: ")
    assert "is not a date as YYYY-MM-DD" in str(error.value)


def test_start_after_as_of_names_start():
    with pytest.raises(CommandError, match=r"^--start: 2026-04-01 is after --as-of \(2026-03-31\)"):
        export("--as-of", "2026-03-31", "--start", "2026-04-01")


def test_as_of_in_the_future_is_refused():
    with pytest.raises(CommandError, match="^--as-of: 2026-04-16 is in the future"):
        export("--as-of", "2026-04-16")
