from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tandem.tracking"
    label = "tracking"
    verbose_name = "Tracking"
