from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("complete/", views.complete, name="complete"),
    path("webhook/", views.webhook, name="webhook"),
    path("prepare/", views.prepare, name="prepare"),
]
