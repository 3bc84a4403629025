"""FastAPI + PyJWT, no revocation at all: FastAPI's "OAuth2 with Password (and hashing),
Bearer with JWT tokens" tutorial, reduced to its protected route.

Run: ``BENCH_SECRET=... uvicorn benchmarks.refapps.pyjwt_app:app``.
"""

from __future__ import annotations

import os
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from jwt.exceptions import InvalidTokenError
from pydantic import BaseModel

SECRET_KEY = os.environ["BENCH_SECRET"]
ALGORITHM = "HS256"
ISSUER = os.environ.get("BENCH_ISSUER", "cleanexit")
AUDIENCE = os.environ.get("BENCH_AUDIENCE", "cleanexit-api")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
app = FastAPI()


class Me(BaseModel):
    sub: str
    session_id: str
    iat: int
    exp: int


def decode(token: str) -> dict[str, object]:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload: dict[str, object] = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
    except InvalidTokenError:
        raise credentials_exception from None
    return payload


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> Me:
    payload = decode(token)
    return Me(sub=payload["sub"], session_id=payload["sid"], iat=payload["iat"], exp=payload["exp"])


@app.get("/me")
async def me(current_user: Annotated[Me, Depends(get_current_user)]) -> Me:
    return current_user
