from django.db import migrations

NAME = "Reminder emails"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "workflows.reminders",
            "interval": hourly,
            "description": "Sends the reminder emails that are due: on Monday morning (from "
            "REMINDER_HOUR in the agency's time zone) clients without goals this week and last "
            "week's goals not closed; any time, a client past the SLA. Each cause is reminded "
            "of once, so running it more often sends nothing twice.",
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0003_week_workspace"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
