import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from lib import params
from petition import exports, services
from petition.models import Letter, Level


class Command(BaseCommand):
    help = (
        "Export a letter's signatures (or co-signatures) as CSV, XLSX or JSON, with the same "
        "filters, the same columns per visibility level and the same export log as the "
        "organiser pages. Writes to --output, or to standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The letter's slug.")
        parser.add_argument("--format", choices=["csv", "xlsx", "json"], default="csv")
        parser.add_argument(
            "--cosignatures", action="store_true", help="Export the co-signing organisations."
        )
        parser.add_argument(
            "--status",
            default=None,
            help="Signatures: counted (default), verified, hidden, pending, withdrawn or all. "
            "Co-signatures: approved (default), pending, rejected, withdrawn or all.",
        )
        parser.add_argument("--level", choices=[level.value for level in Level], default="")
        parser.add_argument("--text-version", type=int, default=None, dest="version")
        parser.add_argument("--since", type=params.iso_day, default=None, help="YYYY-MM-DD")
        parser.add_argument("--until", type=params.iso_day, default=None, help="YYYY-MM-DD")
        parser.add_argument("--output", "-o", default="-", help="A file path, or - for stdout.")
        parser.add_argument(
            "--user", default=None, help="The email of the account to log the export under."
        )

    def handle(self, *args, **opts):
        letter = Letter.objects.filter(slug=opts["slug"]).first()
        if letter is None:
            raise CommandError(f"No letter with the slug {opts['slug']!r}.")
        what = "cosignatures" if opts["cosignatures"] else "signatures"
        status = opts["status"] or ("approved" if what == "cosignatures" else "counted")
        allowed = (
            {"approved", "pending", "rejected", "withdrawn", "all"}
            if what == "cosignatures"
            else {"counted", "verified", "hidden", "pending", "withdrawn", "all"}
        )
        if status not in allowed:
            raise CommandError(f"--status must be one of {', '.join(sorted(allowed))}.")
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(email__iexact=opts["user"]).first()
            if user is None:
                raise CommandError(f"No account with the address {opts['user']!r}.")
        filters = exports.Filters(
            status=status,
            level=opts["level"],
            version=opts["version"],
            signed_from=opts["since"],
            signed_to=opts["until"],
        )
        rows = exports.count(letter, what, filters)
        if opts["format"] == "xlsx" and rows > exports.XLSX_MAX_ROWS:
            raise CommandError("Too many rows for a spreadsheet: use --format csv.")
        services.record_export(
            letter=letter,
            user=user,
            what=what,
            format=opts["format"],
            filters=filters.as_record(),
            rows=rows,
        )
        chunks = exports.chunks(letter, what, opts["format"], filters)
        if opts["output"] == "-":
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
        else:
            with open(opts["output"], "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            self.stderr.write(f"Wrote {rows} row(s) to {opts['output']}.")
