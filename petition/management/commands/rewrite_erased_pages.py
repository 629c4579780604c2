from django.core.management.base import BaseCommand

from petition import erasure


class Command(BaseCommand):
    help = (
        "Rewrite (VACUUM FULL) the two small tables that held private signers' names and "
        "addresses (pending identities and the mail outbox), so that the identities erased "
        "since the last run are gone from PostgreSQL's data files. Beat runs it every "
        "ERASURE_REWRITE_SECONDS (default 900)."
    )

    def handle(self, *args, **options):
        done = erasure.rewrite_erased_pages()
        self.stdout.write(f"Rewrote {len(done)} table(s): {', '.join(done) or 'none'}.")
