from django.apps import AppConfig
from django.db.models.signals import post_save


class LibrariesConfig(AppConfig):
    name = "apps.libraries"
    label = "libraries"
    verbose_name = "Library governance"

    def ready(self):
        from apps.deployments.models import Deployment
        from apps.libraries.policy import library_policy_refusal
        from apps.packaging.gates import register_lock_gate
        from apps.packaging.models import PackageBuild

        # IT's library policy refuses a package whose lock holds a blocked library.
        register_lock_gate(library_policy_refusal)

        # A new package's lock is scanned at once against the advisories already imported, not
        # only at the next import or the nightly scan.
        post_save.connect(_package_saved, sender=PackageBuild, dispatch_uid="libraries.package_built")
        # A patched version going live marks its patch (and findings) deployed at once, not when
        # someone next opens a library page; the deployments app needs to know nothing of it.
        post_save.connect(_deployment_saved, sender=Deployment, dispatch_uid="libraries.deployment_live")


def _deployment_saved(sender, instance, **kwargs):
    from django.db import transaction

    from apps.libraries.patching.services import patch_sync_deployed

    if instance.status == "live":
        transaction.on_commit(patch_sync_deployed, robust=True)


def _package_saved(sender, instance, **kwargs):
    from apps.libraries.models import Advisory
    from apps.libraries.scans import library_scan_enqueue

    if instance.status == "succeeded" and Advisory.objects.exists():
        library_scan_enqueue(trigger="package", version_ids=[instance.version_id])
