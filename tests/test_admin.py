"""The Django admin: every page loads without N+1 queries, and its actions do what they say."""

import datetime
import itertools
import re

import pytest
from django import forms
from django.contrib import admin
from django.contrib.messages import get_messages
from django.test import Client as BrowserClient
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from godview.models import AgencySettings, Staff
from tests import factories
from workflows.models import (
    DeadlineChange,
    Deal,
    Postponement,
    PostponementStatus,
    Tactic,
    Task,
    TrainingModule,
    TrainingResult,
    WeeklyGoal,
)

pytestmark = pytest.mark.django_db

D = datetime.date
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)
_numbers = itertools.count(1)


def label(model) -> str:
    return model._meta.label


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def agency_rows(count: int) -> None:
    """`count` rows of every model the admin lists, each linked to its own pod and client."""
    for _ in range(count):
        n = next(_numbers)
        department = factories.department()
        client = factories.client(pod=factories.pod(department=department))
        manager = client.account_manager
        factories.engagement(client, D(2025, 1, 1))
        goal = factories.client_goal(client)
        factories.touchpoint(client, D(2026, 3, 2), staff=manager)
        factories.weekly_goal(client, manager, D(2026, 3, 2), client_goal=goal)
        task = factories.task(client, assignee=manager, due_on=D(2026, 3, 15))
        Postponement.objects.create(
            task=task,
            from_due_on=D(2026, 3, 15),
            to_due_on=D(2026, 3, 20),
            reason="The client moved the launch.",
            requested_by=manager,
        )
        DeadlineChange.objects.create(
            task=task,
            changed_at=timezone.now(),
            from_due_on=D(2026, 3, 15),
            to_due_on=D(2026, 3, 18),
            external_id=f"change-{n}",
        )
        Tactic.objects.create(
            key=f"tactic-{n}",
            client=client,
            owner=manager,
            name="New ad copy",
            started_on=D(2026, 2, 1),
        )
        module = TrainingModule.objects.create(
            key=f"module-{n}", name=f"Module {n}", department=department, pass_score=80
        )
        TrainingResult.objects.create(
            staff=manager, module=module, completed_on=D(2026, 2, 1), score=90
        )
        Deal.objects.create(
            key=f"deal-{n}",
            name=f"Deal {n}",
            owner=manager,
            client=client,
            created_on=D(2026, 1, 5),
        )


def field_data(fields) -> dict:
    """The POST data a browser sends for these bound fields as they are."""
    data = {}
    for field in fields:
        value = field.value()
        widget = field.field.widget
        if isinstance(widget, forms.MultiWidget):
            parts = widget.decompress(value)
            for suffix, part in zip(widget.widgets_names, parts, strict=True):
                data[field.html_name + suffix] = "" if part is None else part
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[field.html_name] = "on"
        elif value is not None:
            data[field.html_name] = value
    return data


def form_data(response) -> dict:
    """What the change form in `response` posts back unchanged: its fields and its inlines'
    (only the hidden ones of view-only rows, as the page shows no inputs for the rest)."""
    data = field_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= field_data(formset.management_form)
        for form in formset.initial_forms:
            data |= field_data(form if inline.has_change_permission else form.hidden_fields())
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def approver(superuser):
    """A staff record for the superuser, who approves postponements."""
    return Staff.objects.create(
        key="root", user=superuser, name="Root", email=superuser.email, role="director"
    )


# Every page of every registered model


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_changelist_loads_with_rows(admin_client, model):
    agency_rows(3)
    response = admin_client.get(admin_url(model, "changelist"))
    if model is AgencySettings:
        assert response.status_code == 302
        assert response.url == admin_url(AgencySettings, "change", AgencySettings.SINGLETON_ID)
        response = admin_client.get(response.url)
    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=label)
def test_add_page_loads_or_is_denied(admin_client, superuser, model):
    request = RequestFactory().get("/")
    request.user = superuser
    response = admin_client.get(admin_url(model, "add"))
    if admin.site._registry[model].has_add_permission(request):
        assert response.status_code == 200
    else:
        assert response.status_code == 403


# A fixed ceiling, checked at 2 and at 12 rows: a query per row would break it.
CHANGELIST_MAX_QUERIES = {Client: 9, Task: 9, WeeklyGoal: 10}


@pytest.mark.parametrize("rows", [2, 12])
@pytest.mark.parametrize("model", list(CHANGELIST_MAX_QUERIES), ids=label)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, model, rows
):
    agency_rows(rows)
    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES[model]):
        response = admin_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == rows


def test_index_links_to_the_bundle_import(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert f'href="{reverse("admin-import-bundle")}"' in response.content.decode()


def test_non_staff_user_is_sent_to_the_admin_login(client):
    person = factories.staff(password="a long enough password")
    client.force_login(person.user)
    for url in (reverse("admin:index"), admin_url(Client, "changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


# Agency settings


def test_agency_settings_is_one_page_without_add_or_delete(admin_client):
    settings = AgencySettings.load()
    change_url = admin_url(AgencySettings, "change", settings.pk)
    response = admin_client.get(change_url)
    names = [name for name, _ in response.context["adminform"].fieldsets]
    assert names == [
        "General",
        "Service standard",
        "Weekly goals and postponements",
        "Risk weights",
        "Leaderboard",
    ]
    assert admin_client.get(admin_url(AgencySettings, "add")).status_code == 403
    assert admin_client.get(admin_url(AgencySettings, "delete", settings.pk)).status_code == 403

    data = form_data(response) | {"sla_days": 7, "time_zone": "Europe/London"}
    response = admin_client.post(change_url, data)
    assert response.status_code == 302
    settings.refresh_from_db()
    assert (settings.sla_days, settings.time_zone) == (7, "Europe/London")


def test_agency_settings_rejects_a_malformed_leaderboard(admin_client):
    change_url = admin_url(AgencySettings, "change", AgencySettings.load().pk)
    data = form_data(admin_client.get(change_url))
    data["leaderboard_kpis"] = '{"account_manager": {"deadline_miss_rate": {"target": 10}}}'
    response = admin_client.post(change_url, data)
    assert response.status_code == 200
    assert "needs exactly target, direction and weight" in str(
        response.context["adminform"].form.errors
    )
    assert AgencySettings.load().leaderboard_kpis["account_manager"]["deadline_miss_rate"] == {
        "target": 10,
        "direction": "lower",
        "weight": 25,
    }


# Clients


def test_client_page_shows_only_the_latest_touchpoints(admin_client):
    client = factories.client()
    for day in range(1, 26):
        factories.touchpoint(client, D(2026, 1, day))
    response = admin_client.get(admin_url(Client, "change", client.pk))
    touchpoints = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model._meta.model_name == "touchpoint"
    )
    dates = [form.instance.occurred_on for form in touchpoints.initial_forms]
    assert dates == [D(2026, 1, day) for day in range(25, 5, -1)]

    all_touchpoints = re.search(r'href="([^"]+)">All touchpoints', response.content.decode())
    response = admin_client.get(all_touchpoints.group(1).replace("&amp;", "&"))
    assert response.context["cl"].result_count == 25


def test_client_page_logs_a_touchpoint_and_keeps_the_rest(admin_client):
    client = factories.client()
    factories.engagement(client, D(2025, 1, 1), monthly_fee="2500")
    for day in range(1, 26):
        factories.touchpoint(client, D(2026, 1, day), summary="Weekly report")
    change_url = admin_url(Client, "change", client.pk)
    data = form_data(admin_client.get(change_url))
    data |= {
        "touchpoints-TOTAL_FORMS": 21,
        "touchpoints-20-occurred_on": "2026-02-02",
        "touchpoints-20-channel": "call",
        "touchpoints-20-direction": "inbound",
        "touchpoints-20-summary": "The client called about the budget.",
    }
    response = admin_client.post(change_url, data)
    assert response.status_code == 302
    assert client.touchpoints.count() == 26
    assert client.touchpoints.filter(summary="Weekly report").count() == 25
    assert client.touchpoints.get(occurred_on=D(2026, 2, 2)).direction == "inbound"
    assert client.engagements.get().monthly_fee == 2500


# A fixed ceiling, checked at 2 and at 12 related rows of each inline.
CHANGE_PAGE_MAX_QUERIES = {Client: 10, Task: 8}


@pytest.mark.parametrize("rows", [2, 12])
@pytest.mark.parametrize("model", list(CHANGE_PAGE_MAX_QUERIES), ids=label)
def test_change_page_queries_do_not_grow_with_inline_rows(
    admin_client, django_assert_max_num_queries, model, rows
):
    client = factories.client()
    task = factories.task(client, due_on=D(2026, 1, 1))
    for day in range(1, rows + 1):
        factories.engagement(client, D(2020, 1, day), D(2020, 1, day))
        factories.client_goal(client)
        factories.touchpoint(client, D(2026, 1, day), staff=client.account_manager)
        Postponement.objects.create(
            task=task,
            from_due_on=D(2026, 1, 1),
            to_due_on=D(2026, 2, day),
            reason="Assets late",
            requested_by=client.account_manager,
        )
        DeadlineChange.objects.create(
            task=task, changed_at=timezone.now(), to_due_on=D(2026, 2, day), external_id=f"{day}"
        )
    obj = client if model is Client else task
    with django_assert_max_num_queries(CHANGE_PAGE_MAX_QUERIES[model]):
        response = admin_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


# Tasks and postponements


def test_committed_due_date_cannot_change_through_the_task_form(admin_client):
    task = factories.task(factories.client(), due_on=D(2026, 3, 15))
    change_url = admin_url(Task, "change", task.pk)
    data = form_data(admin_client.get(change_url))
    data |= {"committed_due_on": "2026-04-30", "first_due_on": "2026-04-30", "due_on": "2026-04-01"}
    response = admin_client.post(change_url, data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.first_due_on, task.committed_due_on) == (D(2026, 3, 15), D(2026, 3, 15))
    assert task.due_on == D(2026, 4, 1)  # the source date drifted; the commitment did not


def test_a_task_added_by_hand_commits_to_its_first_due_date(admin_client):
    client = factories.client()
    data = form_data(admin_client.get(admin_url(Task, "add")))
    data |= {
        "key": "by-hand",
        "name": "Write the report",
        "client": client.pk,
        "source": "manual",
        "created_on": "2026-03-01",
        "due_on": "2026-03-10",
    }
    response = admin_client.post(admin_url(Task, "add"), data)
    assert response.status_code == 302
    task = Task.objects.get(key="by-hand")
    assert (task.first_due_on, task.committed_due_on) == (D(2026, 3, 10), D(2026, 3, 10))


def test_task_list_shows_drifted_due_dates(admin_client):
    client = factories.client()
    kept = factories.task(client, due_on=D(2026, 3, 15))
    drifted = factories.task(client, due_on=D(2026, 3, 15))
    Task.objects.filter(pk=drifted.pk).update(due_on=D(2026, 3, 29))
    undated = factories.task(client, due_on=None)
    changelist = admin_url(Task, "changelist")
    yes = admin_client.get(changelist, {"drifted": "yes"}).context["cl"].result_list
    no = admin_client.get(changelist, {"drifted": "no"}).context["cl"].result_list
    assert list(yes) == [drifted]
    assert set(no) == {kept, undated}


def requested_postponement() -> Postponement:
    client = factories.client()
    task = factories.task(client, assignee=client.account_manager, due_on=D(2026, 3, 15))
    return Postponement.objects.create(
        task=task,
        from_due_on=D(2026, 3, 15),
        to_due_on=D(2026, 3, 22),
        reason="Waiting for the client's assets.",
        requested_by=client.account_manager,
    )


def approve(admin_client, *postponements):
    return admin_client.post(
        admin_url(Postponement, "changelist"),
        {"action": "approve", "_selected_action": [p.pk for p in postponements]},
    )


def test_approve_action_moves_the_committed_due_date(admin_client, approver):
    postponement = requested_postponement()
    response = approve(admin_client, postponement)
    assert response.status_code == 302
    postponement.refresh_from_db()
    assert postponement.status == PostponementStatus.APPROVED
    assert postponement.approved_by == approver
    assert Task.objects.get(pk=postponement.task_id).committed_due_on == D(2026, 3, 22)
    assert messages_of(response) == [
        "Approved 1 postponement; the tasks' committed due dates have moved."
    ]


def test_approve_action_needs_a_staff_record(admin_client):
    postponement = requested_postponement()
    response = approve(admin_client, postponement)
    assert "needs an active staff record" in messages_of(response)[0]
    postponement.refresh_from_db()
    assert postponement.status == PostponementStatus.REQUESTED
    assert Task.objects.get(pk=postponement.task_id).committed_due_on == D(2026, 3, 15)


def test_approve_action_reports_what_could_not_be_approved(admin_client, approver):
    own = requested_postponement()
    Postponement.objects.filter(pk=own.pk).update(requested_by=approver)
    response = approve(admin_client, own)
    assert messages_of(response) == [f"{own}: A postponement needs another person to decide on it."]
    assert Task.objects.get(pk=own.task_id).committed_due_on == D(2026, 3, 15)


def test_approved_postponement_is_read_only_and_kept(admin_client, approver):
    postponement = requested_postponement()
    approve(admin_client, postponement)
    response = admin_client.get(admin_url(Postponement, "change", postponement.pk))
    editable = set(response.context["adminform"].form.fields)
    assert editable.isdisjoint({"task", "status", "from_due_on", "to_due_on", "approved_on"})
    delete_url = admin_url(Postponement, "delete", postponement.pk)
    assert admin_client.get(delete_url).status_code == 403


def test_postponement_form_cannot_approve_by_status(admin_client):
    postponement = requested_postponement()
    change_url = admin_url(Postponement, "change", postponement.pk)
    data = form_data(admin_client.get(change_url)) | {"status": "approved"}
    response = admin_client.post(change_url, data)
    assert response.status_code == 200
    assert "Approve selected postponements" in str(response.context["adminform"].form.errors)
    postponement.refresh_from_db()
    assert postponement.status == PostponementStatus.REQUESTED


# Staff: the set-password email


def test_set_password_email_lets_new_staff_log_in(admin_client, mailoutbox):
    first = factories.staff()
    second = factories.staff()
    gone = factories.staff(active=False)
    assert not first.user.has_usable_password()  # as bundle imports create them

    response = admin_client.post(
        admin_url(Staff, "changelist"),
        {
            "action": "send_set_password_email",
            "_selected_action": [first.pk, second.pk, gone.pk],
        },
    )
    assert messages_of(response) == [
        "Sent 2 set-password emails.",
        f"Skipped: {gone} is not active.",
    ]
    assert sorted(email.to[0] for email in mailoutbox) == sorted([first.email, second.email])

    email = next(email for email in mailoutbox if email.to == [first.email])
    link = re.search(r"https?://\S+", email.body).group()
    visitor = BrowserClient()
    response = visitor.get(link, follow=True)
    assert response.context["validlink"]
    password = "kettle orbit lantern 42"
    form_url = response.redirect_chain[-1][0]
    response = visitor.post(form_url, {"new_password1": password, "new_password2": password})
    assert response.status_code == 302
    assert response.url == reverse("password_reset_complete")

    response = visitor.post(reverse("login"), {"username": first.email, "password": password})
    assert response.status_code == 302
    assert response.url == reverse("my-week")  # an account manager lands on their week
    assert not BrowserClient().get(link, follow=True).context["validlink"]  # used once


def test_forgotten_password_email_links_to_the_godview_pages(client, mailoutbox):
    person = factories.staff(password="the old password 1")
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": person.email}, follow=True)
    assert response.templates[0].name == "registration/password_reset_done.html"
    (email,) = mailoutbox
    assert email.subject == "Reset your Godview password"
    link = re.search(r"https?://\S+", email.body).group()
    response = client.get(link, follow=True)
    assert response.context["validlink"]
    assert response.templates[0].name == "registration/password_reset_confirm.html"
