from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from godview.agency import agency_today
from metrics.export import PeriodError, json_text, parse_period, write_csv_folder
from metrics.services import metrics_for


class Command(BaseCommand):
    help = (
        "Export every metric at every level (DATA_FORMAT.md, Export) as of a date for a period: "
        "JSON to stdout or a file, or CSV as one file per level in a folder."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", help="YYYY-MM-DD, not in the future (default: today at the agency)"
        )
        parser.add_argument("--start", help="YYYY-MM-DD (default: the quarter of --as-of)")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument(
            "--out", type=Path, help="the JSON file, or the folder for the CSV files"
        )

    def handle(self, *args, as_of, start, format, out, **options):
        if format == "csv" and out is None:
            raise CommandError("CSV export writes one file per level: give a folder with --out.")
        try:
            as_of_date, start_date = parse_period(
                as_of=as_of, start=start, today=agency_today(), names=("--as-of", "--start")
            )
        except PeriodError as error:
            raise CommandError(str(error)) from None
        result = metrics_for(as_of=as_of_date, start=start_date)
        try:
            if format == "csv":
                paths = write_csv_folder(result, out)
                self.stderr.write(f"Wrote {', '.join(str(path) for path in paths)}.")
            elif out is None:
                self.stdout.write(json_text(result), ending="")
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json_text(result), encoding="utf-8")
                self.stderr.write(f"Wrote {out}.")
        except OSError as error:
            raise CommandError(f"--out: cannot write {out}: {error.strerror}") from None
