from django.contrib import admin
from django.urls import include, path

from accounts.views import set_language

from .locale import optional_prefix_patterns

# The reading pages (letters, signing, accounts, the organiser's workspace) are offered with and
# without a language prefix (config/locale.py); the API and public log, the admin, allauth and
# the switcher keep one URL, for clients, auditors and the links allauth mails.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("petition.log_urls")),
    path("api/", include("petition.api_urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    *optional_prefix_patterns(
        # Each path has its prefix: /me/... (signer accounts), /orgs/... (organisations).
        path("", include("accounts.urls")),
        # The account pages that show signatures or co-signatures, after accounts' orgs/new/.
        path("", include("petition.me_urls")),
        path("", include("petition.urls")),
    ),
]

# The API's 404s are JSON whatever the path (petition.views.errors.not_found).
handler404 = "petition.views.errors.not_found"
