from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "tandem.automation"
    label = "automation"
    verbose_name = "Automation"
