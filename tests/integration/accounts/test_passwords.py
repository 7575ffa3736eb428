"""Every password that is set passes Django's full set of validators."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.demo.seed import DEMO_PASSWORD
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("bob", "1", "too short"),
        ("bob", "password123", "too common"),
        ("bob", "73019284615", "entirely numeric"),
        ("margaret", "margaret1", "too similar to the username"),
    ],
)
def test_create_user_refuses_a_weak_password_and_creates_nobody(username, password, reason):
    with pytest.raises(CommandError, match=f"password refused: .*{reason}"):
        call_command("create_user", username, "--role", "business_owner", "--password", password)
    assert not get_user_model().objects.filter(username=username).exists()


@pytest.mark.django_db(transaction=True)  # the command runs in its own process: flush whatever it wrote
def test_create_user_exits_non_zero_with_the_reason_on_stderr():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "MODELYARD_TEST_DB_NAME": connection.settings_dict["NAME"],
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "create_user", "bob", "--role", "business_owner", "--password", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "password refused: This password is too short" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # no token printed


def test_the_service_refuses_it_too_for_every_caller():
    with pytest.raises(ValidationError) as refused:
        user_create(username="bob", role=Role.IT_OPERATOR, password="12345678")
    assert any("too common" in m for m in refused.value.messages)
    assert not get_user_model().objects.filter(username="bob").exists()


def test_the_demo_password_and_a_strong_one_pass(capsys):
    for name in ("dana", "mark", "ivan", "bea", "admin"):
        user_create(username=name, role=Role.BUSINESS_OWNER, password=DEMO_PASSWORD)
    call_command(
        "create_user",
        "alice",
        "--role",
        "data_scientist",
        "--team",
        "Fraud",
        "--password",
        "quiet-harbour-71",
    )
    assert get_user_model().objects.get(username="alice").check_password("quiet-harbour-71")
