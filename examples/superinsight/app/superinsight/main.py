"""The API process. Health endpoints are what the image's HEALTHCHECK, the supervisor start-up
order and CloudBase Run's health check rely on:

- /healthz: the process is alive (liveness; never touches dependencies).
- /readyz: PostgreSQL and Redis answer and the instance is not draining (readiness).
"""

import os
from pathlib import Path

import psycopg
import redis
from fastapi import FastAPI, Response
from prometheus_fastapi_instrumentator import Instrumentator

DRAIN_MARKER = Path(os.environ.get("SUPERINSIGHT_DRAIN_MARKER", "/run/superinsight/draining"))

app = FastAPI(title="SuperInsight", version=os.environ.get("APP_VERSION", "dev"))
Instrumentator().instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)


def _database_ok() -> bool:
    try:
        with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except (psycopg.Error, KeyError):
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2).ping())
    except (redis.RedisError, KeyError):
        return False


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.get("/readyz")
def readyz(response: Response) -> dict:
    checks = {
        "database": _database_ok(),
        "redis": _redis_ok(),
        "draining": DRAIN_MARKER.exists(),
    }
    ready = checks["database"] and checks["redis"] and not checks["draining"]
    response.status_code = 200 if ready else 503
    return {"ready": ready, "checks": checks}
