from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "tandem.crm"
    label = "crm"
    verbose_name = "Customer record"

    def ready(self) -> None:
        from tandem.crm.exports import register_exports
        from tandem.crm.ownership import register_owned_kinds
        from tandem.crm.privacy import register_admin_log
        from tandem.crm.scopes import register_scopes

        register_scopes()
        register_owned_kinds()
        register_exports()
        register_admin_log()
