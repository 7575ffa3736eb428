from django.apps import AppConfig
from django.db.models.signals import post_save


class LibrariesConfig(AppConfig):
    name = "apps.libraries"
    label = "libraries"
    verbose_name = "Library governance"

    def ready(self):
        from apps.deployments.models import Deployment

        # A patched version going live marks its patch (and findings) deployed at once, not when
        # someone next opens a library page; the deployments app needs to know nothing of it.
        post_save.connect(_deployment_saved, sender=Deployment, dispatch_uid="libraries.deployment_live")


def _deployment_saved(sender, instance, **kwargs):
    from django.db import transaction

    from apps.libraries.patching.services import patch_sync_deployed

    if instance.status == "live":
        transaction.on_commit(patch_sync_deployed, robust=True)
