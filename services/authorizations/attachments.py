"""Authorization attachments over HTTP: the shared storage and streaming of infra/attachments/,
wired as claims wires them (services/claims/attachments.py), under the authorization's path
(/v1/attachments belongs to claims at the gateway)."""

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
from services.authorizations.access import SOURCE, visible
from services.authorizations.repository import AuthorizationRepository
from services.authorizations.workflow import OWNER_KIND

router = APIRouter(tags=["authorization attachments"])
UPLOAD_OVERHEAD_BYTES = 1024 * 1024


class AuthorizationAttachments:
    def __init__(self, repository: AuthorizationRepository, store: AttachmentStore, audit: EventStore) -> None:
        self.repository = repository
        self.store = store
        self.uploads = AttachmentUploads(store)
        self.audit = audit


async def get_attachments(request: Request) -> AuthorizationAttachments:
    return request.app.state.attachments


AttachmentsDep = Annotated[AuthorizationAttachments, Depends(get_attachments)]
Anyone = Annotated[Principal, require_role("provider", "operator", "reviewer")]


class AttachmentReceipt(BaseModel):
    attachment_id: str
    authorization_id: str
    sha256: str
    size: int
    content_type: str
    document_type: str
    filename: str | None = None
    uploaded_at: str
    uploaded_by: dict[str, str]


class AttachmentList(BaseModel):
    items: list[AttachmentReceipt]


_404 = "No such authorization (or not your organisation's: the same answer)."
_UPLOAD_DOC = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "document_type"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": f"At most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB; PDF, TIFF, JPEG, PNG, "
                     "plain text or XML, read from the bytes."},
            "document_type": {"type": "string", "description": "X12 PWK report type code: 03, 09, OB, RR, LA, 77, ..."},
        },
    }}}},
}


@router.post(
    "/v1/authorizations/{authorization_id}/attachments", status_code=status.HTTP_201_CREATED,
    response_model=AttachmentReceipt, openapi_extra=_UPLOAD_DOC,
    responses=problem_responses({
        400: "The multipart body is malformed (bad_multipart).", 401: "No valid bearer token.",
        403: "The caller's role may not use this endpoint.", 404: _404,
        409: "The Idempotency-Key was used with other bytes or another document_type (idempotency_conflict).",
        413: f"The file is larger than {MAX_ATTACHMENT_BYTES} bytes.",
        415: f"The content is not one of {', '.join(ALLOWED_TYPES)}, or the body is not multipart/form-data.",
        422: "No file, an empty file, or a missing or unknown document_type.",
    }),
)
async def upload_attachment(authorization_id: str, request: Request, response: Response, principal: Anyone,
                            attachments: AttachmentsDep, idempotency_key: IdempotencyKey = None) -> dict:
    """Medical records, clinical notes as documents: multipart `file` and `document_type`, streamed to storage."""
    authorization = await visible(attachments.repository, attachments.audit, authorization_id, principal,
                                  "authorization.attachment.upload")
    owner = Owner(OWNER_KIND, authorization.authorization_id, authorization.organization_id)
    uploaded = await attachments.uploads.upload(owner, request.stream(), request.headers.get("content-type"),
                                                principal, idempotency_key)
    await record_access(
        attachments.audit, principal, source=SOURCE, action="authorization.attachment.upload",
        resource=f"authorizations/{authorization_id}/attachments/{uploaded.attachment.attachment_id}",
        member_id=authorization.member_id, outcome="replayed" if uploaded.replayed else "stored",
        organization_id=authorization.organization_id,
    )
    if uploaded.replayed:
        mark_replayed(response)
    response.headers["Location"] = (f"/v1/authorizations/{authorization_id}/attachments/"
                                    f"{uploaded.attachment.attachment_id}/content")
    return uploaded.attachment.public()


@router.get("/v1/authorizations/{authorization_id}/attachments", response_model=AttachmentList,
            responses=problem_responses({401: "No valid bearer token.", 404: _404}))
async def list_attachments(authorization_id: str, principal: Anyone, attachments: AttachmentsDep) -> dict:
    authorization = await visible(attachments.repository, attachments.audit, authorization_id, principal,
                                  "authorization.attachments.list")
    items = await attachments.store.of_owner(OWNER_KIND, authorization.authorization_id)
    await record_access(
        attachments.audit, principal, source=SOURCE, action="authorization.attachments.list",
        resource=f"authorizations/{authorization_id}/attachments", member_id=authorization.member_id,
        outcome=f"{len(items)} attachments", organization_id=authorization.organization_id,
    )
    return {"items": [a.public() for a in items]}


@router.get(
    "/v1/authorizations/{authorization_id}/attachments/{attachment_id}/content",
    responses={200: {"description": "The bytes, as uploaded.", "content": {t: {} for t in ALLOWED_TYPES}},
               **problem_responses({401: "No valid bearer token.", 404: "No such attachment (or not yours)."})},
)
async def download_attachment(authorization_id: str, attachment_id: str, principal: Anyone,
                              attachments: AttachmentsDep) -> StreamingResponse:
    authorization = await visible(attachments.repository, attachments.audit, authorization_id, principal,
                                  "authorization.attachment.download")
    attachment = await attachments.store.get(attachment_id) if len(attachment_id) <= 64 else None
    if attachment is None or attachment.owner_kind != OWNER_KIND or attachment.owner_id != authorization_id:
        raise Problem(404, "No such attachment.", code="not_found")
    await record_access(
        attachments.audit, principal, source=SOURCE, action="authorization.attachment.download",
        resource=f"authorizations/{authorization_id}/attachments/{attachment_id}", member_id=authorization.member_id,
        outcome=f"{attachment.size} bytes", organization_id=authorization.organization_id,
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


def body_limit(method: str, path: str) -> int | None:
    if method == "POST" and path.startswith("/v1/authorizations/") and path.endswith("/attachments"):
        return MAX_ATTACHMENT_BYTES + UPLOAD_OVERHEAD_BYTES
    return None
