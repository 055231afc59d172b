from django.apps import AppConfig


class FieldConfig(AppConfig):
    name = "tandem.field"
    label = "field"
    verbose_name = "Field"
