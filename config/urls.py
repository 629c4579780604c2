from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("petition.log_urls")),
    path("api/", include("petition.api")),
    path("", include("accounts.urls")),  # /me/... (signer accounts), each path has its prefix
    path("", include("petition.urls")),
]

# The API's 404s are JSON whatever the path (petition.views.not_found).
handler404 = "petition.views.not_found"
