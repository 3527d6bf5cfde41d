"""Emails to an organisation's contacts: recorded before they are sent, sent with aiosmtplib.

    emails: {_id, organization_id, kind, subject, body, reference, status: pending|sent|given_up,
             attempts, created_at, sent_at?}

The email id is a UUIDv5 of what caused it (an event id, an endpoint's disabling), so
a replayed event finds its email already recorded (sent or not) and adds none. A
queue entry (due_queue.py) is what the sender works from; the contacts are read when
sending, from the directory's copy of organizations.events, so an email for an
organisation whose registration has not been read yet simply waits for it.
At least once: a crash after the SMTP server took the message and before it was
marked sent sends it again, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from services.notifications import metrics
from services.notifications.directory import Directory
from services.notifications.domain.emails import EmailContent
from services.notifications.due_queue import DueQueue, insert_new
from services.notifications.settings import NotificationsSettings

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("5d3b1c9e-37a4-4c52-8c0e-1f7a2b6e9d40")
MAX_ATTEMPTS = 10


def email_id_for(cause: str) -> str:
    return str(uuid.uuid5(NAMESPACE, cause))


class Mailer:
    def __init__(self, db, queue: DueQueue, directory: Directory, settings: NotificationsSettings) -> None:
        self.emails = db["emails"]
        self.queue = queue
        self.directory = directory
        self.settings = settings
        self._wake = asyncio.Event()

    async def record(self, cause: str, organization_id: str, kind: str, content: EmailContent) -> None:
        now = datetime.now(UTC)
        email_id = email_id_for(cause)
        await insert_new(self.emails, [{
            "_id": email_id, "organization_id": organization_id, "kind": kind, "subject": content.subject,
            "body": content.body, "reference": content.reference, "status": "pending", "attempts": 0, "created_at": now,
        }])  # fmt: skip
        await self.queue.enqueue([DueQueue.entry(email_id, now, organization_id=organization_id, created_at=now)])
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive an outage
                log.warning("email queue round failed", extra={"error_type": type(exc).__name__})
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.webhook_sweep_interval_seconds)
            except TimeoutError:
                pass

    async def send_due(self) -> None:
        now = datetime.now(UTC)
        for entry in await self.queue.scan():
            if self.queue.claimable(entry, now):
                await self._send_one(entry["_id"])

    async def _send_one(self, email_id: str) -> None:
        if await self.queue.claim(email_id) is None:
            return
        email = await self.emails.find_one({"_id": email_id})
        if email is None or email["status"] != "pending":
            await self.queue.done(email_id)
            return
        org = await self.directory.organization(email["organization_id"]) or {}
        contacts = [c for c in org.get("contact_emails") or [] if isinstance(c, str) and "@" in c]
        error = None
        if not contacts:
            error = "no_contacts"  # the organisation's registration may not have been read yet
        else:
            try:
                await aiosmtplib.send(
                    self._message(email, contacts), hostname=self.settings.smtp_host, port=self.settings.smtp_port,
                    username=self.settings.smtp_username, password=self.settings.smtp_password,
                    use_tls=self.settings.smtp_use_tls, start_tls=self.settings.smtp_start_tls or None,
                    timeout=self.settings.smtp_timeout_seconds,
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = type(exc).__name__
        if error is None:
            await self.emails.update_one({"_id": email_id}, {"$set": {"status": "sent", "sent_at": datetime.now(UTC)},
                                                             "$inc": {"attempts": 1}})
            await self.queue.done(email_id)
            metrics.EMAILS.labels("sent").inc()
            return
        attempts = email.get("attempts", 0) + 1
        if attempts >= MAX_ATTEMPTS:
            await self.emails.update_one({"_id": email_id}, {"$set": {"status": "given_up", "error": error},
                                                             "$inc": {"attempts": 1}})
            await self.queue.done(email_id)
            metrics.EMAILS.labels("given_up").inc()
            log.error("email given up", extra={"organization_id": email["organization_id"], "error_type": error})
            return
        await self.emails.update_one({"_id": email_id}, {"$set": {"error": error}, "$inc": {"attempts": 1}})
        delay = self.settings.email_retry_seconds * 2 ** (attempts - 1)
        await self.queue.reschedule(email_id, datetime.now(UTC) + timedelta(seconds=delay))
        metrics.EMAILS.labels("retry").inc()

    def _message(self, email: dict[str, Any], contacts: list[str]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = ", ".join(contacts)
        message["Subject"] = email["subject"]
        message["Date"] = format_datetime(email["created_at"])
        message["Message-ID"] = f"<{email['_id']}@provider-platform.example>"
        message.set_content(email["body"])
        return message
