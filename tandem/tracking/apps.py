from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tandem.tracking"
    label = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from tandem.tracking.scopes import register_scopes

        register_scopes()
