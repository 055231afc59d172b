from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "tandem.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from tandem.leads.ownership import register_owned_kinds
        from tandem.leads.scopes import register_scopes

        register_scopes()
        register_owned_kinds()
