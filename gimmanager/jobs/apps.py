from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "gimmanager.jobs"
    label = "jobs"
    verbose_name = "Jobs"
