"""Claim attachments over HTTP: upload (streamed into GridFS), list, download (audited).

The storage, streaming and type policy are shared (infra/attachments/); this module
is the claim's wiring: who may see which claim, the audit records, the routes.

The upload route reads the raw ASGI stream itself (no FastAPI form parameters), so the
body is never spooled whole: see infra/attachments/upload.py.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from infra.attachments.policy import ALLOWED_TYPES, MAX_ATTACHMENT_BYTES
from infra.attachments.store import AttachmentStore, Owner
from infra.attachments.uploads import AttachmentUploads
from infra.audit import record_access
from infra.eventstore import EventStore
from infra.http.auth import Principal, require_role
from infra.http.problems import Problem, problem_responses
from infra.idempotency import IdempotencyKey, mark_replayed
from services.claims.access import visible_claim
from services.claims.repository import ClaimRepository

router = APIRouter(tags=["claim attachments"])
SOURCE = "/services/claims"
OWNER_KIND = "claim"
UPLOAD_OVERHEAD_BYTES = 1024 * 1024
"""Room for the multipart envelope around the file, and for one receive chunk: the route's own
limit on the file (413 with `errors`) must trip before the middleware's backstop."""


class ClaimAttachments:
    def __init__(self, repository: ClaimRepository, store: AttachmentStore, audit: EventStore) -> None:
        self.repository = repository
        self.store = store
        self.uploads = AttachmentUploads(store)
        self.audit = audit


async def get_attachments(request: Request) -> ClaimAttachments:
    return request.app.state.attachments


AttachmentsDep = Annotated[ClaimAttachments, Depends(get_attachments)]
Anyone = Annotated[Principal, require_role("provider", "operator", "reviewer")]


class AttachmentReceipt(BaseModel):
    attachment_id: str
    claim_id: str
    sha256: str
    size: int
    content_type: str
    document_type: str
    filename: str | None = None
    uploaded_at: str
    uploaded_by: dict[str, str]


class AttachmentList(BaseModel):
    items: list[AttachmentReceipt]


_404 = "No such claim (or not your organisation's: the same answer)."
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "document_type"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": f"At most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB; PDF, TIFF, JPEG, PNG, "
                         "plain text or XML, read from the bytes."},
                "document_type": {"type": "string", "description": "X12 PWK report type code: 03, 09, OB, RR, LA, 77, ..."},
            },
        }}},
    },
}


@router.post(
    "/v1/claims/{claim_id}/attachments", status_code=status.HTTP_201_CREATED, response_model=AttachmentReceipt,
    openapi_extra=_UPLOAD_DOC,
    responses=problem_responses({
        400: "The multipart body is malformed (bad_multipart).",
        401: "No valid bearer token.", 403: "The caller's role may not use this endpoint.", 404: _404,
        409: "The Idempotency-Key was used with other bytes or another document_type (idempotency_conflict).",
        413: f"The file is larger than {MAX_ATTACHMENT_BYTES} bytes (reading stopped at the limit).",
        415: f"The content is not one of {', '.join(ALLOWED_TYPES)} (sniffed from the bytes), or the body is "
             "not multipart/form-data.",
        422: "No file, an empty file, or a missing or unknown document_type.",
    }),
)
async def upload_attachment(
    claim_id: str, request: Request, response: Response, principal: Anyone, attachments: AttachmentsDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """Upload a document for the claim (multipart `file` and `document_type`), streamed to storage."""
    claim = await visible_claim(attachments.repository, claim_id, principal)
    assert claim.received is not None
    owner = Owner(OWNER_KIND, claim.claim_id, claim.received.organization_id)
    uploaded = await attachments.uploads.upload(
        owner, request.stream(), request.headers.get("content-type"), principal, idempotency_key)
    await record_access(
        attachments.audit, principal, source=SOURCE, action="claim.attachment.upload",
        resource=f"claims/{claim_id}/attachments/{uploaded.attachment.attachment_id}",
        member_id=claim.received.member_id, outcome="replayed" if uploaded.replayed else "stored",
        organization_id=claim.received.organization_id,
    )
    if uploaded.replayed:
        mark_replayed(response)
    response.headers["Location"] = f"/v1/attachments/{uploaded.attachment.attachment_id}/content"
    return uploaded.attachment.public()


@router.get(
    "/v1/claims/{claim_id}/attachments", response_model=AttachmentList,
    responses=problem_responses({401: "No valid bearer token.", 404: _404}),
)
async def list_attachments(claim_id: str, principal: Anyone, attachments: AttachmentsDep) -> dict:
    claim = await visible_claim(attachments.repository, claim_id, principal)
    assert claim.received is not None
    items = await attachments.store.of_owner(OWNER_KIND, claim.claim_id)
    await record_access(
        attachments.audit, principal, source=SOURCE, action="claim.attachments.list",
        resource=f"claims/{claim_id}/attachments", member_id=claim.received.member_id,
        outcome=f"{len(items)} attachments", organization_id=claim.received.organization_id,
    )
    return {"items": [a.public() for a in items]}


@router.get(
    "/v1/attachments/{attachment_id}", response_model=AttachmentReceipt,
    responses=problem_responses({401: "No valid bearer token.", 404: "No such attachment (or not yours)."}),
)
async def get_attachment(attachment_id: str, principal: Anyone, attachments: AttachmentsDep) -> dict:
    attachment, member_id = await _visible_attachment(attachments, attachment_id, principal)
    await record_access(
        attachments.audit, principal, source=SOURCE, action="claim.attachment.read",
        resource=f"claims/{attachment.owner_id}/attachments/{attachment_id}", member_id=member_id,
        outcome="metadata", organization_id=attachment.organization_id,
    )
    return attachment.public()


@router.get(
    "/v1/attachments/{attachment_id}/content",
    responses={200: {"description": "The bytes, as uploaded.", "content": {t: {} for t in ALLOWED_TYPES}},
               **problem_responses({401: "No valid bearer token.", 404: "No such attachment (or not yours)."})},
)
async def download_attachment(attachment_id: str, principal: Anyone, attachments: AttachmentsDep) -> StreamingResponse:
    """The attachment's bytes, streamed from storage chunk by chunk; every download is audited."""
    attachment, member_id = await _visible_attachment(attachments, attachment_id, principal)
    # Recorded before the first byte leaves: a download is an access even if it breaks off.
    await record_access(
        attachments.audit, principal, source=SOURCE, action="claim.attachment.download",
        resource=f"claims/{attachment.owner_id}/attachments/{attachment_id}", member_id=member_id,
        outcome=f"{attachment.size} bytes", organization_id=attachment.organization_id,
    )
    return StreamingResponse(
        attachments.store.content(attachment), media_type=attachment.content_type,
        headers={
            "Content-Length": str(attachment.size),
            "Content-Disposition": f'attachment; filename="{attachment.attachment_id}"',
            "X-Content-Type-Options": "nosniff",
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(attachment.sha256)).decode()}:",
            "Cache-Control": "no-store",
        },
    )


async def _visible_attachment(attachments: ClaimAttachments, attachment_id: str, principal: Principal):
    attachment = await attachments.store.get(attachment_id)
    if attachment is None or attachment.owner_kind != OWNER_KIND or not principal.can_see(attachment.organization_id):
        raise Problem(404, "No such attachment.", code="not_found")
    claim = await attachments.repository.load(attachment.owner_id)
    member_id = claim.received.member_id if claim and claim.received else None
    return attachment, member_id


def body_limit(method: str, path: str) -> int | None:
    """The request body limit of the upload route (the service's default elsewhere)."""
    if method == "POST" and path.startswith("/v1/claims/") and path.endswith("/attachments"):
        return MAX_ATTACHMENT_BYTES + UPLOAD_OVERHEAD_BYTES
    return None
