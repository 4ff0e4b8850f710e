from django.urls import path

from . import views

urlpatterns = [
    path("hello/", views.hello),
    path("info/", views.info),
    path("upload/", views.upload),
]
