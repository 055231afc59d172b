from django.apps import AppConfig


class FieldConfig(AppConfig):
    name = "tandem.field"
    label = "field"
    verbose_name = "Field"

    def ready(self) -> None:
        from tandem.field.scopes import register_scopes

        register_scopes()
