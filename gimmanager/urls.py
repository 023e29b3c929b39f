from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),  # login, logout (POST), password change
    path("api/", include("console.api_urls")),
    path("", include("console.urls")),
]
handler500 = "gimmanager.outage.server_error"  # a database outage outside a view answers 503 too
