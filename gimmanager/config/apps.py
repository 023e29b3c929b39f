from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "gimmanager.config"
    label = "config"
    verbose_name = "Genesys Info Mart options"
