from django.conf import settings
from django.db import migrations


def create_settings_row(apps, schema_editor):
    AgencySettings = apps.get_model("godview", "AgencySettings")
    AgencySettings.objects.get_or_create(id=1, defaults={"time_zone": settings.TIME_ZONE})


class Migration(migrations.Migration):
    dependencies = [("godview", "0001_initial")]

    operations = [migrations.RunPython(create_settings_row, migrations.RunPython.noop)]
