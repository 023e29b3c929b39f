from django.apps import AppConfig


class InfomartConfig(AppConfig):
    name = "infomart"
    verbose_name = "Info Mart"
