"""What several view modules share: how a letter is found for a visitor or for one of its
organisers, the roles that decide what an organiser may do, and the refusals pages answer with.

Every organiser view reaches its letter through `letter_for_organiser`, so "may this account
touch this letter, in this role" is decided in one place. A visitor who is not an organiser of
the letter gets a 404 (the letter may be a draft nobody else should know of); an organiser whose
role is too small for the action gets a 403.
"""

import functools

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render

from ..models import Letter, Organiser, Tally

Role = Organiser.Role
# Who may do what. Viewers see the figures only.
ALL_ROLES = frozenset({Role.OWNER, Role.EDITOR, Role.VIEWER})
EDITORS = frozenset({Role.OWNER, Role.EDITOR})  # edit, publish, moderate, export, send updates
OWNERS = frozenset({Role.OWNER})  # and manage the team


def public_letter(slug: str) -> Letter:
    """A letter a visitor may see: open or closed, never a draft."""
    return get_object_or_404(Letter.objects.listed(), slug=slug)


def tally_of(letter: Letter) -> Tally:
    """The letter's Tally (select_related("tally") makes this free), or zeros before the first."""
    try:
        return letter.tally
    except Tally.DoesNotExist:
        return Tally(letter=letter)


def letter_for_organiser(request, slug: str, *, roles=ALL_ROLES) -> Letter:
    """The letter `slug` if the signed-in account organises it in one of `roles`.

    404 for anyone who is not an organiser of this letter (signed out included), 403 for an
    organiser whose role does not allow the action. The organiser's role is set on the letter
    as `letter.role`, for templates that hide what the role cannot do.
    """
    if not request.user.is_authenticated:
        raise Http404
    membership = (
        Organiser.objects.select_related("letter", "letter__tally")
        .filter(letter__slug=slug, user=request.user)
        .first()
    )
    if membership is None:
        raise Http404
    if membership.role not in roles:
        raise PermissionDenied
    letter = membership.letter
    letter.role = membership.role
    return letter


def may_edit(letter: Letter) -> bool:
    """Whether the role `letter_for_organiser` set on the letter may change it."""
    return letter.role in EDITORS


def post_only(view):
    """require_POST, but after the organiser check: someone who does not organise the letter
    gets the same 404 from every one of its URLs, whatever the method."""

    @functools.wraps(view)
    def wrapper(request, slug: str, *args, **kwargs):
        if request.method != "POST":
            letter_for_organiser(request, slug)
            return HttpResponseNotAllowed(["POST"])
        return view(request, slug, *args, **kwargs)

    return wrapper


def too_many(request, letter: Letter | None = None):
    """The answer to a request over one of its rate limits."""
    return render(request, "petition/too_many.html", {"letter": letter}, status=429)


def closed(request, letter: Letter):
    """The answer to signing or co-signing a letter that takes no more."""
    return render(request, "petition/closed.html", {"letter": letter}, status=403)
