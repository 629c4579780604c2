"""Which language a request is answered in, and the public pages' language-prefixed URLs.

The reading pages are offered under a language prefix (/es/letters/...) and, as before, without
one. A prefix names the language outright; an unprefixed page is answered in the reader's
language: the switcher's cookie, else their account's preference, else their browser's
Accept-Language, else English. The API, the public log, the admin and allauth's pages have one
URL each (clients, auditors and mailed links keep working whatever the reader's language).
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.urls import URLResolver, translate_url
from django.urls.resolvers import LocalePrefixPattern
from django.utils import translation


class OptionalLocalePrefixPattern(LocalePrefixPattern):
    """A language prefix, or none: an unprefixed path resolves whatever language is active, so
    a reader negotiated into Spanish still reaches /letters/x/ (Django's own pattern would send
    them to a 404, as it expects unprefixed paths only in the default language)."""

    def match(self, path):
        matched = super().match(path)
        if matched is None and translation.get_language_from_path("/" + path) is None:
            return path, (), {}
        return matched


def optional_prefix_patterns(*urls):
    """Like i18n_patterns(..., prefix_default_language=False), with unprefixed paths served in
    the negotiated language instead of always in English."""
    return [URLResolver(OptionalLocalePrefixPattern(prefix_default_language=False), list(urls))]


def _supported(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


class LanguageMiddleware(LocaleMiddleware):
    """URL prefix, then the switcher's cookie, then the account's preference, then
    Accept-Language. Placed after AuthenticationMiddleware; a reader without a session costs
    no query."""

    def process_request(self, request):
        language = (
            translation.get_language_from_path(request.path_info)
            or _supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
            or _account_language(request)
            or translation.get_language_from_request(request, check_path=False)
        )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


def _account_language(request) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return _supported(getattr(user, "language", ""))


def languages(request) -> dict:
    """For the base template: the page in every language (hreflang links and the switcher).
    A callable, so the URLs are only worked out by a template that shows them."""

    def links() -> list[dict]:
        path = request.path
        default = translate_url(path, settings.LANGUAGE_CODE)
        found = [
            {"code": code, "name": name, "url": translate_url(path, code)}
            for code, name in settings.LANGUAGES
        ]
        if all(link["url"] == default for link in found):  # a page with one URL: no alternates
            return []
        return [{"code": "x-default", "name": "", "url": default}, *found]

    def unprefixed() -> str:
        return translate_url(request.path, settings.LANGUAGE_CODE)

    return {"language_links": links, "language_path": unprefixed, "site_url": settings.SITE_URL}
