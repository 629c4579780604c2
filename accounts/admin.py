from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import (
    Membership,
    Organisation,
    OrganisationInvite,
    OrganisationVerification,
    User,
)


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


# --- Organisations ----------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class InviteInline(admin.TabularInline):
    model = OrganisationInvite
    extra = 0
    fields = ["email", "role", "created_at", "accepted_at", "revoked_at", "revoked_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class VerificationInline(admin.TabularInline):
    """Who verified what, when and how: written by the services, never edited here."""

    model = OrganisationVerification
    extra = 0
    fields = ["created_at", "event", "domain", "how", "user"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("how"))
    def how(self, record):
        return record.how


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Site staff verify organisations and confirm their names here. The verified mark and the
    name confirmation change only through the actions, so who, when and how stay right."""

    list_display = [
        "name",
        "slug",
        "is_verified",
        "verified_domain",
        "name_confirmed",
        "created_at",
    ]
    list_filter = ["is_verified", "verified_via", "name_confirmed"]
    search_fields = ["name", "slug", "email_domains", "website", "verified_domain"]
    readonly_fields = [
        "is_verified",
        "verified_at",
        "verified_via",
        "verified_domain",
        "name_confirmed",
        "name_confirmed_at",
        "name_confirmed_by",
        "created_at",
        "created_by",
    ]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VerificationInline, MembershipInline, InviteInline]
    actions = ["confirm_name", "unconfirm_name", "mark_verified", "unmark_verified"]

    def save_model(self, request, obj, form, change):
        if change and "name" in form.changed_data:
            # Staff confirmed the old name, not this one.
            obj.name_confirmed, obj.name_confirmed_at, obj.name_confirmed_by = False, None, None
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Confirm the names of the selected organisations"))
    def confirm_name(self, request, queryset):
        count = sum(
            services.confirm_name(organisation_id=pk, by=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(count)d name confirmed.", "%(count)d names confirmed.", count)
            % {"count": count},
        )

    @admin.action(description=_("Take back the name confirmation of the selected organisations"))
    def unconfirm_name(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.unconfirm_name(organisation_id=pk)
        self.message_user(request, _("Name confirmation taken back."))

    @admin.action(
        description=_(
            "Verify the first email domain of the selected organisations (checked by staff)"
        )
    )
    def mark_verified(self, request, queryset):
        count = sum(
            services.mark_verified(organisation_id=pk, by=request.user)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d organisation marked verified.",
                "%(count)d organisations marked verified.",
                count,
            )
            % {"count": count},
        )

    @admin.action(description=_("Take back the verification of the selected organisations"))
    def unmark_verified(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            services.unmark_verified(organisation_id=pk, by=request.user)
        self.message_user(request, _("Verification taken back."))


@admin.register(OrganisationVerification)
class OrganisationVerificationAdmin(admin.ModelAdmin):
    """The verification record, read-only: nobody rewrites who proved what."""

    list_display = ["created_at", "organisation", "event", "domain", "how", "user"]
    list_filter = ["event", "method"]
    search_fields = ["organisation__name", "domain", "address"]
    list_select_related = ["organisation", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("how"))
    def how(self, record):
        return record.how
