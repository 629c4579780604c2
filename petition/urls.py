from django.urls import path

from . import log_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("letters/<slug:slug>/", views.letter_page, name="letter"),
    path("letters/<slug:slug>/sign/", views.sign, name="sign"),
    path("letters/<slug:slug>/check-your-inbox/", views.check_inbox, name="check_inbox"),
    path("letters/<slug:slug>/resend/", views.resend, name="resend"),
    path("letters/<slug:slug>/confirm/<str:token>/", views.verify, name="verify"),
    path("letters/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("letters/<slug:slug>/my-signature/", views.manage_request, name="manage_request"),
    path("letters/<slug:slug>/my-signature/<str:token>/", views.manage, name="manage"),
    path("letters/<slug:slug>/reverify/<str:token>/", views.reverify, name="reverify"),
    path("letters/<slug:slug>/check/", log_views.check, name="log_check"),
]

# --- Tally page and embeddable widget (issue 6); the JSON API is petition/api.py, under api/ ---
urlpatterns += [
    path("letters/<slug:slug>/tally/", views.tally, name="tally"),
    path("letters/<slug:slug>/widget/", views.widget, name="widget"),
]

# --- Co-signatures (issue 4): organisations co-sign; organisers approve, reject and pin ---
from . import cosign_views  # noqa: E402

urlpatterns += [
    path("letters/<slug:slug>/cosign/", cosign_views.cosign, name="cosign"),
    path(
        "letters/<slug:slug>/cosign/withdraw/", cosign_views.cosign_withdraw, name="cosign_withdraw"
    ),
    path(
        "manage/<slug:slug>/cosigners/", cosign_views.cosigners_moderate, name="cosigners_moderate"
    ),
    path(
        "manage/<slug:slug>/cosigners/<int:pk>/",
        cosign_views.cosigner_action,
        name="cosigner_action",
    ),
]

# --- Organiser workspace (issue 5): /manage/..., text versions, stopping updates ---
from django.urls import include  # noqa: E402

urlpatterns += [
    path("manage/", include("petition.organiser_urls")),
    path("letters/<slug:slug>/versions/", views.letter_versions, name="letter_versions"),
    path("letters/<slug:slug>/updates/stop/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

# --- Deliveries: the public page of a delivered letter, its files and its JSON ---
from . import delivery_views  # noqa: E402

urlpatterns += [
    path("d/<slug:code>/", delivery_views.public_page, name="delivery"),
    path("d/<slug:code>/delivery.json", delivery_views.public_json, name="delivery_json"),
    path("d/<slug:code>/<str:name>", delivery_views.public_file, name="delivery_file"),
    path(
        "letters/<slug:slug>/deliveries/",
        delivery_views.letter_deliveries,
        name="letter_deliveries",
    ),
]
