"""Eligibility service: plans, enrollment, network contracts and real-time checks."""

from datetime import timedelta

from fastapi import FastAPI

from infra.http.app import create_service_app
from infra.runtime import ServiceRuntime
from refdata.plans import load_catalogue
from services.eligibility import api
from services.eligibility.accumulator_cache import AccumulatorCache
from services.eligibility.accumulators import AccumulatorCopy
from services.eligibility.audit_store import AuditStore
from services.eligibility.checks import Checks
from services.eligibility.domain import apply_family_accumulator_event
from services.eligibility.feed import LiveFeed
from services.eligibility.member_cache import MemberCache
from services.eligibility.members import Members
from services.eligibility.network import NetworkContracts
from services.eligibility.settings import EligibilitySettings


def build_app(settings: EligibilitySettings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or EligibilitySettings()
    runtime = ServiceRuntime(settings)
    app = create_service_app(runtime, "Eligibility", [api.router])
    catalogue = load_catalogue()
    # The in-memory copies answer only while the live feed is caught up (feed.py).
    trusts = (lambda loaded_at: feed.trusts(loaded_at)) if settings.read_copies else (lambda loaded_at: False)
    member_cache = MemberCache(trusts, max_age=settings.read_copy_max_age_seconds)
    accumulator_cache = AccumulatorCache(trusts, max_age=settings.read_copy_max_age_seconds)
    family_cache = AccumulatorCache(trusts, max_age=settings.read_copy_max_age_seconds,
                                    apply=apply_family_accumulator_event, copy="family_accumulators")
    audit_store = AuditStore(runtime.db, settings.service_name, linger=settings.insert_linger_seconds)
    members = Members(runtime.store, catalogue, member_cache, audit_store=audit_store)
    accumulators = AccumulatorCopy(runtime.db, accumulator_cache, family_cache)
    network = NetworkContracts(runtime.store, runtime.db)
    feed = LiveFeed(settings, {**members.feed_handlers(), **accumulators.feed_handlers(), **network.feed_handlers()},
                    stale_after=settings.feed_stale_after_seconds)
    checks = Checks(runtime.db, audit_store, members, accumulators, network, catalogue,
                    timedelta(seconds=settings.check_ttl_seconds), insert_linger=settings.insert_linger_seconds)
    app.state.catalogue = catalogue
    app.state.members = members
    app.state.network = network
    app.state.checks = checks
    app.state.feed = feed
    runtime.consumer("eligibility-accumulators", accumulators.subscriptions())
    runtime.on_start.append(network.adopt_unversioned)
    if settings.read_copies:
        runtime.background.append(feed.run)
    runtime.background.append(lambda: checks.sweep_forever(settings.sweep_interval_seconds))
    return app, runtime
