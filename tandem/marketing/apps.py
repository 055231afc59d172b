from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "tandem.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from tandem.marketing.scopes import register_scopes

        register_scopes()
