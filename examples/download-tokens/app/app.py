"""The web backend of examples/download-tokens: it issues download tokens and sessions over HTTP.

Without REDIS_URL it keeps them in the memory of its worker process, which is the failure the
SessionStore ends: with two replicas (or two workers) a token issued by one is unknown to the
other. With REDIS_URL (wired by the operator) they live in Redis, under SESSION_KEY_PREFIX,
through a pool of REDIS_MAX_CONNECTIONS connections per worker.

A plain ASGI application served by uvicorn, from Debian's packages only (python3-uvicorn,
python3-redis). Environment:
  WORKERS                uvicorn worker processes (default 1)
  PORT                   listening port on 0.0.0.0 (default 8000)
  REDIS_URL              redis:// or rediss:// URL; unset: memory mode
  SESSION_KEY_PREFIX     prefix of every Redis key (default "")
  REDIS_MAX_CONNECTIONS  connections in each worker's pool (default 10)
  REDIS_CA_FILE          the CA (PEM file) a rediss:// store's certificate is verified against;
                         unset: the system's CAs (the operator sets it for a managed TLS store)
  POD_NAME               the name put in every answer (default: the host name)
  ACCESS_LOG             "0" turns the one line per request off
"""

import asyncio
import errno
import json
import os
import re
import secrets
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TOKEN_TTL_SECONDS = 600
SESSION_TTL_SECONDS = 3600
MAX_BODY_BYTES = 64 * 1024
POD = os.environ.get("POD_NAME") or socket.gethostname()
ACCESS_LOG = os.environ.get("ACCESS_LOG", "1") != "0"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


def log(message):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # One write per line, so that the lines of several workers do not interleave.
    sys.stderr.write(f"{stamp} {POD} worker={os.getpid()} {message}\n")
    sys.stderr.flush()


def int_env(name, default):
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        log(f"ignoring {name}={text!r}: not a positive integer; using {default}")
        return default
    return value


class StoreUnavailable(Exception):
    """The store did not answer; the request gets 503."""


class MemoryStore:
    """Entries with an expiry, in this worker process's memory."""

    kind = "memory"

    def __init__(self):
        self._entries = {}
        self._next_sweep = time.monotonic() + 60

    async def start(self):
        workers = int_env("WORKERS", 1)
        note = f" (WORKERS={workers}: each worker has its own)" if workers > 1 else ""
        log(f"store: memory of this process{note}; set REDIS_URL to share it between pods")

    async def stop(self):
        pass

    async def put(self, key, value, ttl):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._next_sweep = now + 60
        self._entries[key] = (now + ttl, value)

    async def get(self, key):
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    async def ready(self):
        return None


def describe_redis_error(error):
    """The error's own text, led by "connection refused" when that is what happened."""
    text = str(error) or type(error).__name__
    cause = error
    refused = False
    while cause is not None and not refused:
        refused = isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED
        cause = cause.__cause__ or cause.__context__
    if refused or "connection refused" in text.lower():
        return f"connection refused: {text}"
    return text


class RedisStore:
    """Keys under SESSION_KEY_PREFIX in Redis, through a bounded pool of connections.

    redis-py's blocking client runs in a thread pool as large as the connection pool, so a
    request waits for a free connection instead of opening more than REDIS_MAX_CONNECTIONS.
    """

    kind = "redis"

    def __init__(self, url, prefix, pool_size, ca_file=""):
        import redis

        self._redis = redis
        self.prefix = prefix
        self.pool_size = pool_size
        tls = {}
        if ca_file and url.startswith("rediss://"):
            # Verified against this CA, and the host name too (redis-py 4, Debian's, does not
            # check it unless asked).
            tls = {"ssl_ca_certs": ca_file, "ssl_check_hostname": True}
        self._pool = redis.BlockingConnectionPool.from_url(
            url,
            **tls,
            max_connections=pool_size,
            timeout=5,
            socket_connect_timeout=3,
            socket_timeout=5,
            socket_keepalive=True,
            health_check_interval=15,
        )
        self._client = redis.Redis(connection_pool=self._pool)
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="redis")
        kwargs = self._pool.connection_kwargs
        self.endpoint = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self._connect_task = None

    async def _call(self, function, *args, quiet=False, **kwargs):
        """Runs a redis-py call in the pool's threads; a failure is logged (one line) and raised."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))
        except self._redis.RedisError as error:
            problem = describe_redis_error(error)
            if not quiet:
                log(f"redis {self.endpoint}: {problem}")
            raise StoreUnavailable(problem) from error

    async def _connect(self):
        delay = 0.5
        while True:
            try:
                await self._call(self._client.ping, quiet=True)
            except StoreUnavailable as error:
                log(f"redis {self.endpoint}: {error} (next try in {delay:g} s)")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            log(f"store: redis at {self.endpoint}, key prefix {self.prefix!r}, pool of {self.pool_size} connections")
            return

    async def start(self):
        # The first PING in the background: the app serves /healthz (and answers 503 on /readyz)
        # while Redis is unreachable, logging every failed attempt, less often as they go on.
        self._connect_task = asyncio.get_running_loop().create_task(self._connect())

    async def stop(self):
        if self._connect_task is not None:
            self._connect_task.cancel()
        self._executor.shutdown(wait=False)
        self._pool.disconnect()

    async def put(self, key, value, ttl):
        await self._call(self._client.set, self.prefix + key, value, ex=ttl)

    async def get(self, key):
        value = await self._call(self._client.get, self.prefix + key)
        return None if value is None else value.decode()

    async def ready(self):
        try:
            await self._call(self._client.ping)
        except StoreUnavailable as error:
            return str(error)
        return None


def make_store():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return MemoryStore()
    return RedisStore(
        url,
        os.environ.get("SESSION_KEY_PREFIX", ""),
        int_env("REDIS_MAX_CONNECTIONS", 10),
        os.environ.get("REDIS_CA_FILE", ""),
    )


store = None


async def send_json(send, status, body, headers=()):
    payload = json.dumps({**body, "pod": POD}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return body


async def create_token(receive):
    token = secrets.token_urlsafe(24)
    await store.put("token:" + token, json.dumps({"issued": int(time.time())}), TOKEN_TTL_SECONDS)
    return 201, {"token": token}


async def download(token):
    # The download keeps the token: a second click on the same link works while it lives.
    if ID_PATTERN.fullmatch(token) and await store.get("token:" + token) is not None:
        return 200, {"token": token}
    return 404, {"error": "unknown token"}


async def create_session(receive):
    body = await read_body(receive)
    if body is None:
        return 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}
    data = {}
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            return 400, {"error": "the body is not JSON"}
    session = secrets.token_hex(16)
    await store.put("session:" + session, json.dumps(data), SESSION_TTL_SECONDS)
    return 201, {"session": session}


async def get_session(session):
    value = await store.get("session:" + session) if ID_PATTERN.fullmatch(session) else None
    if value is None:
        return 404, {"error": "unknown session"}
    return 200, {"session": session, "data": json.loads(value)}


async def liveness():
    return 200, {"status": "ok"}


async def readiness():
    problem = await store.ready()
    if problem is None:
        return 200, {"status": "ready", "store": store.kind}
    return 503, {"status": "not ready", "store": store.kind, "error": problem}


async def route(method, path, receive):
    """(status, body) for a request; 404 and 405 for what the API does not have."""
    parts = path.strip("/").split("/")
    if parts == ["healthz"]:
        allowed, handler = "GET", liveness
    elif parts == ["readyz"]:
        allowed, handler = "GET", readiness
    elif parts == ["tokens"]:
        allowed, handler = "POST", lambda: create_token(receive)
    elif len(parts) == 2 and parts[0] == "tokens" and parts[1]:
        allowed, handler = "GET", lambda: download(parts[1])
    elif parts == ["sessions"]:
        allowed, handler = "POST", lambda: create_session(receive)
    elif len(parts) == 2 and parts[0] == "sessions" and parts[1]:
        allowed, handler = "GET", lambda: get_session(parts[1])
    else:
        return 404, {"error": "not found"}, ()
    if method != allowed:
        return 405, {"error": f"use {allowed}"}, ((b"allow", allowed.encode()),)
    try:
        status, body = await handler()
    except StoreUnavailable as error:
        return 503, {"error": "store unavailable", "detail": str(error)}, ()
    return status, body, ()


def loggable(path):
    """The path with tokens and session ids shortened: they are credentials."""
    parts = path.split("/")
    if len(parts) == 3 and parts[1] in ("tokens", "sessions") and len(parts[2]) > 6:
        parts[2] = parts[2][:6] + "..."
    return "/".join(parts)


async def lifespan(receive, send):
    global store
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                store = make_store()
                await store.start()
            except Exception as error:  # a malformed REDIS_URL, for one
                log(f"cannot start: {error}")
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if store is not None:
                await store.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    started = time.monotonic()
    status, body, headers = await route(scope["method"], scope["path"], receive)
    await send_json(send, status, body, headers)
    if ACCESS_LOG:
        elapsed = (time.monotonic() - started) * 1000
        log(f'{scope["method"]} {loggable(scope["path"])} {status} {elapsed:.1f} ms')


def main():
    import uvicorn

    # The workers import this module as "app", from this file's folder.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run(
        "app:app",
        host="0.0.0.0",
        port=int_env("PORT", 8000),
        workers=int_env("WORKERS", 1),
        lifespan="on",
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
