# The AWS sandbox alone (compose.yaml's sandbox service): sandbox/ and its dependencies, nothing of the portal.
FROM python:3.11-slim AS sandbox
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY sandbox /tmp/sandbox
RUN pip install --no-cache-dir /tmp/sandbox && rm -rf /tmp/sandbox
EXPOSE 4566
HEALTHCHECK --interval=10s --timeout=5s --retries=5 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:4566/_sandbox/health', timeout=4)"]
CMD ["rtc-sandbox", "--host", "0.0.0.0", "--port", "4566"]

# The portal (the last stage: what `docker build .` builds), without the sandbox.
FROM python:3.11-slim AS portal
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
# The image's own command is web: ready when the database and the broker answer (compose.yaml sets each service's).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["python", "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "portal.wsgi:application"]
