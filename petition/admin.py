from django.contrib import admin

from .models import CoSignature, Letter, LetterVersion, Level, Mail, Signature, Tally


class VersionInline(admin.TabularInline):
    model = LetterVersion
    extra = 0
    readonly_fields = ["number", "title", "created_at", "signature_count"]
    fields = readonly_fields
    can_delete = False  # signatures record the version they signed

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    """A letter's text, status and dates change through the organiser's pages only: they make
    the versions, the public log and the tally follow. Nothing here makes or deletes a letter."""

    list_display = ["title", "slug", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "slug",
        "title",
        "addressee",
        "body",
        "status",
        "created_by",
        "created_at",
        "published_at",
        "closed_at",
    ]
    inlines = [VersionInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# What staff may see of a signature, by level. Like the organisers, staff never see a private
# signer's name, address or account (pending ones included), nor the details they did not tick.
IDENTITY_FIELDS = ["name", "email", "user"]
DETAIL_FIELDS = ["affiliation", "job_title", "team", "city"]


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Read-only. Every change to a signature moves the tally, the public log or what a signer
    was promised, so it goes through the services (the signer's links, the organisers' pages);
    nothing here adds, edits or deletes one."""

    list_display = ["pk", "letter", "display_name", "visibility", "status", "is_hidden"]
    list_filter = ["status", "visibility", "is_hidden", "is_verified_employee"]
    search_fields = ["name", "email", "affiliation"]
    list_select_related = ["letter"]

    def get_fields(self, request, obj=None):
        fields = [field.name for field in Signature._meta.fields if field.name != "id"]
        if obj is not None and obj.visibility == Level.PRIVATE:
            ticked = {name for name in DETAIL_FIELDS if getattr(obj, f"show_{name}")}
            hidden = set(IDENTITY_FIELDS) | (set(DETAIL_FIELDS) - ticked)
            fields = [name for name in fields if name not in hidden]
        return fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            # A search by name or address must not find a private signer (nor tell that one
            # signed): they are never searched.
            results = results.exclude(visibility=Level.PRIVATE)
        return results, duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tally)
class TallyAdmin(admin.ModelAdmin):
    list_display = ["letter", "verified", "public", "anonymous", "private", "employees"]
    readonly_fields = [f.name for f in Tally._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


# --- Co-signatures: organisations that co-sign a letter ------------------------------------------


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
