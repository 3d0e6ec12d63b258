import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Tests create many users; the production hasher's cost is not what they test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root@agency.test", email="root@agency.test", password="correct horse battery"
    )


@pytest.fixture(autouse=True)
def _uncached_data_sources(monkeypatch):
    # Pages read the sources' freshness from a cache shared by every test; uncached, each
    # test sees its own database and query counts are asserted at the worst case.
    monkeypatch.setattr("integrations.freshness.CACHE_SECONDS", 0)
