from django.apps import AppConfig


class EnablementConfig(AppConfig):
    name = "tandem.enablement"
    label = "enablement"
    verbose_name = "Enablement"

    def ready(self) -> None:
        from tandem.crm.selectors import record_panel_register
        from tandem.enablement.record_panel import enablement_panel
        from tandem.enablement.scopes import register_scopes

        register_scopes()
        record_panel_register("enablement", enablement_panel)
