"""A database too busy to answer in time gets a "busy, please try again" page, never a 500.

On the embedded default (SQLite) one writer holds the database at a time; the others wait up to
the busy timeout (SQLITE_BUSY_TIMEOUT) and then fail with OperationalError "database is locked".
Every write with side effects runs in one transaction, so that failure stored nothing: the signer
is told to press again, with 503 Service Unavailable and Retry-After, as a crowded shop asks
people to come back rather than pretending to be broken.

A view's error is caught in process_exception. A write made by other middleware after the view
(the session saved on the way out) is caught by Django as it happens and turned into a 500
response there; got_request_exception marks the request, and this middleware, outermost, answers
the busy page in its place.
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import OperationalError
from django.shortcuts import render

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# SQLite's messages for SQLITE_BUSY and SQLITE_LOCKED, as Python's sqlite3 words them.
BUSY_MESSAGES = ("database is locked", "database table is locked")


def is_busy(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError) and str(exc).startswith(BUSY_MESSAGES)


def busy_response(request):
    # The view's name, not the path: a confirmation path carries the signer's token.
    match = request.resolver_match
    logger.warning(
        "database busy: answered 503 to %s %s", request.method, match and match.view_name
    )
    response = render(request, "busy.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Logged once, above, as the warning it is: Django would log every 5xx as an ERROR (mailed
    # to ADMINS) with the full path, token included. Django's own flag for "already logged".
    response._has_been_logged = True
    return response


def _mark_busy(sender, request=None, **kwargs):
    if request is not None and is_busy(sys.exc_info()[1]):
        request.database_busy = True


got_request_exception.connect(_mark_busy, dispatch_uid="config.busy.mark")


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "database_busy", False):
            return busy_response(request)
        return response

    def process_exception(self, request, exception):
        if is_busy(exception):
            return busy_response(request)
        return None
