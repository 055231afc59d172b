from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "tandem.imports"
    label = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from tandem.imports.scopes import register_scopes

        register_scopes()
