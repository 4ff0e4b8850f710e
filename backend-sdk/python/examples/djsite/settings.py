"""A minimal Django project, unchanged for nanogate:

    cd backend-sdk/python/examples
    nanogate-wsgi djsite.wsgi:application --bind ipc:///tmp/django.sock
"""

SECRET_KEY = "nanogate-example-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "djsite.urls"
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
USE_TZ = True
DATABASES = {}
