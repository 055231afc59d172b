from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "tandem.crm"
    label = "crm"
    verbose_name = "Customer record"

    def ready(self) -> None:
        from tandem.crm.scopes import register_scopes

        register_scopes()
