from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "tandem.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from tandem.crm.selectors import record_panel_register
        from tandem.sales.ownership import register_owned_kinds
        from tandem.sales.record_panel import sales_panel
        from tandem.sales.scopes import register_scopes
        from tandem.sales.settings_pages import register_settings_pages

        register_scopes()
        register_owned_kinds()
        register_settings_pages()
        record_panel_register("sales.deals", sales_panel)
