from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "tandem.insights"
    label = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from tandem.insights.scopes import register_scopes

        register_scopes()
