"""Eligibility service: plans, enrollment, network contracts and real-time checks."""

from datetime import timedelta

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.runtime import ServiceRuntime
from refdata.plans import load_catalogue
from services.eligibility import api
from services.eligibility.accumulators import AccumulatorCopy
from services.eligibility.checks import Checks
from services.eligibility.command_count import count_commands
from services.eligibility.members import Members
from services.eligibility.network import NetworkContracts
from services.eligibility.settings import EligibilitySettings


def build_app(settings: EligibilitySettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or EligibilitySettings()
    count_commands()  # before the runtime creates its MongoDB client
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Eligibility", [api.router])
    catalogue = load_catalogue()
    members = Members(runtime.store, catalogue)
    accumulators = AccumulatorCopy(runtime.db)
    network = NetworkContracts(runtime.db)
    checks = Checks(runtime.db, runtime.store, members, accumulators, network, catalogue,
                    timedelta(seconds=settings.check_ttl_seconds))
    app.state.catalogue = catalogue
    app.state.members = members
    app.state.network = network
    app.state.checks = checks
    runtime.on_start.append(checks.ensure_indexes)
    runtime.consumer("eligibility-accumulators", accumulators.subscriptions())
    runtime.background.append(lambda: checks.sweep_forever(settings.sweep_interval_seconds))
    return app, runtime
