"""Claims service: intake, the claim lifecycle, interactions, and the claim status projection."""

from fastapi import FastAPI

from infra.attachments.store import AttachmentStore
from infra.http.app import create_service_app
from infra.messages import MessageStore
from infra.runtime import ServiceRuntime
from refdata import codes
from services.claims import api, attachments, batches, denial_analytics, messages
from services.claims.decisions import DecisionApplier
from services.claims.expiry import GROUP as EXPIRY_GROUP
from services.claims.expiry import InfoRequestExpiry
from services.claims.info_requests import MESSAGES, InfoRequests
from services.claims.intake import Intake
from services.claims.members import MemberCopy
from services.claims.queries import ClaimQueries
from services.claims.repository import ClaimRepository
from services.claims.settings import ClaimsSettings
from services.claims.status_projection import ClaimStatusProjection

STATUS_PROJECTION_GROUP = "claims-status-projection"


def _body_limits(method: str, path: str) -> int | None:
    return attachments.body_limit(method, path) or batches.body_limit(method, path)


def build_app(settings: ClaimsSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or ClaimsSettings()
    runtime = ServiceRuntime(settings)
    # Batches first: /v1/claims/batches/{id} is not a claim's sub-resource.
    app = create_service_app(runtime, "Claims", [batches.router, api.router, attachments.router, messages.router,
                                                         denial_analytics.router],
                             body_limits=_body_limits)
    repository = ClaimRepository(runtime.store)
    members = MemberCopy(runtime.db, settings)
    status = ClaimStatusProjection(runtime.db, history=repository.load_events)
    attachment_store = AttachmentStore(runtime.db)
    message_store = MessageStore(runtime.db, MESSAGES)
    assert runtime.store is not None
    app.state.intake = Intake(repository, members, status, settings.timely_filing_days)
    app.state.queries = ClaimQueries(repository, status)
    app.state.info_requests = InfoRequests(repository, message_store, attachment_store,
                                           settings.info_request_due_days, settings.min_due_seconds)
    app.state.attachments = attachments.ClaimAttachments(repository, attachment_store, runtime.store)
    app.state.messages = messages.ClaimMessages(repository, message_store, attachment_store, runtime.store)
    app.state.batches = batches.ClaimBatches(app.state.intake, runtime.db)
    app.state.denial_analytics = analytics = denial_analytics.DenialAnalytics(runtime.db)
    expiry = InfoRequestExpiry(runtime.db, repository, interval_seconds=settings.info_request_sweep_interval_seconds)

    async def warm_up() -> None:
        codes.preload()  # the ICD-10-CM tables take seconds to load: not on a request
        await status.ensure_indexes()
        await attachment_store.ensure_indexes()

    runtime.on_start.append(warm_up)
    runtime.consumer("claims-members", members.subscriptions())
    runtime.consumer("claims-decisions", DecisionApplier(
        repository, settings.info_request_due_days, settings.info_request_due_seconds).subscriptions())
    runtime.consumer(STATUS_PROJECTION_GROUP, status.subscriptions())
    runtime.consumer(denial_analytics.GROUP, analytics.subscriptions())
    runtime.consumer(EXPIRY_GROUP, expiry.subscriptions())
    runtime.background.append(expiry.sweep_forever)
    return app, runtime
