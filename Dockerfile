# One image for every process of the platform. The process is chosen by the
# command, never by a separate image:
#   python -m services.identity | eligibility | claims | authorizations | notifications
#   python -m services.adjudication          (faust-streaming worker)
# deploy/k8s sets that command per Deployment. No HEALTHCHECK: Kubernetes probes
# /healthz and /readyz itself.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, in their own layer, which changes only when a pin does.
# pyproject.toml pins every direct dependency; requirements.lock (the lock the
# Makefile and CI install) pins the transitive ones too and is used here as a
# constraints file, so the image gets exactly the tested versions but none of the
# test-only packages the lock also lists. The package folders are empty at this
# point: `pip install .` brings in the dependencies and an empty project, which
# is removed again before the real sources arrive.
COPY pyproject.toml requirements.lock ./
RUN mkdir contracts infra services refdata \
    && pip install --constraint requirements.lock . \
    && pip uninstall --yes provider-platform \
    && rm -rf build ./*.egg-info

COPY contracts ./contracts
COPY infra ./infra
COPY services ./services
COPY refdata ./refdata
# Installed as a regular (non-editable) package: the runtime image needs no source
# tree, and pip byte-compiles everything so a read-only root filesystem is fine.
RUN pip install --no-deps . \
    && pip check \
    && python -c "import contracts, infra, refdata, services"

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="provider-platform" \
      org.opencontainers.image.description="Provider platform services; run one with python -m services.<name>"

# A fixed numeric uid/gid so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    FAUST_DATADIR=/var/lib/faust

# Writable places for a read-only root filesystem; Kubernetes mounts emptyDirs here.
RUN mkdir -p /var/lib/faust /app \
    && chown app:app /var/lib/faust
WORKDIR /app

USER 10001:10001
EXPOSE 8000

# Deliberately no default service: a container started without a command says so.
CMD ["python", "-c", "raise SystemExit('choose a process: python -m services.<identity|eligibility|claims|authorizations|notifications|adjudication>')"]
