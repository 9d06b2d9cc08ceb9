# The portal image for compose.yaml (web and worker). Needs a registry for
# the base image; on a machine without one, use `make run` instead.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 BERTH_DATA_DIR=/data
RUN apt-get update && apt-get install -y --no-install-recommends git nginx-light debootstrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/berth
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Throwaway keys: without them settings would generate real ones into the image.
RUN pip install --no-cache-dir --no-deps -e . \
    && SECRET_KEY=collectstatic BERTH_ENCRYPTION_KEYS=collectstatic \
       python manage.py collectstatic --noinput -v0 \
    && chmod -R go-rwx /data
EXPOSE 8000
CMD ["uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
