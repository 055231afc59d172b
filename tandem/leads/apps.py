from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "tandem.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from tandem.crm.selectors import record_panel_register
        from tandem.leads.ownership import register_owned_kinds
        from tandem.leads.record_panel import handoff_panel
        from tandem.leads.scopes import register_scopes
        from tandem.leads.scoring.views import score_panel
        from tandem.leads.settings_pages import register_settings_pages
        from tandem.leads.views import dispute_panel

        register_scopes()
        register_owned_kinds()
        register_settings_pages()
        record_panel_register("leads.disputes", dispute_panel)
        record_panel_register("leads.handoffs", handoff_panel)
        record_panel_register("leads.score", score_panel)
