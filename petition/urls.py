"""The petition app's pages (petition/views/); the organiser workspace's are in
petition/organiser_urls.py, under manage/. The JSON API (petition/api_urls.py) and the public log
(petition/log_urls.py) are included under api/ by config/urls.py."""

from django.urls import include, path

from .views import cosign, deliveries, letters, receipt_check, signing, tally, versions

urlpatterns = [
    path("", letters.home, name="home"),
    path("letters/<slug:slug>/", letters.letter_page, name="letter"),
    path("letters/<slug:slug>/sign/", signing.sign, name="sign"),
    path("letters/<slug:slug>/check-your-inbox/", signing.check_inbox, name="check_inbox"),
    path("letters/<slug:slug>/resend/", signing.resend, name="resend"),
    path("letters/<slug:slug>/confirm/<str:token>/", signing.verify, name="verify"),
    path("letters/<slug:slug>/thanks/", signing.thanks, name="thanks"),
    path("letters/<slug:slug>/my-signature/", signing.manage_request, name="manage_request"),
    path("letters/<slug:slug>/my-signature/<str:token>/", signing.manage, name="manage"),
    path("letters/<slug:slug>/reverify/<str:token>/", signing.reverify, name="reverify"),
    path("letters/<slug:slug>/check/", receipt_check.check, name="log_check"),
    # The tally page and the widget other sites embed.
    path("letters/<slug:slug>/tally/", tally.tally, name="tally"),
    path("letters/<slug:slug>/widget/", tally.widget, name="widget"),
    # Co-signatures: organisations co-sign; organisers approve, reject and pin.
    path("letters/<slug:slug>/cosign/", cosign.cosign, name="cosign"),
    path("letters/<slug:slug>/cosign/withdraw/", cosign.cosign_withdraw, name="cosign_withdraw"),
    path("manage/<slug:slug>/cosigners/", cosign.cosigners_moderate, name="cosigners_moderate"),
    path(
        "manage/<slug:slug>/cosigners/<int:pk>/",
        cosign.cosigner_action,
        name="cosigner_action",
    ),
    # The organiser workspace; a letter's text versions; stopping the organisers' updates.
    path("manage/", include("petition.organiser_urls")),
    path("letters/<slug:slug>/versions/", versions.letter_versions, name="letter_versions"),
    path("letters/<slug:slug>/updates/stop/<str:token>/", signing.unsubscribe, name="unsubscribe"),
    # Deliveries: the public page of a delivered letter, its files and its JSON.
    path("d/<slug:code>/", deliveries.public_page, name="delivery"),
    path("d/<slug:code>/delivery.json", deliveries.public_json, name="delivery_json"),
    path("d/<slug:code>/<str:name>", deliveries.public_file, name="delivery_file"),
    path(
        "letters/<slug:slug>/deliveries/",
        deliveries.letter_deliveries,
        name="letter_deliveries",
    ),
]
