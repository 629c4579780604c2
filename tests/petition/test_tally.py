"""The tally page, its chart and widget, and counts that stay exact and cheap at any size."""

import random
import re
import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation
from lib import charts
from petition import services
from petition.models import (
    CoSignature,
    DailyTally,
    DomainTally,
    Level,
    Organiser,
    Signature,
    Tally,
    reading_key,
)
from tests.conftest import pending_signature, verified_signature

pytestmark = pytest.mark.django_db


pending = pending_signature
verified = verified_signature


def tally_url(letter) -> str:
    return reverse("tally", args=[letter.slug])


# --- the page ----------------------------------------------------------------------------------


def test_tally_shows_the_count_progress_and_breakdown(client, make_letter):
    letter = make_letter(employer_domains="example.com example.net", goal=10)
    verified(letter, "ann@example.com")
    verified(letter, "bob@sub.example.com", visibility=Level.ANONYMOUS)
    verified(letter, "cy@example.net", visibility=Level.PRIVATE)
    verified(letter, "dee@elsewhere.org")

    html = client.get(tally_url(letter)).content.decode()

    assert re.search(r'data-count="verified">4<', html)
    assert '<progress id="goal-progress" max="10" value="4"' in html
    assert re.search(r'data-count="percent">40<', html)
    assert re.search(r'data-count="public">2<', html)
    assert re.search(r'data-count="anonymous">1<', html)
    assert re.search(r'data-count="private">1<', html)
    assert re.search(r'data-employer="example.com">2<', html)
    assert re.search(r'data-employer="example.net">1<', html)
    assert re.search(r'data-count="employees">3<', html)
    assert re.search(r'data-count="cosigners">0<', html)


def test_latest_signers_follow_the_privacy_table(client, letter):
    verified(
        letter, "pub@example.org", name="Pat Public", job_title="Engineer", team="Secret team",
        show_job_title=True,
    )  # fmt: skip
    verified(
        letter, "anon@example.org", name="Ann Hidden", visibility=Level.ANONYMOUS,
        city="Lisbon", affiliation="Hidden Corp", show_city=True,
    )  # fmt: skip
    verified(letter, "priv@example.org", name="Pri Vate", visibility=Level.PRIVATE, city="Oslo",
             show_city=True)  # fmt: skip

    html = client.get(tally_url(letter)).content.decode()
    latest = html.split('id="latest-h"')[1].split("</section>")[0]

    assert "Pat Public" in latest and "Engineer" in latest
    assert "Secret team" not in html
    assert "Anonymous" in latest and "Lisbon" in latest
    assert "Ann Hidden" not in html and "Hidden Corp" not in html
    assert "Pri Vate" not in html and "Oslo" not in latest
    assert latest.count("<li>") == 2


def test_hidden_withdrawn_and_pending_signatures_are_neither_counted_nor_listed(
    client, letter, organiser
):
    shown = verified(letter, "shown@example.org", name="Shown Signer")
    hidden = verified(letter, "hidden@example.org", name="Hidden Signer")
    gone = verified(letter, "gone@example.org", name="Gone Signer")
    pending(letter, "wait@example.org", name="Waiting Signer")
    services.hide_signature(
        letter_id=letter.pk, signature_id=hidden.pk, actor=organiser, reason="spam"
    )
    services.withdraw(signature_id=gone.pk)

    html = client.get(tally_url(letter)).content.decode()

    assert re.search(r'data-count="verified">1<', html)
    assert shown.name in html
    for name in ("Hidden Signer", "Gone Signer", "Waiting Signer"):
        assert name not in html


def test_tally_names_approved_organisations_only(client, letter, organiser):
    for name, approve in (("Friends of the Earth", True), ("Pending Union", False)):
        org = Organisation.objects.create(name=name, slug=name.lower().replace(" ", "-"))
        cosignature = CoSignature.objects.create(
            letter=letter, organisation=org, display_name=name, sort_key=reading_key(name)
        )
        if approve:
            services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)

    html = client.get(tally_url(letter)).content.decode()

    assert re.search(r'data-count="cosigners">1<', html)
    assert "<li>Friends of the Earth</li>" in html
    assert "Pending Union" not in html


def test_tally_of_a_draft_is_not_found(client, make_letter):
    draft = make_letter(publish=False)
    assert client.get(tally_url(draft)).status_code == 404


def test_tally_works_with_no_signature_and_no_tally_row(client, make_letter):
    letter = make_letter()
    Tally.objects.filter(letter=letter).delete()
    response = client.get(tally_url(letter))
    assert response.status_code == 200
    assert b"No signatures yet" in response.content


def test_tally_page_has_no_inline_script_or_style(client, letter):
    verified(letter, "ann@example.com")
    html = client.get(tally_url(letter)).content.decode()
    # The CSP allows scripts and styles from our own files only.
    assert " style=" not in html and "<style" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
    assert "js/tally.js" in html


def test_tally_names_the_counts_endpoint_the_script_polls(client, letter):
    html = client.get(tally_url(letter)).content.decode()
    assert f'data-counts-url="{reverse("api_counts", args=[letter.slug])}"' in html


def test_only_organisers_see_the_embed_snippet(client, letter, organiser, django_user_model):
    assert b"embed-code" not in client.get(tally_url(letter)).content

    stranger = django_user_model.objects.create_user(email="s@example.org", password="pw-long-1")
    client.force_login(stranger)
    assert b"embed-code" not in client.get(tally_url(letter)).content

    assert Organiser.objects.filter(letter=letter, user=organiser).exists()
    client.force_login(organiser)
    html = client.get(tally_url(letter)).content.decode()
    assert 'id="embed-code"' in html
    widget = reverse("widget", args=[letter.slug])
    # Escaped inside the textarea, so it shows as code to copy.
    assert f"&lt;iframe src=&quot;http://127.0.0.1:8000{widget}&quot;" in html


def test_letter_page_links_to_the_tally(client, letter):
    html = client.get(reverse("letter", args=[letter.slug])).content.decode()
    assert f'href="{tally_url(letter)}"' in html


def test_shared_links_show_the_title_and_count(client, letter):
    verified(letter, "ann@example.com")
    for url in (reverse("letter", args=[letter.slug]), tally_url(letter)):
        html = client.get(url).content.decode()
        assert f'<meta property="og:title" content="{letter.title}">' in html
        assert re.search(r'<meta property="og:description" content="1 [^"]*sign', html), url
        assert '<meta name="twitter:card" content="summary">' in html


# --- the widget --------------------------------------------------------------------------------


def test_widget_shows_the_count_and_goal(client, make_letter):
    letter = make_letter(goal=200)
    verified(letter, "ann@example.com")
    html = client.get(reverse("widget", args=[letter.slug])).content.decode()
    assert re.search(r'data-count="verified">1<', html)
    assert '<progress id="goal-progress" max="200" value="1"' in html
    assert 'target="_blank"' in html
    assert " style=" not in html


def test_widget_may_be_framed_by_any_site_and_other_pages_may_not(client, letter):
    widget = client.get(reverse("widget", args=[letter.slug]))
    assert "X-Frame-Options" not in widget
    assert "frame-ancestors *" in widget["Content-Security-Policy"]
    assert "script-src 'self'" in widget["Content-Security-Policy"]

    for url in (tally_url(letter), reverse("letter", args=[letter.slug])):
        page = client.get(url)
        assert page["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page["Content-Security-Policy"]


def test_widget_of_a_draft_is_not_found(client, make_letter):
    draft = make_letter(publish=False)
    assert client.get(reverse("widget", args=[draft.slug])).status_code == 404


# --- the chart ---------------------------------------------------------------------------------


def test_cumulative_adds_up_net_daily_changes():
    days = [(date(2025, 1, 3), 2), (date(2025, 1, 1), 5), (date(2025, 1, 2), -1)]
    assert charts.cumulative(days) == [
        (date(2025, 1, 1), 5),
        (date(2025, 1, 2), 4),
        (date(2025, 1, 3), 6),
    ]


def test_chart_is_an_accessible_svg_without_inline_style():
    svg = charts.signatures_svg([(date(2025, 1, 1), 5), (date(2025, 1, 4), 995)])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">Verified signatures over time</title>' in svg
    assert "1,000 verified signatures on 4 Jan 2025" in svg
    assert "style" not in svg
    assert "<polyline" in svg


def test_chart_extends_flat_to_the_end_day_and_starts_at_zero():
    svg = charts.signatures_svg([(date(2025, 1, 2), 3)], end=date(2025, 1, 10))
    points = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3  # zero the day before, the day itself, the end day
    first_y, second_y, last_y = (float(p.split(",")[1]) for p in points)
    assert first_y > second_y == last_y
    assert "10 Jan 2025" in svg


def test_chart_without_signatures_says_so():
    svg = charts.signatures_svg([])
    assert "No signatures yet" in svg and "<polyline" not in svg


def test_tally_page_draws_the_chart_and_its_table(client, letter):
    verified(letter, "ann@example.com")
    html = client.get(tally_url(letter)).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html
    assert "1 verified signature on" in html
    assert "<summary>The count, day by day</summary>" in html


# --- counts that scale -------------------------------------------------------------------------


def seed(letter, n: int) -> None:
    """n verified signatures through bulk_create, with the tally rows the write paths would
    have kept: the pages must read those, not count rows."""
    version = letter.versions.first()
    now = timezone.now()
    levels = [Level.PUBLIC, Level.ANONYMOUS, Level.PRIVATE]
    rows = []
    for i in range(n):
        level = levels[i % 3]
        employee = i % 2 == 0
        rows.append(
            Signature(
                letter=letter,
                version=version,
                name="" if level == Level.PRIVATE else f"Signer {i}",
                email="" if level == Level.PRIVATE else f"s{i}@example.com",
                email_hash=f"{letter.pk:08x}{i:056x}",
                job_title=f"Job {i}",
                show_job_title=True,
                visibility=level,
                status=Signature.Status.VERIFIED,
                verified_at=now - timedelta(minutes=i),
                is_verified_employee=employee,
                employer_domain="example.com" if employee else "",
            )
        )
    Signature.objects.bulk_create(rows, batch_size=2000)
    by_level = {level: sum(1 for r in rows if r.visibility == level) for level in levels}
    employees = sum(1 for r in rows if r.is_verified_employee)
    Tally.objects.filter(letter=letter).update(
        verified=n, employees=employees, **{str(k): v for k, v in by_level.items()}
    )
    DomainTally.objects.create(letter=letter, domain="example.com", count=employees)
    days = 30
    DailyTally.objects.bulk_create(
        DailyTally(
            letter=letter,
            day=now.date() - timedelta(days=d),
            change=n // days + (n % days if d == 0 else 0),
        )
        for d in range(days)
    )


def queries_for(url: str) -> list[str]:
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in captured.captured_queries]


def test_letter_page_and_tally_issue_the_same_queries_with_10_and_10000_signatures(
    make_letter,
):
    small = make_letter(employer_domains="example.com", goal=100)
    large = make_letter(employer_domains="example.com", goal=100_000)
    seed(small, 10)
    seed(large, 10_000)

    # The letter page and the tally are the pages a surge reads; the widget and the API are read
    # as often.
    pages = ["letter", "tally", "widget", "api_letter", "api_counts", "api_signatures"]
    for name in pages:
        few = queries_for(reverse(name, args=[small.slug]))
        many = queries_for(reverse(name, args=[large.slug]))
        assert len(few) == len(many), (name, few, many)
        for sql in many:
            assert not ("COUNT(" in sql.upper() and "petition_signature" in sql), sql

    html = Client().get(tally_url(large)).content.decode()
    assert re.search(r'data-count="verified">10,000<', html)
    assert "Signer 0" in html  # the newest first


def assert_tally_matches_rows(letter) -> None:
    """The kept counts equal a recount of the rows (counting rows is fine in a test)."""
    counted = Signature.objects.counted().filter(letter=letter)
    tally = Tally.objects.get(letter=letter)
    assert tally.verified == counted.count()
    assert tally.public == counted.filter(visibility=Level.PUBLIC).count()
    assert tally.anonymous == counted.filter(visibility=Level.ANONYMOUS).count()
    assert tally.private == counted.filter(visibility=Level.PRIVATE).count()
    assert tally.employees == counted.filter(is_verified_employee=True).count()
    for row in DomainTally.objects.filter(letter=letter):
        assert row.count == counted.filter(employer_domain=row.domain).count(), row.domain
    daily = DailyTally.objects.filter(letter=letter).aggregate(total=Sum("change"))["total"]
    assert (daily or 0) == tally.verified
    version = letter.versions.get()
    version.refresh_from_db()
    assert version.signature_count == tally.verified


def run_in_threads(work: list, threads: int) -> list:
    """Run the callables from `threads` threads at once, each with its own DB connection."""
    barrier = threading.Barrier(threads)
    errors = []
    chunks = [work[i::threads] for i in range(threads)]

    def worker(chunk):
        try:
            barrier.wait(timeout=30)
            for job in chunk:
                job()
        except Exception as exc:  # collected: an assertion in a thread is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert not any(thread.is_alive() for thread in pool), "a thread hung"
    return errors


@pytest.mark.django_db(transaction=True)
def test_count_stays_exact_after_200_parallel_verifications_withdrawals_and_hidings(
    make_letter, organiser
):
    letter = make_letter(employer_domains="example.com example.net")
    levels = [Level.PUBLIC, Level.ANONYMOUS, Level.PRIVATE]
    hosts = ["example.com", "team.example.com", "example.net", "elsewhere.org"]
    ids = [
        pending(letter, f"signer{i}@{hosts[i % 4]}", visibility=levels[i % 3]).pk
        for i in range(200)
    ]
    rng = random.Random(6)

    # Every signature is confirmed by three racing clicks, from eight threads.
    clicks = [lambda pk=pk: services.verify(signature_id=pk) for pk in ids * 3]
    rng.shuffle(clicks)
    assert run_in_threads(clicks, threads=8) == []

    assert Signature.objects.filter(letter=letter, status="verified").count() == 200
    assert_tally_matches_rows(letter)
    assert Tally.objects.get(letter=letter).verified == 200

    # Withdrawals and hidings race each other too, some on the same signatures, twice over.
    withdrawn, hidden = ids[:40], ids[30:70]

    def hide(pk):
        services.hide_signature(letter_id=letter.pk, signature_id=pk, actor=organiser, reason="x")

    changes = [lambda pk=pk: services.withdraw(signature_id=pk) for pk in withdrawn * 2]
    changes += [lambda pk=pk: hide(pk) for pk in hidden * 2]
    rng.shuffle(changes)
    assert run_in_threads(changes, threads=8) == []

    assert_tally_matches_rows(letter)
    assert Tally.objects.get(letter=letter).verified == 200 - len(set(withdrawn) | set(hidden))
