"""Agency bundle import (DATA_FORMAT.md): all or nothing, idempotent, every problem named."""

import datetime
import io
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pghistory.models
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from clients.models import Client, ClientGoal, Engagement, Touchpoint
from godview.models import Department, Pod, Staff
from integrations.bundle.importer import import_bundle
from workflows.models import (
    Deal,
    Postponement,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)

pytestmark = pytest.mark.django_db

GOOD = Path(__file__).parent / "data" / "bundle"
ALL_MODELS = [
    Department,
    Pod,
    Staff,
    Client,
    Engagement,
    ClientGoal,
    WeeklyGoal,
    Task,
    Postponement,
    Touchpoint,
    Tactic,
    TrainingModule,
    TrainingResult,
    Deal,
]


def counts():
    return {model.__name__: model.objects.count() for model in ALL_MODELS}


def history_count():
    return pghistory.models.Events.objects.count()


@pytest.fixture
def bundle(tmp_path):
    """A writable copy of the good bundle, for tests that break it."""
    target = tmp_path / "bundle"
    shutil.copytree(GOOD, target)
    return target


def rewrite(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_a_good_bundle_loads_everything():
    result = import_bundle(source=GOOD)

    assert result.problems == []
    assert counts() == {
        "Department": 2,
        "Pod": 2,
        "Staff": 5,
        "Client": 2,
        "Engagement": 4,
        "ClientGoal": 2,
        "WeeklyGoal": 3,
        "Task": 3,
        "Postponement": 1,
        "Touchpoint": 3,
        "Tactic": 3,
        "TrainingModule": 2,
        "TrainingResult": 3,
        "Deal": 3,
    }
    acme = Client.objects.get(key="acme")
    assert acme.name == "Acme Widgets, Inc."
    assert acme.account_manager.key == "ann"
    assert acme.asana_project_gid == "1200000000001"
    assert acme.engagements.get(started_on="2025-07-01").monthly_fee == Decimal("3000.50")
    # The approved postponement moved the committed date; the first due date is kept.
    t2 = Task.objects.get(key="t2")
    assert (t2.first_due_on, t2.committed_due_on) == (
        datetime.date(2026, 3, 10),
        datetime.date(2026, 3, 17),
    )
    assert Task.objects.get(key="t3").committed_due_on is None
    assert Touchpoint.objects.get(summary="Kick-off").direction == "outbound"  # default
    assert set(Touchpoint.objects.values_list("source", flat=True)) == {"bundle"}
    assert Staff.objects.get(key="bob").active is True  # empty cell -> default true
    assert WeeklyGoal.objects.get(description="New landing page brief").status == "open"


def test_each_staff_row_gets_a_login_without_a_usable_password():
    import_bundle(source=GOOD)

    ann = Staff.objects.select_related("user").get(key="ann")
    assert ann.email == "ann.archer@agency.test"
    assert ann.user.username == "ann.archer@agency.test"
    assert not ann.user.has_usable_password()
    assert Staff.objects.get(key="old").user.is_active is False


def test_staff_are_matched_to_existing_logins_by_email(django_user_model):
    existing = django_user_model.objects.create_user(
        username="ann", email="ANN.ARCHER@agency.test", password="a-long-password-here"
    )
    import_bundle(source=GOOD)

    ann = Staff.objects.get(key="ann")
    assert ann.user_id == existing.id
    existing.refresh_from_db()
    assert existing.check_password("a-long-password-here")  # the password is kept


def test_importing_the_same_bundle_twice_changes_nothing():
    import_bundle(source=GOOD)
    before_rows, before_history = counts(), history_count()

    result = import_bundle(source=GOOD)

    assert result.problems == []
    assert sum(result.created.values()) == 0
    assert sum(result.updated.values()) == 0
    assert counts() == before_rows
    assert history_count() == before_history


def test_a_changed_row_is_updated_in_place_and_audited(bundle):
    import_bundle(source=bundle)
    history_before = history_count()
    rewrite(
        bundle,
        "clients.csv",
        (GOOD / "clients.csv").read_text().replace("Bolt Dental", "Bolt Dental Group"),
    )

    result = import_bundle(source=bundle)

    assert result.updated["clients.csv"] == 1
    assert result.unchanged["clients.csv"] == 1
    assert Client.objects.get(key="bolt").name == "Bolt Dental Group"
    assert history_count() == history_before + 1


def test_dry_run_writes_nothing_but_reports_what_it_would_do():
    history_before = history_count()

    result = import_bundle(source=GOOD, dry_run=True)

    assert result.ok
    assert result.created["clients.csv"] == 2
    assert all(count == 0 for count in counts().values())
    assert history_count() == history_before
    assert "clients.csv: 2 would be created, 0 would be updated, 0 unchanged" in result.summary()


def test_a_bundle_with_bad_rows_writes_nothing_and_names_every_problem(bundle):
    history_before = history_count()
    rewrite(
        bundle,
        "weekly_goals.csv",
        "client,staff,week_start,description\n"
        "acme,ann,2026-03-03,Not a Monday\n"
        "acme,nobody,2026-03-02,Unknown person\n",
    )
    rewrite(
        bundle,
        "engagements.csv",
        "client,started_on,ended_on,monthly_fee\n"
        "acme,2025-01-01,2024-12-31,100\n"
        "bolt,2025-01-01,,100\n"
        "bolt,2025-06-01,2025-07-01,100\n"
        "acme,2025-02-01,,lots\n",
    )
    rewrite(
        bundle,
        "training_results.csv",
        "staff,module,completed_on,score\nann,ppc101,2026-01-20,101\n",
    )
    rewrite(
        bundle,
        "tactics.csv",
        "key,client,owner,name,kind,started_on,ended_on,outcome,confidence,lift_pct\n"
        "cro9,acme,dee,Test,cro_test,2026-01-15,2026-02-20,win,100.5,\n",
    )
    rewrite(
        bundle,
        "tasks.csv",
        "key,client,assignee,name,created_on,due_on,completed_on\n"
        "t1,acme,ann,Report,2026-02-01,31/03/2026,\n"
        "t2,acme,ann,Landing page,2026-02-01,2026-03-10,\n",
    )

    result = import_bundle(source=bundle)

    assert sorted(result.problems) == sorted(
        [
            "weekly_goals.csv:2: week_start: is a Tuesday, not a Monday",
            "weekly_goals.csv:3: staff: 'nobody' is in neither staff.csv nor the database",
            "engagements.csv:2: ended_on: is before started_on",
            "engagements.csv:4: started_on: client 'bolt': engagements 2025-01-01 to open-ended "
            "and from 2025-06-01 overlap",
            "engagements.csv:5: monthly_fee: 'lots' is not a number",
            "training_results.csv:2: score: 101 is outside 0-100",
            "tactics.csv:2: confidence: 100.5 is outside 0-100",
            "tasks.csv:2: due_on: '31/03/2026' is not a date as YYYY-MM-DD",
        ]
    )
    assert all(count == 0 for count in counts().values())
    assert history_count() == history_before


def test_bad_rows_against_the_database_are_caught_too(bundle):
    import_bundle(source=GOOD)
    rewrite(
        bundle,
        "tasks.csv",
        "key,client,assignee,name,created_on,due_on,completed_on\n"
        "t1,acme,ann,Build Q1 report,2026-02-01,2026-03-20,2026-03-05\n",
    )
    rewrite(
        bundle,
        "engagements.csv",
        "client,started_on,ended_on,monthly_fee\nacme,2025-05-01,2025-05-31,100\n",
    )
    rewrite(bundle, "staff.csv", "key,name,email,role\nzed,Zed,bob@agency.test,other\n")
    before = counts()

    result = import_bundle(source=bundle)

    assert sorted(result.problems) == sorted(
        [
            "tasks.csv:2: due_on: the task's first due date is 2026-03-06; deadlines move only "
            "through approved postponements (postponements.csv)",
            "engagements.csv:2: started_on: client 'acme': engagements 2025-01-01 to 2025-06-30 "
            "and from 2025-05-01 overlap",
            "staff.csv:2: email: already the email of staff 'bob' in the database",
        ]
    )
    assert counts() == before
    assert Task.objects.get(key="t1").committed_due_on == datetime.date(2026, 3, 6)


def test_unknown_files_and_columns_and_missing_required_columns_are_errors(bundle):
    rewrite(bundle, "clinets.csv", "key,name\nx,Typo\n")
    rewrite(bundle, "departments.csv", "key,name,colour\nam,Account management,blue\n")
    rewrite(bundle, "pods.csv", "key,department\nalpha,am\n")

    result = import_bundle(source=bundle)

    problems = "\n".join(result.problems)
    assert "clinets.csv:0: (file): not a bundle file; expected one of: departments.csv" in problems
    assert "departments.csv:1: colour: unknown column; expected: key, name" in problems
    assert "pods.csv:1: name: required column is missing" in problems
    assert Department.objects.count() == 0


def test_duplicate_keys_in_a_file_are_reported_with_both_lines(bundle):
    rewrite(bundle, "departments.csv", "key,name\nam,One\ndesign,Two\nam,Three\n")

    result = import_bundle(source=bundle)

    assert result.problems == ["departments.csv:4: key: the same key as line 2"]


def test_a_zip_of_the_bundle_folder_imports_like_the_folder(tmp_path):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in GOOD.iterdir():
            zf.write(path, f"my-agency/{path.name}")

    result = import_bundle(source=archive)

    assert result.problems == []
    assert Client.objects.count() == 2


def test_import_agency_command_reports_problems_and_fails(bundle, capsys):
    rewrite(bundle, "pods.csv", "key,name,department\nalpha,Pod Alpha,nowhere\nbeta,Pod Beta,\n")

    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_agency", str(bundle))

    assert "pods.csv:2: department: 'nowhere' is in neither departments.csv nor the database" in (
        capsys.readouterr().err
    )
    assert Pod.objects.count() == 0


def test_import_agency_command_dry_run_then_real(capsys):
    call_command("import_agency", str(GOOD), "--dry-run")
    assert Client.objects.count() == 0
    assert "Dry run: nothing was written." in capsys.readouterr().out

    call_command("import_agency", str(GOOD))
    assert Client.objects.count() == 2
    assert "Bundle imported." in capsys.readouterr().out


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, path.name)
    return buffer.getvalue()


def test_admin_upload_imports_a_zip(client, superuser):
    client.force_login(superuser)
    upload = SimpleUploadedFile("bundle.zip", zipped(GOOD), content_type="application/zip")

    response = client.post("/admin/import-bundle/", {"bundle": upload, "dry_run": ""})

    assert response.status_code == 200
    assert "Imported" in response.text
    assert Client.objects.count() == 2


def test_admin_upload_lists_problems_and_writes_nothing(client, superuser, bundle):
    rewrite(bundle, "staff.csv", "key,name,email,role\nx,X,not-an-email,boss\n")
    client.force_login(superuser)
    upload = SimpleUploadedFile("bundle.zip", zipped(bundle), content_type="application/zip")

    response = client.post("/admin/import-bundle/", {"bundle": upload})

    assert "staff.csv:2: email: &#x27;not-an-email&#x27; is not an email address" in response.text
    assert "staff.csv:2: role: &#x27;boss&#x27; is not one of" in response.text
    assert "nothing was imported" in response.text
    assert Staff.objects.count() == 0


def test_admin_upload_is_for_superusers_only(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="staffer", password="a-long-password-here", is_staff=True
    )
    client.force_login(user)
    assert client.get("/admin/import-bundle/").status_code == 403


def test_a_row_that_cannot_be_read_is_not_reported_again_where_it_is_referenced(bundle):
    rewrite(bundle, "pods.csv", "key,name,department\nalpha,Pod Alpha,am\nbeta,,am\n")

    result = import_bundle(source=bundle)

    assert result.problems == ["pods.csv:3: name: required; the cell is empty"]


def test_a_file_that_is_not_utf8_is_named(bundle):
    (bundle / "departments.csv").write_bytes("key,name\nam,Compta générale\n".encode("latin-1"))

    result = import_bundle(source=bundle)

    assert result.problems == ["departments.csv:2: (file): not UTF-8 text; save the file as UTF-8"]
