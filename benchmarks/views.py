"""The floors: the least a Django view can do through the project's own middleware stack.

`floor_insert` takes the same form POST as signing (CSRF checked by the same middleware) and does
one INSERT into `bench_floor`, a table run.py creates with raw SQL (it is not part of the app).
`floor_sign` does what a signature must and nothing more: the same INSERT, one outbox row (in
`bench_floor_outbox`, a table of the benchmark's own, so no relay sends it) and the commit.
"""

from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET, require_POST


@require_GET
def floor_constant(request):
    return HttpResponse(b"ok", content_type="text/plain")


@require_POST
def floor_insert(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (email, created_at) VALUES (%s, now())",
            [request.POST.get("email", "")],
        )
    # Signing answers with a redirect to "check your inbox"; so does the floor.
    return HttpResponseRedirect("/bench/floor/constant/")


@require_POST
def floor_sign(request):
    email = request.POST.get("email", "")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (email, created_at) VALUES (%s, now()) RETURNING id", [email]
        )
        (row_id,) = cursor.fetchone()
        cursor.execute(
            'INSERT INTO bench_floor_outbox (kind, "to", subject, text, created_at) '
            "VALUES ('verification', %s, 'Confirm your signature', %s, now())",
            [email, f"Confirm your signature: /confirm/{row_id}/"],
        )
    return HttpResponseRedirect("/bench/floor/constant/")
