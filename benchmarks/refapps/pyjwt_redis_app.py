"""FastAPI + PyJWT + one redis-py GET per request (the usual deny-list): the same app as
``pyjwt_app`` plus the check the redis-py asyncio docs show, ``await r.get(key)``.

Run: ``BENCH_SECRET=... BENCH_REDIS_URL=redis://127.0.0.1:6379/0 uvicorn
benchmarks.refapps.pyjwt_redis_app:app``.
"""

from __future__ import annotations

import os
from typing import Annotated

import redis.asyncio as redis
from fastapi import Depends, FastAPI, HTTPException, status

from .pyjwt_app import Me, decode, oauth2_scheme

app = FastAPI()
r = redis.from_url(os.environ["BENCH_REDIS_URL"], decode_responses=True)


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> Me:
    payload = decode(token)
    if await r.get(f"revoked:{payload['jti']}") is not None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Token revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Me(sub=payload["sub"], session_id=payload["sid"], iat=payload["iat"], exp=payload["exp"])


@app.get("/me")
async def me(current_user: Annotated[Me, Depends(get_current_user)]) -> Me:
    return current_user
