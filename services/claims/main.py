"""Claims service: intake, the claim lifecycle, and the claim status projection."""

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.runtime import ServiceRuntime
from refdata import codes
from services.claims import api
from services.claims.decisions import DecisionApplier
from services.claims.info_requests import InfoRequests
from services.claims.intake import Intake
from services.claims.members import MemberCopy
from services.claims.queries import ClaimQueries
from services.claims.repository import ClaimRepository
from services.claims.settings import ClaimsSettings
from services.claims.status_projection import ClaimStatusProjection

STATUS_PROJECTION_GROUP = "claims-status-projection"


def build_app(settings: ClaimsSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or ClaimsSettings()
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Claims", [api.router])
    repository = ClaimRepository(runtime.store)
    members = MemberCopy(runtime.db, settings)
    status = ClaimStatusProjection(runtime.db, history=repository.load_events)
    app.state.intake = Intake(repository, members, status, settings.timely_filing_days)
    app.state.queries = ClaimQueries(repository, status)
    app.state.info_requests = InfoRequests(repository, runtime.db, settings.info_request_due_days)

    async def warm_up() -> None:
        codes.preload()  # the ICD-10-CM tables take seconds to load: not on a request
        await status.ensure_indexes()

    runtime.on_start.append(warm_up)
    runtime.consumer("claims-members", members.subscriptions())
    runtime.consumer("claims-decisions", DecisionApplier(repository, settings.info_request_due_days).subscriptions())
    runtime.consumer(STATUS_PROJECTION_GROUP, status.subscriptions())
    return app, runtime
