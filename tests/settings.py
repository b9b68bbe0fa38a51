"""Test settings: PostgreSQL at TEST_DATABASE_URL when it answers (always in CI), SQLite otherwise."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="rtc-portal-tests-"))
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from tests.backing_services import TEST_DATABASE_URL, in_ci, reachable

if reachable(TEST_DATABASE_URL):
    os.environ["DATABASE_URL"] = TEST_DATABASE_URL
elif in_ci():
    raise RuntimeError(f"CI=true but PostgreSQL at {TEST_DATABASE_URL} does not answer.")
else:
    os.environ.pop("DATABASE_URL", None)
    print(f"PostgreSQL at {TEST_DATABASE_URL} does not answer: the suite runs on SQLite.")

from portal.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
OPERATION_BACKOFF_BASE_SECONDS = 0.01
OPERATION_BACKOFF_MAX_SECONDS = 0.05
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Threads the tests start (Celery worker, live server) must not keep connections open past their task.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Queries that must hold on both engines the portal supports (PostgreSQL, and SQLite under `make run`) also run on
# this one: tests ask for it with @pytest.mark.django_db(databases=["default", "sqlite"]).
DATABASES["sqlite"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}  # noqa: F405
