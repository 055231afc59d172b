from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tandem.tracking"
    label = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from tandem.crm.services import contact_erase_hook_register, contact_merge_hook_register
        from tandem.tracking.consent import consent_rederive, consent_withdraw_all
        from tandem.tracking.scopes import register_scopes
        from tandem.tracking.settings_pages import register_settings_pages

        register_scopes()
        register_settings_pages()
        contact_merge_hook_register(consent_rederive)
        contact_erase_hook_register(consent_withdraw_all)
