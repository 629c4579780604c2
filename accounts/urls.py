"""Account pages. Included at the site root in config/urls.py: each path carries its prefix.

The pages that show signatures or co-signatures (me/signatures/..., me/data.json, me/delete/,
orgs/<slug>/) are petition's, in petition/me_urls.py, included right after these.
"""

from django.urls import path

from . import organisation_views, views

urlpatterns = [
    # --- A signer's account ---
    path("me/profile/", views.my_profile, name="me_profile"),
    # --- Organisations: their staff, invitations and logos ---
    path("orgs/", organisation_views.organisation_list, name="organisations"),
    # MEDIA_URL + logo_path(): where the local media storage's logo URLs point.
    path(
        "media/organisation-logos/<str:name>",
        organisation_views.organisation_logo,
        name="organisation_logo",
    ),
    # Before petition's orgs/<slug>/, which "new" would match too.
    path("orgs/new/", organisation_views.organisation_create, name="organisation_create"),
    path(
        "orgs/invitations/<str:token>/",
        organisation_views.organisation_invite,
        name="organisation_invite",
    ),
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
