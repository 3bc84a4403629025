"""Flask + flask-jwt-extended with the Redis blocklist of its documentation ("Blocklist and
Token Revoking": ``token_in_blocklist_loader`` doing one redis-py ``GET`` per request):
``BENCH_SECRET=... BENCH_REDIS_URL=... gunicorn benchmarks.refapps.flask_jwt_redis:app``."""

from __future__ import annotations

import os

import redis
from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, get_jwt, get_jwt_identity, jwt_required

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ["BENCH_SECRET"]
app.config["JWT_DECODE_ISSUER"] = os.environ.get("BENCH_ISSUER", "cleanexit")
app.config["JWT_DECODE_AUDIENCE"] = os.environ.get("BENCH_AUDIENCE", "cleanexit-api")
jwt = JWTManager(app)
jwt_redis_blocklist = redis.from_url(os.environ["BENCH_REDIS_URL"], decode_responses=True)


@jwt.token_in_blocklist_loader
def check_if_token_is_revoked(jwt_header: dict, jwt_payload: dict) -> bool:  # type: ignore[type-arg]
    jti = jwt_payload["jti"]
    token_in_redis = jwt_redis_blocklist.get(jti)
    return token_in_redis is not None


@app.get("/me")
@jwt_required()
def me():  # type: ignore[no-untyped-def]
    claims = get_jwt()
    return jsonify(
        sub=get_jwt_identity(), session_id=claims.get("sid"), iat=claims["iat"], exp=claims["exp"]
    )
