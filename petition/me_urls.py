"""The signed-in person's pages that show petition data: their signatures, the download of their
data, leaving (which may withdraw signatures), and an organisation's page (its co-signatures).
Included at the site root in config/urls.py, after accounts.urls, whose pages they sit with:
each path carries its prefix."""

from django.urls import path

from .views import me, organisation

urlpatterns = [
    path("me/signatures/", me.my_signatures, name="me_signatures"),
    path(
        "me/signatures/<uuid:public_id>/level/<str:level>/",
        me.my_signature_level,
        name="me_signature_level",
    ),
    path(
        "me/signatures/<uuid:public_id>/withdraw/",
        me.my_signature_withdraw,
        name="me_signature_withdraw",
    ),
    path("me/data.json", me.my_data, name="me_data"),
    path("me/delete/", me.delete_account, name="me_delete"),
    # After accounts.urls' orgs/new/, which this would match too.
    path("orgs/<slug:slug>/", organisation.organisation_detail, name="organisation"),
]
