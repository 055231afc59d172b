from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "tandem.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from tandem.crm.selectors import record_panel_register
        from tandem.marketing.campaigns.ownership import register_owned_kinds
        from tandem.marketing.consent import LedgerPurposes, WebsiteFormOptIn
        from tandem.marketing.record_panel import marketing_panel
        from tandem.marketing.scopes import register_scopes
        from tandem.marketing.settings_pages import register_settings_pages
        from tandem.tracking.services import consent_purposes_register, double_opt_in_register

        register_scopes()
        register_owned_kinds()
        register_settings_pages()
        double_opt_in_register(WebsiteFormOptIn())
        consent_purposes_register(LedgerPurposes())
        record_panel_register("marketing.segments", marketing_panel)
