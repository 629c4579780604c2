"""The organiser's letters: the dashboard of every letter the account organises, writing and
editing a letter's text, its settings, publishing, closing and reopening it, its figures and its
audit log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ... import services
from ...forms.organiser import LetterSettingsForm, LetterTextForm
from ...models import AuditEvent, Letter, Organiser, Update, render_markdown
from ..common import EDITORS, letter_for_organiser, may_edit, post_only, tally_of


@login_required
def dashboard(request):
    """My letters: every letter the account organises, with its figures from the Tally."""
    memberships = (
        Organiser.objects.filter(user=request.user)
        .select_related("letter", "letter__tally")
        .order_by("-letter__created_at", "-pk")
    )
    rows = [(m, m.letter, tally_of(m.letter)) for m in memberships]
    return render(request, "petition/organiser/dashboard.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    form = LetterTextForm(request.POST or None)
    preview = None
    if request.method == "POST":
        if not form.is_valid():
            return _letter_form(request, form, None, None, status=400)
        if "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        else:
            letter = services.create_letter(user=request.user, **form.cleaned_data)
            messages.success(request, "Draft saved. Check the settings, then publish it.")
            return redirect("organiser:letter", slug=letter.slug)
    return _letter_form(request, form, None, preview)


def _letter_form(request, form, letter, preview, status=200):
    return render(
        request,
        "petition/organiser/letter_form.html",
        {"form": form, "letter": letter, "preview": preview},
        status=status,
    )


@login_required
def overview(request, slug: str):
    """A letter's figures (all organisers) and what the account's role may do with it."""
    letter = letter_for_organiser(request, slug)
    context = {
        "letter": letter,
        "tally": tally_of(letter),
        "may_edit": may_edit(letter),
        "domains": letter.domain_tallies.filter(count__gt=0).order_by("-count", "domain")[:20],
        "days": list(letter.daily_tallies.order_by("-day")[:14]),
        "versions": letter.versions.order_by("-number"),
        "milestones": letter.milestones.all(),
        "sending": letter.updates.filter(status=Update.Status.SENDING).order_by("-pk"),
    }
    return render(request, "petition/organiser/overview.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    initial = {"title": letter.title, "addressee": letter.addressee, "body": letter.body}
    form = LetterTextForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "POST":
        if not form.is_valid():
            return _letter_form(request, form, letter, None, status=400)
        if "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        else:
            new_version = services.edit_letter(
                letter_id=letter.pk, actor=request.user, **form.cleaned_data
            )
            if new_version:
                messages.success(request, "Saved as a new version; earlier signatures are kept.")
            else:
                messages.success(request, "Saved.")
            return redirect("organiser:letter", slug=letter.slug)
    return _letter_form(request, form, letter, preview)


@login_required
@require_http_methods(["GET", "POST"])
def letter_settings(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    form = LetterSettingsForm(request.POST or None, instance=letter)
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in LetterSettingsForm.Meta.fields}
            changed = services.change_settings(letter_id=letter.pk, actor=request.user, **fields)
            messages.success(request, "Settings saved." if changed else "Nothing changed.")
            return redirect("organiser:letter", slug=letter.slug)
        letter.refresh_from_db()
        letter.role = Organiser.objects.get(letter=letter, user=request.user).role
    return render(
        request,
        "petition/organiser/settings.html",
        {"letter": letter, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@post_only
def publish(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    if letter.status != Letter.Status.DRAFT:
        messages.info(request, "This letter is already published.")
    elif letter.deadline is not None and letter.deadline <= timezone.now():
        messages.error(request, "The deadline has passed: move or clear it in the settings first.")
    else:
        services.publish(letter_id=letter.pk, actor=request.user)
        messages.success(request, "Published: the letter is open for signatures.")
    return redirect("organiser:letter", slug=letter.slug)


@login_required
@post_only
def close(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    if services.close(letter_id=letter.pk, actor=request.user):
        messages.success(request, "Closed: the letter takes no more signatures.")
    return redirect("organiser:letter", slug=letter.slug)


@login_required
@post_only
def reopen(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    try:
        services.reopen(letter_id=letter.pk, actor=request.user)
    except services.WorkspaceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Reopened: the letter takes signatures again.")
    return redirect("organiser:letter", slug=letter.slug)


@login_required
def audit(request, slug: str):
    letter = letter_for_organiser(request, slug)
    events = (
        AuditEvent.objects.filter(letter=letter)
        .select_related("actor")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "petition/organiser/audit.html", {"letter": letter, "page": page})
