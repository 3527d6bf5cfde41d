"""JSON responses serialised by orjson, skipping FastAPI's jsonable_encoder walk.

Routes on the hot path return these; FastAPI then neither validates against the
declared response_model (kept for the OpenAPI document) nor re-encodes the body.
"""

from typing import Any

import orjson
from starlette.responses import Response


class JsonBytes(Response):
    media_type = "application/json"


def json_response(content: Any, status_code: int = 200) -> Response:
    return JsonBytes(orjson.dumps(content), status_code=status_code)
