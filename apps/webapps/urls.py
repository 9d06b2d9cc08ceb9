from __future__ import annotations

from django.urls import path

from apps.webapps import views

app_name = "webapps"
urlpatterns = [
    path("", views.app_list, name="list"),
    path("apps/new/", views.app_create, name="create"),
    path("apps/<str:name>/", views.overview, name="overview"),
    path("runtimes/", views.runtimes, name="runtimes"),
]
