from django.contrib import admin

from .models import Letter, LetterVersion, Mail, Signature, Tally


class VersionInline(admin.TabularInline):
    model = LetterVersion
    extra = 0
    readonly_fields = ["number", "title", "created_at", "signature_count"]
    fields = readonly_fields


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "created_at"]
    list_filter = ["status"]
    prepopulated_fields = {"slug": ["title"]}
    search_fields = ["title", "slug"]
    raw_id_fields = ["created_by"]
    inlines = [VersionInline]


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Staff see what organisers see: a private signer's identity is already erased."""

    list_display = ["pk", "letter", "display_name", "visibility", "status", "is_hidden"]
    list_filter = ["status", "visibility", "is_hidden", "is_verified_employee"]
    search_fields = ["name", "email", "affiliation"]
    list_select_related = ["letter"]
    raw_id_fields = ["letter", "version", "user"]
    readonly_fields = ["public_id", "email_hash", "log_ref", "created_at", "verified_at"]


@admin.register(Tally)
class TallyAdmin(admin.ModelAdmin):
    list_display = ["letter", "verified", "public", "anonymous", "private", "employees"]
    readonly_fields = [f.name for f in Tally._meta.fields]


@admin.register(Mail)
class MailAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "created_at", "attempts", "last_error", "failed_at"]
    # The address, and what holds the signer's name and links: never shown.
    exclude = ["to", "text", "html", "context"]
    readonly_fields = [
        "kind",
        "subject",
        "template",
        "letter",
        "update",
        "created_at",
        "attempts",
        "last_error",
        "claimed_until",
        "failed_at",
    ]


# --- Co-signatures (issue 4) ---------------------------------------------------------------------
from .models import CoSignature  # noqa: E402


@admin.register(CoSignature)
class CoSignatureAdmin(admin.ModelAdmin):
    """Read-only: approvals and withdrawals move the tally, so they go through the services
    (the organiser's and the organisation's pages), never through a form here."""

    list_display = ["display_name", "letter", "status", "pinned_position", "requested_at"]
    list_filter = ["status"]
    search_fields = ["display_name", "organisation__name", "letter__slug"]
    list_select_related = ["letter"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
