"""Account pages. Included at the site root in config/urls.py: each path carries its prefix."""

from django.urls import path

from . import views

urlpatterns = [
    # --- Signer accounts (issue 11) ---
    path("me/signatures/", views.my_signatures, name="me_signatures"),
    path(
        "me/signatures/<uuid:public_id>/level/<str:level>/",
        views.my_signature_level,
        name="me_signature_level",
    ),
    path(
        "me/signatures/<uuid:public_id>/withdraw/",
        views.my_signature_withdraw,
        name="me_signature_withdraw",
    ),
    path("me/profile/", views.my_profile, name="me_profile"),
    path("me/data.json", views.my_data, name="me_data"),
    path("me/delete/", views.delete_account, name="me_delete"),
]

# --- Organisations (issue 4) ---
from . import organisation_views  # noqa: E402

urlpatterns += [
    path("orgs/", organisation_views.organisation_list, name="organisations"),
    # MEDIA_URL + logo_path(): where the local media storage's logo URLs point.
    path(
        "media/organisation-logos/<str:name>",
        organisation_views.organisation_logo,
        name="organisation_logo",
    ),
    path("orgs/new/", organisation_views.organisation_create, name="organisation_create"),
    path(
        "orgs/invitations/<str:token>/",
        organisation_views.organisation_invite,
        name="organisation_invite",
    ),
    path("orgs/<slug:slug>/", organisation_views.organisation_detail, name="organisation"),
    path("orgs/<slug:slug>/edit/", organisation_views.organisation_edit, name="organisation_edit"),
    path(
        "orgs/<slug:slug>/invite/",
        organisation_views.organisation_invite_send,
        name="organisation_invite_send",
    ),
    path(
        "orgs/<slug:slug>/invitations/<int:pk>/revoke/",
        organisation_views.organisation_invite_revoke,
        name="organisation_invite_revoke",
    ),
    path(
        "orgs/<slug:slug>/members/<int:pk>/",
        organisation_views.organisation_member,
        name="organisation_member",
    ),
]
