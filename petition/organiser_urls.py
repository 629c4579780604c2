"""The organiser workspace, under /manage/ (petition/organiser_views.py)."""

from django.urls import path

from . import delivery_views, translation_views
from . import organiser_views as views

app_name = "organiser"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("new/", views.create, name="create"),
    path("invites/<str:token>/", views.accept_invite, name="accept_invite"),
    path("<slug:slug>/", views.overview, name="letter"),
    path("<slug:slug>/edit/", views.edit, name="edit"),
    path(
        "<slug:slug>/translations/",
        translation_views.translations_page,
        name="translations",
    ),
    path("<slug:slug>/settings/", views.letter_settings, name="settings"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/close/", views.close, name="close"),
    path("<slug:slug>/reopen/", views.reopen, name="reopen"),
    path("<slug:slug>/team/", views.team, name="team"),
    path("<slug:slug>/team/invite/", views.invite, name="invite"),
    path(
        "<slug:slug>/team/invitations/<int:pk>/revoke/", views.revoke_invite, name="revoke_invite"
    ),
    path("<slug:slug>/team/<int:pk>/role/", views.set_role, name="set_role"),
    path("<slug:slug>/team/<int:pk>/remove/", views.remove_organiser, name="remove_organiser"),
    path("<slug:slug>/signatures/", views.signatures, name="signatures"),
    path("<slug:slug>/signatures/<uuid:public_id>/hide/", views.hide, name="hide"),
    path("<slug:slug>/signatures/<uuid:public_id>/restore/", views.restore, name="restore"),
    path("<slug:slug>/audit/", views.audit, name="audit"),
    path("<slug:slug>/exports/", views.export_page, name="exports"),
    path("<slug:slug>/exports/download/", views.export_download, name="export_download"),
    path("<slug:slug>/updates/", views.updates, name="updates"),
    path("<slug:slug>/updates/<int:pk>/", views.update_detail, name="update"),
    path("<slug:slug>/updates/<int:pk>/pause/", views.pause_update, name="pause_update"),
    path("<slug:slug>/updates/<int:pk>/resume/", views.resume_update, name="resume_update"),
    path("<slug:slug>/deliveries/", delivery_views.organiser_list, name="deliveries"),
    path("<slug:slug>/deliveries/<slug:code>/", delivery_views.organiser_detail, name="delivery"),
    path(
        "<slug:slug>/deliveries/<slug:code>/delivered/",
        delivery_views.mark_delivered,
        name="delivery_delivered",
    ),
    path(
        "<slug:slug>/deliveries/<slug:code>/<str:name>",
        delivery_views.organiser_file,
        name="delivery_file",
    ),
]
