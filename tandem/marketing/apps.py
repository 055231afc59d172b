from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "tandem.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from tandem.marketing.campaigns.ownership import register_owned_kinds
        from tandem.marketing.consent import WebsiteFormOptIn
        from tandem.marketing.scopes import register_scopes
        from tandem.tracking.services import double_opt_in_register

        register_scopes()
        register_owned_kinds()
        double_opt_in_register(WebsiteFormOptIn())
