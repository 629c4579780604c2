"""The JSON API's routes (petition/views/api.py), included under api/ by config/urls.py. Each
one is described in the OpenAPI document (petition/views/openapi.py)."""

from django.urls import path

from .views import api

urlpatterns = [
    path("letters", api.letter_list, name="api_letters"),
    path("letters/<slug:slug>", api.letter_detail, name="api_letter"),
    path("letters/<slug:slug>/counts", api.letter_counts, name="api_counts"),
    path("letters/<slug:slug>/signatures", api.signature_list, name="api_signatures"),
    path("letters/<slug:slug>/cosigners", api.cosigner_list, name="api_cosigners"),
    path("openapi.json", api.openapi, name="api_openapi"),
]
