"""The keys a test run may make up, put into the environment before the settings read them.

Production (DEBUG off, as the suite runs) refuses to start without SECRET_KEY and EMAIL_HASH_KEY;
a test run is not production, so it supplies both unless the environment gives them. They go
into the environment, not only into the settings, so the processes tests start (a Celery
worker, gunicorn, `manage.py` commands) inherit them.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("EMAIL_HASH_KEY", "test-email-hash-key-not-for-production")
