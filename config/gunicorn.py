"""gunicorn's settings for the web app (the Dockerfile runs `gunicorn config.wsgi --config
config/gunicorn.py`; its command line adds the bind address, workers and timeout).

The access log records paths only. A query string may hold what an organiser searched for (names,
addresses) or tracking parameters; a referer is another page's full URL; and the links mailed to
signers, organisers and invitees carry a signed token in their path, which is as good as the
signer's password to their signature: so each line holds the time, the method, the path with
every token replaced by "[token]", the status, the size and the duration, and nothing else (no
query string, referer, client address, user agent or header). A format set with
--access-logformat gets the same masked atoms, and no header or environment atoms at all.
"""

import re

from gunicorn.glogging import Logger

accesslog = "-"
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# A path segment that follows one of these holds a token: the app's confirmation, manage,
# unsubscribe and invitation links, and django-allauth's e-mail confirmation and password reset.
TOKEN_AFTER = ("confirm", "my-signature", "stop", "invites", "confirm-email", "key")
TOKEN_SEGMENT = re.compile(r"(/(?:" + "|".join(TOKEN_AFTER) + r")/)[^/]+")
# Any other segment shaped like a django.core.signing token (base64 parts joined by colons), for
# token links added later or mistyped.
SIGNED_SEGMENT = re.compile(r"[^/]*:[^/]*")
MASK = "[token]"


def masked(path: str) -> str:
    return SIGNED_SEGMENT.sub(MASK, TOKEN_SEGMENT.sub(rf"\1{MASK}", path))


class PathOnlyLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = {
            name: value
            for name, value in super().atoms(resp, req, environ, request_time).items()
            if not name.startswith("{")
        }
        path = masked(environ.get("PATH_INFO", ""))
        atoms.update(
            U=path,
            r=f"{atoms['m']} {path} {atoms['H']}",
            q="",
            f="-",
            a="-",
            u="-",
        )
        return atoms


logger_class = PathOnlyLogger
