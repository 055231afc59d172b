from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "tandem.enablement"
    label = "enablement"
    verbose_name = "Enablement"

    def ready(self) -> None:
        from tandem.enablement.scopes import register_scopes

        register_scopes()
