from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    # Ahead of the admin's own URLs, so its log-in form is only reached through the rate limit.
    path("admin/login/", account_views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("petition.log_urls")),
    path("api/", include("petition.api")),
    path("", include("accounts.urls")),  # /me/... (signer accounts), each path has its prefix
    path("", include("petition.urls")),
]

# The API's 404s are JSON whatever the path (petition.views.not_found).
handler404 = "petition.views.not_found"
