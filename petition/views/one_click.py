"""What the sign section knows of a signed-in signer: the address they sign with in one click,
the profile that fills the form, and their signature on the letter. Used by the letter page and
by the sign form when it comes back with errors."""

from allauth.account.models import EmailAddress

from ..models import Letter, Signature


def one_click_email(user) -> str:
    """The address a signed-in user signs with in one click: their verified primary one."""
    if not user.is_authenticated:
        return ""
    address = EmailAddress.objects.filter(user=user, verified=True, primary=True).first()
    return address.email.lower() if address else ""


def profile_initial(user) -> dict:
    email = one_click_email(user)
    if not email:
        return {}
    fields = ("name", "affiliation", "job_title", "city")
    return {"email": email, **{field: getattr(user, field) for field in fields}}


def account_context(request, letter: Letter) -> dict:
    """What the sign section says to a signed-in user: their signature here, if one is linked
    (private ones never are), or how one-click signing and employer verification work."""
    if not request.user.is_authenticated:
        return {}
    email = one_click_email(request.user)
    return {
        "one_click_email": email,
        "one_click_is_work": bool(email and letter.employer_domain_for(email)),
        "my_signature": Signature.objects.active()
        .filter(letter=letter, user=request.user)
        .only("visibility", "status")
        .first(),
    }
