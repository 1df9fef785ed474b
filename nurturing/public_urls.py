"""Public token pages (namespace nurturing_public): no login, a signed token each."""

from django.urls import path

from nurturing import public_views

app_name = "nurturing_public"

urlpatterns = [
    path("o/<str:token>/", public_views.open_pixel, name="open"),
    path("c/<str:token>/", public_views.click, name="click"),
    path("u/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
]
