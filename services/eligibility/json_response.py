"""A response whose body is JSON bytes made beforehand (by orjson, or as stored).

Routes on the hot path return these; FastAPI then neither validates against the
declared response_model (kept for the OpenAPI document) nor re-encodes the body
through jsonable_encoder.
"""

from starlette.responses import Response


class JsonBytes(Response):
    media_type = "application/json"
