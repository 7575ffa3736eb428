"""The admin is no side door: it changes nothing that a service guards.

The walk below is generated from ``admin.site._registry``, so a model registered later is walked
too. For every registered model it opens the change form of a real row, then, as an IT operator
and as the superuser, POSTs that form once per field with the field changed, POSTs the delete
view and the bulk delete action, and POSTs the add form. Whatever the admin stored or removed must
have left an audit event by that user naming each changed field; anything else is a violation.
"""

import itertools
import json
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, models, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from tests import model_zoo
from tests.conftest import register_credit_version

pytestmark = pytest.mark.django_db

_counter = itertools.count(1)
User = get_user_model()


# --- reading a change form the way a browser would submit it ----------------------------------


class _FormFields(HTMLParser):
    """The name/value pairs a browser would send for the page's model form (the one whose id
    ends in ``_form``), including inline management forms."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def _add(self, name, value):
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("id") or "").endswith("_form"):
            self._in_form = True
        if not self._in_form or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(name, a.get("value", "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._add(name, a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if "selected" in a:
                self._add(self._select, a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._add(self._textarea, self._text.removeprefix("\n"))
            self._textarea = None


def form_data(html: str) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(html)
    return parser.data


# --- a real row for every model -----------------------------------------------------------------


def _sample(field: models.Field, n: int):
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey):
        target = field.related_model
        existing = target.objects.first()
        if existing is not None and not isinstance(field, models.OneToOneField):
            return existing
        return make_row(target)
    if isinstance(field, models.EmailField):
        return f"row{n}@example.org"
    if isinstance(field, models.URLField):
        return f"https://example.org/{n}"
    if isinstance(field, models.GenericIPAddressField):
        return "10.0.0.1"
    if isinstance(field, models.FileField):
        return f"rows/row{n}.bin"
    if isinstance(field, (models.CharField, models.TextField)):
        return f"row{n}"[: field.max_length or 50]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, (models.IntegerField, models.DecimalField)):
        return n
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return timezone.now().date()
    if isinstance(field, models.DurationField):
        return timedelta(minutes=1)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BinaryField):
        return b""
    raise NotImplementedError(f"no sample value for {field!r}")


def make_row(model):
    """A stored row with every field that has no default filled in (foreign keys point at an
    existing row, or a new one made the same way)."""
    n = next(_counter)
    values = {}
    for field in model._meta.concrete_fields:
        if (
            isinstance(field, models.AutoField)
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            continue
        if field.has_default() or (field.null and field.is_relation):
            continue
        values[field.name] = _sample(field, n)
    return model.objects.create(**values)


def row_of(model):
    return model.objects.order_by("pk").first() or make_row(model)


# --- what the stored row looks like, and how to change each field in the form -------------------


def _snapshot_fields(model):
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and not getattr(f, "auto_now", False) and not getattr(f, "auto_now_add", False)
    ]


def snapshot(model, pk) -> dict | None:
    row = model.objects.filter(pk=pk).values(*[f.attname for f in _snapshot_fields(model)]).first()
    if row is None:
        return None
    state = {f.name: row[f.attname] for f in _snapshot_fields(model)}
    obj = model.objects.get(pk=pk)
    for m2m in model._meta.many_to_many:
        state[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pk", flat=True))
    return state


def _other_pk(target, current):
    other = target.objects.exclude(pk=current).order_by("pk").first() if current is not None else None
    if other is None:
        try:
            with transaction.atomic():
                other = make_row(target)
        except IntegrityError:  # a second row would break a constraint: nothing to switch to
            return current
    return other.pk


def mutation(field: models.Field, current) -> dict:
    """Form keys and values that set ``field`` to something other than ``current``; ``None`` as a
    value removes the key (an unticked checkbox)."""
    name = field.name
    if field.many_to_many:
        return {name: [] if current else [str(_other_pk(field.related_model, None))]}
    if isinstance(field, models.ForeignKey):
        other = _other_pk(field.related_model, current)
        return {name: str(other)} if other != current else {}
    if field.choices:
        values = [str(value) for value, _ in field.flatchoices]
        return {name: next(v for v in values if v != str(current))}
    if isinstance(field, models.BooleanField):
        if field.null:
            return {name: "false" if current else "true"}
        return {name: None if current else "on"}
    if isinstance(field, models.DateTimeField):
        return {f"{name}_0": "2001-02-03", f"{name}_1": "04:05:06"}
    if isinstance(field, models.DateField):
        return {name: "2001-02-03"}
    if isinstance(field, models.JSONField):
        if isinstance(current, list):
            return {name: json.dumps([*current, "changed"])}
        return {name: json.dumps({**(current if isinstance(current, dict) else {}), "changed": 1})}
    if isinstance(field, (models.IntegerField, models.FloatField, models.DecimalField)):
        return {name: str((current or 0) + 3)}
    if isinstance(field, models.URLField):
        return {name: "https://changed.example.org/hook"}
    if isinstance(field, models.EmailField):
        return {name: "changed@example.org"}
    if isinstance(field, models.FileField):
        return {name: SimpleUploadedFile("changed.bin", b"changed")}
    if isinstance(field, models.UUIDField):
        return {name: str(uuid.uuid4())}
    if isinstance(field, (models.CharField, models.TextField)):
        new = "changed" if current != "changed" else "changed again"
        return {name: new[: field.max_length or 50]}
    return {}


def _editable_fields(model):
    return [f for f in model._meta.concrete_fields if f.editable and not f.primary_key] + [
        f for f in model._meta.many_to_many if f.editable
    ]


# --- the walk -----------------------------------------------------------------------------------


@pytest.fixture
def world(make_user, credit_frame):
    """Real rows where the services make them: a registered pickled version of a team's model."""
    dana = make_user("dana", team="Credit Risk")
    filename, content = model_zoo.sklearn_pickle(model_zoo.training_frame(credit_frame))
    version = register_credit_version(dana, filename, content, model_zoo.training_frame(credit_frame))
    return {
        "ivan": make_user("ivan", Role.IT_OPERATOR, team=None),
        "root": make_user("root", Role.ADMIN, team=None),
        "version": version,
    }


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


class Walk:
    """Tries every change, delete and add on one row as each user, noting what went unaudited."""

    def __init__(self, users, root):
        self.users, self.root = users, root
        self.clients = {}
        for user in users:
            self.clients[user] = Client(raise_request_exception=False)  # a 500 is a violation
            self.clients[user].force_login(user)
        self.violations: list[str] = []

    def post(self, user, url, data) -> int:
        status = self.clients[user].post(url, data).status_code
        if status >= 500:
            self.violations.append(f"{user.username}: POST {url} answered {status}")
        return status

    def _audited(self, user, model, pk, since: int, action: str, fields=frozenset()) -> bool:
        events = AuditEvent.objects.filter(
            pk__gt=since, object_type=model._meta.model_name, object_id=pk, actor=user, action=action
        )
        named = set().union(*(event.details.get("changed", {}) for event in events))
        return events.exists() and set(fields) <= named

    def _submit(self, user, model, pk, fields) -> int:
        """POST the change form (as the superuser's page shows it) with ``fields`` changed; note a
        stored change that no audit event by ``user`` names. Returns the answer's status."""
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
        before = snapshot(model, pk)
        data = form_data(self.clients[self.root].get(url).content.decode())
        for field in fields:
            for key, value in mutation(field, before.get(field.name)).items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
        since = _last_event_id()
        status = self.post(user, url, {**data, "_save": "Save"})
        after = snapshot(model, pk) or {}
        changed = {k for k in before if before[k] != after.get(k)}
        if changed and not self._audited(user, model, pk, since, "admin.changed", changed):
            self.violations.append(
                f"{user.username} changed {model._meta.label}.{'/'.join(sorted(changed))} (posting "
                f"{'/'.join(f.name for f in fields)}, answer {status}) with no audit event naming it"
            )
        return status

    def change(self, model, pk):
        fields = _editable_fields(model)
        for user in self.users:
            # Everything at once first: a refusal (403) there is the admin refusing this user any change.
            if self._submit(user, model, pk, fields) == 403:
                continue
            for field in fields:  # one at a time, so that one invalid value does not hide the rest
                self._submit(user, model, pk, [field])

    def delete(self, model, pk):
        name = f"{model._meta.app_label}_{model._meta.model_name}"
        for user in self.users:
            for url, data in (
                (
                    reverse(f"admin:{name}_changelist"),
                    {"action": "delete_selected", "_selected_action": [pk]},
                ),
                (reverse(f"admin:{name}_delete", args=[pk]), {}),
            ):
                if not model.objects.filter(pk=pk).exists():
                    return
                since = _last_event_id()
                status = self.post(user, url, {**data, "post": "yes"})
                if not model.objects.filter(pk=pk).exists() and not self._audited(
                    user, model, pk, since, "admin.deleted"
                ):
                    self.violations.append(
                        f"{user.username} deleted {model._meta.label} #{pk} through {url} "
                        f"(answer {status}) with no audit event"
                    )

    def add(self, model, pk):
        """POST the row's own form, with its text fields made unique, to the add view."""
        name = f"{model._meta.app_label}_{model._meta.model_name}"
        page = self.clients[self.root].get(reverse(f"admin:{name}_change", args=[pk]))
        data = form_data(page.content.decode())
        for field in _editable_fields(model):
            if isinstance(field, (models.CharField, models.TextField)) and not field.choices:
                data[field.name] = f"added{next(_counter)}"[: field.max_length or 50]
        for user in self.users:
            newest = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            since = _last_event_id()
            status = self.post(user, reverse(f"admin:{name}_add"), {**data, "_save": "Save"})
            for new in model.objects.filter(pk__gt=newest).values_list("pk", flat=True):
                if not self._audited(user, model, new, since, "admin.added"):
                    self.violations.append(
                        f"{user.username} added {model._meta.label} #{new} (answer {status}) "
                        "with no audit event"
                    )


def test_every_admin_change_form_changes_nothing_unaudited(world):
    walk = Walk([world["ivan"], world["root"]], world["root"])
    registered = sorted(admin.site._registry, key=lambda m: m._meta.label)
    assert len(registered) > 40  # every app's models, Django's users and groups included
    for model in registered:
        # A real row; for users, not one of those doing the walk.
        row = make_row(model) if model is User else row_of(model)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[row.pk])
        assert walk.clients[world["root"]].get(url).status_code == 200, url
        walk.change(model, row.pk)
        walk.add(model, row.pk)
        walk.delete(model, row.pk)
    assert not walk.violations, "\n".join(walk.violations)
    # The walk did change what the admin may change (so it could have caught a silent change):
    # IT the packaging policy, the superuser a team's members, users, environments...
    done = set(
        AuditEvent.objects.filter(action__startswith="admin.").values_list(
            "actor__username", "action", "object_type"
        )
    )
    assert {
        ("ivan", "admin.changed", "packagingpolicy"),
        ("root", "admin.changed", "team"),
        ("root", "admin.added", "team"),
        ("root", "admin.changed", "user"),
        ("root", "admin.changed", "environment"),
        ("root", "admin.deleted", "user"),
    } <= done, "\n".join(map(str, sorted(done)))


def test_an_it_edit_of_the_packaging_policy_is_audited_with_its_values(world, client):
    from apps.packaging.models import PackagingPolicy

    policy = PackagingPolicy.current()
    _post_change(
        client, world["ivan"], policy, sandbox_timeout_seconds="600", skops_trusted_types='["os.system"]'
    )
    policy.refresh_from_db()
    assert (policy.sandbox_timeout_seconds, policy.skops_trusted_types) == (600, ["os.system"])
    event = AuditEvent.objects.get(action="admin.changed", object_type="packagingpolicy")
    assert (event.actor, event.actor_name) == (world["ivan"], "ivan")
    assert event.details["changed"]["sandbox_timeout_seconds"] == {"from": 180, "to": 600}
    assert event.details["changed"]["skops_trusted_types"] == {"from": [], "to": ["os.system"]}
    assert event.details["changed"]["updated_by"] == {"from": None, "to": "ivan"}


# --- the reported cases ---------------------------------------------------------------------------


def _post_change(client, user, obj, **changes):
    """As ``user``, submit ``obj``'s admin change form as the superuser's page shows it, with
    ``changes`` applied (``None`` unticks a checkbox)."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    client.force_login(User.objects.get(username="root"))
    data = form_data(client.get(url).content.decode())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    client.force_login(user)
    return client.post(url, {**data, "_save": "Save"})


def test_a_version_whose_package_failed_cannot_be_put_in_production_in_the_admin(world, client):
    from apps.packaging.services import package_build_enqueue, package_build_fail

    version = world["version"]
    package_build_fail(build=package_build_enqueue(version=version), error="the model could not be loaded")
    for user in (world["ivan"], world["root"]):
        _post_change(client, user, version, stage="production")
        version.refresh_from_db()
        assert version.stage == "none", user
    assert not AuditEvent.objects.filter(action="version.stage_changed").exists()
    # The version's page, where the stage service refuses with its reason, is the way to do it.
    client.force_login(world["ivan"])
    answer = client.post(f"/api/v1/versions/{version.pk}/stage/", {"stage": "production"})
    assert answer.status_code == 400 and "no package yet" in answer.json()["stage"][0]


def test_a_pickle_cannot_be_marked_safe_nor_its_schema_format_or_model_changed_in_the_admin(world, client):
    version = world["version"]
    assert (version.format, version.safe_format) == ("pickle", False)
    other = make_row(type(version.model))
    before = snapshot(type(version), version.pk)
    for user in (world["ivan"], world["root"]):
        _post_change(
            client,
            user,
            version,
            safe_format="on",
            format="onnx",
            framework="onnx",
            input_schema='{"features": []}',
            model=str(other.pk),
        )
        assert snapshot(type(version), version.pk) == before, user
    # IT still reads the version in the admin.
    client.force_login(world["ivan"])
    url = reverse("admin:registry_modelversion_change", args=[version.pk])
    page = client.get(url)
    assert page.status_code == 200 and "pickle" in page.content.decode()


def test_nobody_deletes_a_version_or_a_deployment_in_the_admin(world, client):
    from apps.deployments.models import Deployment

    version = world["version"]
    for model, pk in ((type(version), version.pk), (Deployment, make_row(Deployment).pk)):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for user in (world["ivan"], world["root"]):
            client.force_login(user)
            assert client.post(reverse(f"{name}_delete", args=[pk]), {"post": "yes"}).status_code == 403
            client.post(
                reverse(f"{name}_changelist"),
                {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
            )
            assert model.objects.filter(pk=pk).exists()


def test_the_superuser_s_changes_to_users_are_audited(world, client):
    from django.contrib.auth.models import Group

    client.force_login(world["root"])
    added = client.post(
        reverse("admin:auth_user_add"),
        {"username": "newbie", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
    )
    assert added.status_code == 302
    newbie = User.objects.get(username="newbie")
    event = AuditEvent.objects.get(action="admin.added", object_type="user", object_id=newbie.pk)
    assert event.actor == world["root"] and event.details["fields"]["password"] == "(secret)"

    it = Group.objects.get(name=Role.IT_OPERATOR.value)
    _post_change(client, world["root"], newbie, groups=[str(it.pk)], is_staff="on")
    event = AuditEvent.objects.get(action="admin.changed", object_type="user", object_id=newbie.pk)
    assert event.details["changed"]["groups"] == {"from": [], "to": ["it_operator"]}
    assert event.details["changed"]["is_staff"] == {"from": False, "to": True}

    url = reverse("admin:auth_user_password_change", args=[newbie.pk])
    changed = client.post(
        url,
        {
            "password1": "another-pass-phrase-43",
            "password2": "another-pass-phrase-43",
            "usable_password": "true",
        },
    )
    assert changed.status_code == 302
    assert AuditEvent.objects.filter(action="admin.password_changed", object_id=newbie.pk).count() == 1
    assert "another-pass-phrase-43" not in str(list(AuditEvent.objects.values_list("details", flat=True)))
