"""The floors: the least a Django view can do through the project's own middleware stack.

`floor_insert` takes the same form POST as signing (CSRF checked by the same middleware) and does
one INSERT into `bench_floor`, a table run.py creates with raw SQL (it is not part of the app).
"""

from django.db import connection
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
