from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "affiliation", "job_title", "city"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


# --- Organisations (issue 4) ---------------------------------------------------------------------
from . import services  # noqa: E402
from .models import Membership, Organisation, OrganisationInvite  # noqa: E402


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class InviteInline(admin.TabularInline):
    model = OrganisationInvite
    extra = 0
    fields = ["email", "role", "created_at", "accepted_at"]
    readonly_fields = fields


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Site staff verify organisations here. The verified mark is changed only through the two
    actions, so its date and reason stay right."""

    list_display = ["name", "slug", "is_verified", "verified_via", "created_at"]
    list_filter = ["is_verified", "verified_via"]
    search_fields = ["name", "slug", "email_domains", "website"]
    readonly_fields = ["is_verified", "verified_at", "verified_via", "created_at", "created_by"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, InviteInline]
    actions = ["mark_verified", "unmark_verified"]

    @admin.action(description="Mark the selected organisations as verified")
    def mark_verified(self, request, queryset):
        count = sum(
            services.mark_verified(organisation_id=pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{count} organisation(s) marked verified.")

    @admin.action(description="Take back the verification of the selected organisations")
    def unmark_verified(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.unmark_verified(organisation_id=pk)
        self.message_user(request, "Verification taken back.")
