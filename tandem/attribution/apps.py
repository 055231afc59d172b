from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "tandem.attribution"
    label = "attribution"
    verbose_name = "Attribution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tandem.attribution.services import register_scopes

        register_scopes()
