"""Account pages. Thin views: fetch, bind a form, call one service, redirect or render.

The signer's pages that show or change their signatures (me/signatures/, me/data.json,
me/delete/) are petition's (petition/views/me.py): they act on signatures.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from .forms import ProfileForm
from .models import User

# --- The signer's profile: the details a signature form starts from --------------------------


@login_required
@require_http_methods(["GET", "POST"])
def my_profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your details are saved.")
        return redirect("me_signatures")
    return render(request, "accounts/profile.html", {"form": form})


# --- The language switcher: Django's set_language, remembered by the account ------------------


@require_POST
def set_language(request):
    """Set the language cookie and go back to the page in that language (Django's view); a
    signed-in user's choice is also kept as their account's preference, for their other
    browsers."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        User.objects.filter(pk=request.user.pk).update(language=language)
    return response
