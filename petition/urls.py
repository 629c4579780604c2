from django.urls import path

from . import views

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
]
