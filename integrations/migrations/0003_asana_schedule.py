from django.db import migrations

SYNC = "Asana sync"
RECONCILE = "Asana reconciliation"


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_ten, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    PeriodicTask.objects.get_or_create(
        name=SYNC,
        defaults={
            "task": "asana.sync_all",
            "interval": every_ten,
            "description": "Lists the workspace's projects and users, then syncs every project "
            "a client is mapped to (tasks changed since the last run, subtasks, due-date "
            "changes, comments). Does nothing until ASANA_ACCESS_TOKEN and "
            "ASANA_WORKSPACE_GID are set. Change the interval here.",
        },
    )
    PeriodicTask.objects.get_or_create(
        name=RECONCILE,
        defaults={
            "task": "asana.reconcile_all",
            "crontab": nightly,
            "description": "Lists every task id of every mapped project and soft-deletes only "
            "the tasks Asana confirms are gone (404); also reads the projects' goals.",
        },
    )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[SYNC, RECONCILE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_asana_sync"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
