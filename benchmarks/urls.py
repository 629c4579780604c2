"""The app's URLs plus the floors every figure is compared with."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/floor/constant/", views.floor_constant, name="bench_floor_constant"),
    path("bench/floor/insert/", views.floor_insert, name="bench_floor_insert"),
    path("bench/floor/sign/", views.floor_sign, name="bench_floor_sign"),
    path("", include("config.urls")),
]
