"""POST /oauth/token under a burst: the bursting client id is limited, nobody else is."""

import asyncio
import time

import httpx


def _form(client_id: str, secret: str) -> dict:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


async def _timed_post(http: httpx.AsyncClient, form: dict) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await http.post("/oauth/token", data=form)
    return response, time.monotonic() - started


async def test_a_burst_for_one_client_is_limited_while_another_client_gets_its_token(platform):
    bursting = await platform.new_organization(npis=1)
    other = await platform.new_organization(npis=1)
    await bursting.client.aclose()
    await other.client.aclose()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=platform.base_url, timeout=30.0, limits=limits) as http:
        burst = [asyncio.create_task(_timed_post(http, _form(bursting.client_id, bursting.client_secret)))
                 for _ in range(40)]
        # In the same moment as the burst: its requests are already on their way.
        await asyncio.sleep(0)
        other_answer, other_seconds = await _timed_post(http, _form(other.client_id, other.client_secret))
        answers = [response for response, _ in await asyncio.gather(*burst)]

    assert other_answer.status_code == 200, other_answer.text
    assert other_answer.json()["access_token"]
    # Promptly: the burst may delay it by a few scrypt rounds, never by the whole burst's worth.
    assert other_seconds < 2.5, f"the other client waited {other_seconds:.2f}s for its token"

    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses, "a client within its burst must get tokens"
    limited = [r for r in answers if r.status_code == 429]
    assert limited, "40 token requests at once for one client id must be limited"
    for response in limited:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 429 and body["title"] and body["detail"]
        assert int(response.headers["retry-after"]) >= 1
