"""Nothing personal in logs or error reports.

Log records have email addresses masked; error reports carry no POST data, cookies, session or
local variables, since any of them may hold a signer's name or address.
"""

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

EMAIL = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    return EMAIL.sub("[email]", text)


class RedactPersonalData(logging.Filter):
    """On a handler, so it applies to records propagated from every logger (a filter on a logger
    sees only that logger's own records). The traceback is masked too: an exception's text may
    name an address (smtplib's SMTPRecipientsRefused does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set, instead of formatting exc_info again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class PrivateExceptionFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR", "HTTP_COOKIE", "QUERY_STRING"):
            if key in meta:
                meta[key] = self.cleansed_substitute
        return meta

    def get_safe_cookies(self, request):
        return {key: self.cleansed_substitute for key in request.COOKIES}
