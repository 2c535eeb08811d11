import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelines.settings")
django_application = get_wsgi_application()

from ingest.middleware import TrackingWSGIShortcut  # after get_wsgi_application(): needs the apps loaded

# POSTs to the /v1 tracking routes are answered before Django's handler (see TrackingWSGIShortcut).
application = TrackingWSGIShortcut(django_application)
