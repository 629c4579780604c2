"""The organiser workspace, under /manage/ (petition/views/organiser/, and the workspace's pages
for translations and deliveries)."""

from django.urls import path

from .views import deliveries, translations
from .views.organiser import exports, letters, moderation, team, updates

app_name = "organiser"

urlpatterns = [
    path("", letters.dashboard, name="dashboard"),
    path("new/", letters.create, name="create"),
    path("invites/<str:token>/", team.accept_invite, name="accept_invite"),
    path("<slug:slug>/", letters.overview, name="letter"),
    path("<slug:slug>/edit/", letters.edit, name="edit"),
    path(
        "<slug:slug>/translations/",
        translations.translations_page,
        name="translations",
    ),
    path("<slug:slug>/settings/", letters.letter_settings, name="settings"),
    path("<slug:slug>/publish/", letters.publish, name="publish"),
    path("<slug:slug>/close/", letters.close, name="close"),
    path("<slug:slug>/reopen/", letters.reopen, name="reopen"),
    path("<slug:slug>/team/", team.team, name="team"),
    path("<slug:slug>/team/invite/", team.invite, name="invite"),
    path("<slug:slug>/team/invitations/<int:pk>/revoke/", team.revoke_invite, name="revoke_invite"),
    path("<slug:slug>/team/<int:pk>/role/", team.set_role, name="set_role"),
    path("<slug:slug>/team/<int:pk>/remove/", team.remove_organiser, name="remove_organiser"),
    path("<slug:slug>/signatures/", moderation.signatures, name="signatures"),
    path("<slug:slug>/signatures/<uuid:public_id>/hide/", moderation.hide, name="hide"),
    path("<slug:slug>/signatures/<uuid:public_id>/restore/", moderation.restore, name="restore"),
    path("<slug:slug>/audit/", letters.audit, name="audit"),
    path("<slug:slug>/exports/", exports.export_page, name="exports"),
    path("<slug:slug>/exports/download/", exports.export_download, name="export_download"),
    path("<slug:slug>/updates/", updates.updates, name="updates"),
    path("<slug:slug>/updates/<int:pk>/", updates.update_detail, name="update"),
    path("<slug:slug>/updates/<int:pk>/pause/", updates.pause_update, name="pause_update"),
    path("<slug:slug>/updates/<int:pk>/resume/", updates.resume_update, name="resume_update"),
    path("<slug:slug>/deliveries/", deliveries.organiser_list, name="deliveries"),
    path("<slug:slug>/deliveries/<slug:code>/", deliveries.organiser_detail, name="delivery"),
    path(
        "<slug:slug>/deliveries/<slug:code>/delivered/",
        deliveries.mark_delivered,
        name="delivery_delivered",
    ),
    path(
        "<slug:slug>/deliveries/<slug:code>/<str:name>",
        deliveries.organiser_file,
        name="delivery_file",
    ),
]
