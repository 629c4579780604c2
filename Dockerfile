# syntax=docker/dockerfile:1
# An exact Python release on an exact Debian release: a rebuild gets the same interpreter.
FROM python:3.12.12-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Static files are collected into the image, apart from the /app/var volume.
ENV STATIC_ROOT=/app/staticfiles
WORKDIR /app
RUN useradd --create-home --uid 1000 app
# gettext compiles the translation catalogues (the .mo files are built, never committed);
# WeasyPrint (delivery PDFs) needs Pango and a font from the system. Not pinned to a version: the
# base image fixes the Debian release, and a rebuild should take that release's security fixes.
# hadolint ignore=DL3008
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gettext \
    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
COPY requirements/base.txt requirements/base.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/base.txt
COPY . .
# collectstatic needs settings to import; these values exist only for this build step.
RUN DEBUG=0 SECRET_KEY=build-only EMAIL_HASH_KEY=build-only-too STATIC_MANIFEST=1 \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v 0 \
    && python manage.py compilemessages -v 0 --ignore=var --ignore=tests --ignore=benchmarks \
    && mkdir -p /app/var && chown -R app /app/var
# The numeric id, so the host and Kubernetes' runAsNonRoot can tell it is not root.
USER 1000:1000
EXPOSE 8000
# Exports stream for as long as they take: gthread workers with a long timeout keep a slow
# download from being cut off, while the rest of the site stays responsive. config/gunicorn.py
# logs each request's path only, with the tokens of mailed links masked.
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--timeout", "600"]
