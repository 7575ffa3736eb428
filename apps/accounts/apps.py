from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts, teams and roles"

    def ready(self):
        from apps.accounts import page_cache
        from apps.accounts.api import schema  # noqa: F401 (registers the OpenAPI auth scheme)
        from apps.accounts.middleware import start_session_clocks
        from apps.accounts.roles import ensure_role_groups
        from apps.accounts.timezones import remember_time_zone

        connection_created.connect(page_cache.install, dispatch_uid="accounts.page_cache")
        page_cache.install_on_open_connections()
        post_migrate.connect(ensure_role_groups, dispatch_uid="accounts.ensure_role_groups")
        user_logged_in.connect(start_session_clocks, dispatch_uid="accounts.start_session_clocks")
        user_logged_in.connect(remember_time_zone, dispatch_uid="accounts.remember_time_zone")
