"""What several view modules share: how a letter is found for a visitor, and the refusals pages
answer with."""

from django.shortcuts import get_object_or_404, render

from ..models import Letter


def public_letter(slug: str) -> Letter:
    """A letter a visitor may see: open or closed, never a draft."""
    return get_object_or_404(Letter.objects.listed(), slug=slug)


def too_many(request, letter: Letter | None = None):
    """The answer to a request over one of its rate limits."""
    return render(request, "petition/too_many.html", {"letter": letter}, status=429)


def closed(request, letter: Letter):
    """The answer to signing or co-signing a letter that takes no more."""
    return render(request, "petition/closed.html", {"letter": letter}, status=403)
