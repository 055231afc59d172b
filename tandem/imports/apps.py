from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "tandem.imports"
    label = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from tandem.crm.services import contact_rows_register
        from tandem.imports.models import ImportRow
        from tandem.imports.scopes import register_scopes

        register_scopes()
        # an import's row report names the contact it created or changed, and its values before
        contact_rows_register(
            "imports.ImportRow",
            lambda contact_id: ImportRow.objects.filter(model="contact", object_id=contact_id),
        )
