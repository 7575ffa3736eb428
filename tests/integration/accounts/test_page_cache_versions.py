"""Table versions behind the page cache (apps.accounts.page_cache): every kind of write gives its
table a new version (a save, ``update()``, ``bulk_create``, raw SQL through Django's cursor), a read
never does, and a commit gives the tables it wrote a new version once more, so a page built from
the old rows while the transaction was open is never served again."""

import pytest
from django.db import connection, transaction

from apps.accounts import page_cache
from apps.accounts.models import Team

TABLE = Team._meta.db_table


def version() -> str:
    return page_cache.versions([TABLE])


@pytest.mark.django_db
def test_every_kind_of_write_gives_its_table_a_new_version_and_a_read_does_not():
    seen = [version()]
    assert version() == seen[-1]
    team = Team.objects.create(name="Pricing", slug="pricing")
    seen.append(version())
    Team.objects.filter(pk=team.pk).update(name="Pricing and Risk")
    seen.append(version())
    Team.objects.bulk_create([Team(name="Fraud", slug="fraud")])
    seen.append(version())
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{TABLE}" WHERE slug = %s', ["fraud"])
    seen.append(version())
    assert len(set(seen)) == 5, seen
    assert list(Team.objects.all()) and version() == seen[-1]


@pytest.mark.django_db(transaction=True)
def test_a_commit_gives_the_written_tables_a_new_version_again():
    with transaction.atomic():
        Team.objects.create(name="Pricing", slug="pricing")
        during = version()  # what a page built now, from the old rows, would be keyed on
    assert version() != during
    rolled_back = version()
    with pytest.raises(RuntimeError), transaction.atomic():
        Team.objects.create(name="Fraud", slug="fraud")
        raise RuntimeError("rolled back")
    assert version() != rolled_back  # the statement's own bump: harmless, a page built once more
