from django.core.management.base import BaseCommand, CommandError

from integrations.bundle.importer import import_bundle


class Command(BaseCommand):
    help = (
        "Import an agency bundle (a folder or .zip of CSV files, see DATA_FORMAT.md). "
        "All or nothing: if any row is bad, nothing is written and every problem is listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the bundle folder or .zip file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, write nothing"
        )

    def handle(self, *args, path, dry_run, **options):
        result = import_bundle(source=path, dry_run=dry_run)
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(result.problems)} problem(s) found; nothing was imported.")
        for line in result.summary():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        else:
            self.stdout.write(self.style.SUCCESS("Bundle imported."))
