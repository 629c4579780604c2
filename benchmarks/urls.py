"""The app's URLs plus the floors every figure is compared with.

The app's patterns are spliced in rather than include()d: language-prefixed patterns work only in
the root URLconf, which this is for the benchmark's servers.
"""

from django.urls import path

from config import urls as app_urls

from . import views

urlpatterns = [
    path("bench/floor/constant/", views.floor_constant, name="bench_floor_constant"),
    path("bench/floor/insert/", views.floor_insert, name="bench_floor_insert"),
    path("bench/floor/sign/", views.floor_sign, name="bench_floor_sign"),
    *app_urls.urlpatterns,
]

handler404 = app_urls.handler404
