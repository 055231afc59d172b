from django.apps import AppConfig


class ProgrammesConfig(AppConfig):
    name = "tandem.programmes"
    label = "programmes"
    verbose_name = "Programmes"

    def ready(self) -> None:
        from tandem.programmes.scopes import register_scopes

        register_scopes()
