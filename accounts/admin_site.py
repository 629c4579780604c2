"""The admin site: Django's, with a rate limit in front of its log-in form.

INSTALLED_APPS names AdminConfig in place of django.contrib.admin, so `admin.site` and every
`@admin.register` use this site.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.shortcuts import render

from lib import ratelimit


class AdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        """Per IP and per account; every POST counts, the right password included, so once over
        the limit an attacker cannot tell a hit from the answer."""
        if request.method == "POST":
            rate = settings.ADMIN_LOGIN_LIMIT
            account = request.POST.get("username", "").strip().lower()
            allowed = ratelimit.hit("admin-login-ip", ratelimit.client_ip(request), rate)
            allowed = ratelimit.hit("admin-login-account", account, rate) and allowed
            if not allowed:
                return render(request, "429.html", status=429)
        return super().login(request, extra_context)


class AdminConfig(DjangoAdminConfig):
    default_site = "accounts.admin_site.AdminSite"
