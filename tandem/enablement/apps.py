from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "tandem.enablement"
    label = "enablement"
    verbose_name = "Enablement"
