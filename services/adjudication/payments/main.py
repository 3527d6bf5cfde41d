"""Payments: the process of adjudication that pays what it decided (ADR 15).

Its parts: the payables projection of claims.events, payment runs (on a schedule and
on an operator's request) and the remittances API. Its own database; it publishes
remittance.issued and claim.payment_issued on adjudication.events.
"""

import asyncio

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.runtime import ServiceRuntime
from services.adjudication.payments import api
from services.adjudication.payments.payables import Payables
from services.adjudication.payments.remittances import Remittances
from services.adjudication.payments.runs import PaymentRuns
from services.adjudication.payments.settings import PaymentsSettings

PAYABLES_GROUP = "payments-payables"


def build_app(settings: PaymentsSettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or PaymentsSettings()
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Payments", [api.router])
    payables = Payables(runtime.db)
    remittances = Remittances(runtime.db)
    runs = PaymentRuns(runtime.db, payables, remittances, runtime.producer_factory, payer_id=settings.payer_id,
                       lease_seconds=settings.payment_run_lease_seconds)
    app.state.settings = settings
    app.state.payment_runs = runs
    app.state.remittances = remittances

    async def indexes() -> None:
        await asyncio.gather(payables.ensure_indexes(), remittances.ensure_indexes(), runs.ensure_indexes())

    async def schedule() -> None:
        try:
            await runs.run_schedule(settings.payment_run_interval_seconds)
        finally:
            await runs.close()

    runtime.on_start.append(indexes)
    runtime.background.append(schedule)
    runtime.consumer(PAYABLES_GROUP, payables.subscriptions())
    return app, runtime
