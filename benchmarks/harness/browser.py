"""What a browser does against the app under test: a GET, the CSRF pair the letter page hands
out, and the raw requests (a GET, a sign POST) the open-loop generator sends."""

import re
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.constants import SLUG


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """The Bench's HTTP side. Uses its `base`, `web_port`, `tmp` and `close_header`."""

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def csrf_pair(self) -> tuple[str, str]:
        """What a browser holds after loading the letter page: the cookie and the form's token."""
        status, headers, body = self.get(f"/letters/{SLUG}/")
        assert status == 200, f"letter page answered {status}"
        cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", "")).group(1)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        return cookie, token

    def csrf_file(self, threads: int) -> Path:
        path = self.tmp / f"csrf-{secrets.token_hex(4)}.txt"
        path.write_text(
            "".join(f"{c} {t}\n" for c, t in (self.csrf_pair() for _ in range(threads)))
        )
        return path

    def get_request(self, path: str, headers: dict | None = None):
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        data = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.web_port}\r\n"
            f"{self.close_header}{extra}\r\n"
        ).encode()
        return lambda i: data

    def sign_request(self, path: str, prefix: str):
        """A browser's sign POST: one session's CSRF pair, a new address each time."""
        cookie, token = self.csrf_pair()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.web_port}\r\n"
            f"Origin: {self.base}\r\nCookie: csrftoken={cookie}\r\n{self.close_header}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        )

        def make(i: int) -> bytes:
            body = (
                f"csrfmiddlewaretoken={token}&name=Steady+Signer+{i}&email={prefix}-{i}%40bench"
                ".example.org&visibility=public&affiliation=Example+Corp&job_title=Engineer"
                "&team=&city=London&website="
            ).encode()
            return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

        return make
