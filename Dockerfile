# The portal image for compose.yaml (web, worker, archiver, proxy).
# BASE: Python 3.11 on Debian. `python:3.11-slim` where a registry answers;
# without one, Berth's own debootstrapped runtime image `berth/python:3.11`
# (`python manage.py runtime ensure 3.11` makes it), whose apt sources are
# the host's Debian archive. See README, Production.
ARG BASE=python:3.11-slim
FROM ${BASE}
# The package index pip uses (empty: pip's default) and, as a build secret,
# the CA bundle it trusts (an intercepting proxy's): compose.yaml passes both.
ARG PIP_INDEX_URL=""
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 BERTH_DATA_DIR=/data \
    PATH=/opt/berth/bin:$PATH
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       git nginx-light debootstrap ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/berth
WORKDIR /srv/berth
COPY requirements.txt .
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export PIP_CERT=/run/secrets/build_ca; fi; \
    pip install --no-cache-dir ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} -r requirements.txt
COPY . .
# Static files are collected into the data folder when the stack starts
# (compose.yaml's migrate), so an upgraded image brings its own.
RUN mkdir -p /data && chmod 0700 /data
EXPOSE 8000
CMD ["uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
