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
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
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
