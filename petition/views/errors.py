"""The site's error pages (handler404 in config/urls.py)."""

from django.http import JsonResponse
from django.views.defaults import page_not_found


def not_found(request, exception=None):
    """handler404: the API answers in JSON, as its schema says, even for a path that matches no
    route (a malformed slug, say); every other page gets the site's own 404."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "Not found."}, status=404)
    return page_not_found(request, exception)
