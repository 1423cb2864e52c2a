"""The inference API (FastAPI, "Prometheus AI API" 1.0.0): the guide's endpoints, keys, rate limits, batching.

* ``GET /health``: model versions, which strategy ``/v1/optimize/portfolio`` serves by default,
  uptime, the market day; 503 with ``ready: false`` until the models are loaded (they load once,
  in the background, from the MLflow registry).
* ``POST /v1/predict/price``, ``POST /v1/optimize/portfolio``, ``POST /v1/assess/risk``,
  ``WS /ws/predictions/{asset}`` (a 1-day prediction each time the market feed advances): an API
  key in ``X-API-Key`` (401 without a known one, 403 for a revoked one; requests without a valid key count
  against their client address's limit, 429 past it), a per-key rate limit
  (``limits``; memory or Redis; 503 with ``Retry-After`` while its store does not answer), 413 for a body
  above ``max_body_bytes``, 422 naming the field. A socket counts against the rate limit when it opens,
  checks its key before each push and is closed with 4401, 4403, 4429 or 4422 for those refusals.
* ``GET /metrics``: Prometheus text format (``prometheus-client``). ``/docs``: OpenAPI.

Request bodies and keys are never logged: the access log line is method, path, status, the key's
*name* and the time taken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from prometheus_sim.api import schemas
from prometheus_sim.api.batcher import MicroBatcher
from prometheus_sim.api.keys import Forbidden, KeyStore, StoreUnreadable, Unauthorized
from prometheus_sim.api.service import Clock, ForecastService, MarketFeed, NotWarmedUp, PortfolioService, assess_risk
from prometheus_sim.redact import redact_uris

log = logging.getLogger("prometheus_sim.api")
TITLE, VERSION = "Prometheus AI API", "1.0.0"


@dataclass
class ServeSettings:
    """Everything ``prometheus-sim serve`` takes (see ``serve --help``)."""

    market: str
    path: int = 0
    start_day: int | None = None
    step_seconds: float = 60.0
    forecaster: str = "prometheus-forecaster@latest"
    policy: str | None = "prometheus-dqn@latest"
    optimize_default: str = "dqn"
    keys_file: str | None = None
    rate_limit: str = "100/second"
    rate_limit_storage: str = "memory://"
    batching: bool = True
    max_batch: int = 64
    batch_window_ms: float = 2.0
    max_body_bytes: int = 16_384
    tracking_uri: str | None = None
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.optimize_default not in ("dqn", "forecast"):
            raise ValueError(f"optimize_default: dqn or forecast, got {self.optimize_default!r}")
        if self.optimize_default == "dqn" and not self.policy:
            raise ValueError("policy: the dqn default needs a registered policy (or --optimize-default forecast)")
        if not self.rate_limit_storage.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError(f"rate_limit_storage: memory:// or redis://host:port, got {self.rate_limit_storage!r}")
        from limits import parse

        from prometheus_sim.devices import check_device

        check_device(self.device)  # at start-up: a missing GPU was only a load error on /health
        try:
            parse(self.rate_limit)
        except ValueError:
            raise ValueError(f"rate_limit: like '100/second' or '6000/minute', got {self.rate_limit!r}") from None


def _warming_up(state) -> str | None:
    """Why no forecast can be served today, when no asset's can (the history is shorter than the model's warm-up
    and window), else None. /health said "ok" and ready while every request was a 503 (review of 2026-12-05)."""
    service = getattr(state, "forecast", None)
    if service is None or not state.ready.is_set():
        return None
    problems = service.problems_today()
    return problems[0] if problems and all(problems) else None


def load_market(spec: str):
    """A run directory, or a shipped scenario name / file simulated with one path."""
    from pathlib import Path

    from prometheus_sim.market import Market

    p = Path(spec)
    if p.is_dir():
        return Market.load(p)
    from prometheus_sim.scenario import load_scenario

    root = Path(__file__).resolve().parents[2] / "scenarios"
    file = p if p.exists() else root / f"{spec}.yaml"
    if not file.exists():
        raise ValueError(f"market {spec!r}: neither a run directory nor a scenario")
    return Market.simulate(load_scenario(file), n_paths=1)


class State:
    """What the app holds once started."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.clock = Clock()
        self.keys = KeyStore(settings.keys_file)
        from limits import parse, storage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.limit = parse(settings.rate_limit)
        uri = settings.rate_limit_storage
        options = {} if uri.startswith("memory") else {"implementation": "redispy"}  # redis-py's asyncio client
        self.limiter = MovingWindowRateLimiter(storage.storage_from_string("async+" + uri, **options))
        if settings.market.endswith(".json"):  # a chain config (devchain.json): the oracle's rounds are the market
            from adapters.chain.feed import ChainFeed

            self.feed = ChainFeed(settings.market)
        else:
            self.feed = MarketFeed(load_market(settings.market), settings.path, settings.start_day,
                                   settings.step_seconds)  # fmt: skip
        self.forecast: ForecastService | None = None
        self.portfolio: dict[str, PortfolioService] = {}
        self.models: dict[str, str] = {}
        self.batcher: MicroBatcher | None = None
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.feed_error: str | None = None  # why the feed stopped moving (a chain feed's refused round, a node down)
        self.sockets: set[asyncio.Queue] = set()
        self.metrics = _Metrics()

    def load_models(self) -> None:
        """Load the registered models once (in the background: /health says ready when done)."""
        try:
            from prometheus_sim.forecast.predictor import PricePredictor
            from strategies.dqn import DQNStrategy
            from strategies.forecast import ForecastStrategy

            s = self.settings
            predictor = PricePredictor.load(s.forecaster, s.tracking_uri, s.device)
            if predictor.meta["features"].get("volume") and not state_has_volume(self.feed):
                raise ValueError(f"{s.forecaster} reads volume and the market {self.feed.market.name!r} has none")
            self.forecast = ForecastService(predictor, self.feed)
            self.models["forecaster"] = predictor.model_uri
            forecast_strategy = ForecastStrategy(model=s.forecaster, tracking_uri=s.tracking_uri)
            self.portfolio["forecast"] = PortfolioService(forecast_strategy, self.feed, "forecast")
            if s.policy:
                dqn = DQNStrategy(model=s.policy, tracking_uri=s.tracking_uri)
                dqn.check_market(self.feed.book)  # a market the policy was not trained for is refused at start
                dqn.check_blocks(self.feed.market.absent)  # and one lacking what its forecaster reads
                self.portfolio["dqn"] = PortfolioService(dqn, self.feed, "dqn")
                self.models["policy"] = f"models:/{dqn.ref[0]}/{dqn.ref[1]}"
            service = self.forecast

            def run_batch(items: list) -> list:
                self.metrics.batch.observe(len(items))
                return service.predict_batch(items)

            self.batcher = MicroBatcher(run_batch, s.max_batch, s.batch_window_ms / 1000, s.batching)
            self.ready.set()
        except Exception as exc:  # reported by /health, never a crash of the server
            # the registry's URI may hold a password (http://user:pass@host) and its listing every model name: the
            # log keeps the cause without credentials, a client gets no detail (review of 2026-12-05)
            self.load_error = redact_uris(f"{type(exc).__name__}: {exc}")
            log.error("model load failed: %s", self.load_error)


def state_has_volume(feed: MarketFeed) -> bool:
    from prometheus_sim.blocks import is_absent

    return not is_absent("volume", None, feed.market.absent)


class _Metrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("prometheus_api_requests", "Requests answered", ["path", "status"],
                                registry=self.registry)  # fmt: skip
        self.latency = Histogram("prometheus_api_latency_seconds", "Request latency", ["path"], registry=self.registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2))  # fmt: skip
        self.batch = Histogram("prometheus_api_batch_size", "Requests per model call", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128))  # fmt: skip


def create_app(settings: ServeSettings) -> FastAPI:
    state = State(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loop = asyncio.get_running_loop()
        loader = loop.run_in_executor(None, state.load_models)

        def push(day: int) -> None:
            for q in list(state.sockets):
                loop.call_soon_threadsafe(q.put_nowait, day)

        state.feed.on_advance(push)
        ticker = asyncio.create_task(_advance(state)) if settings.step_seconds > 0 else None
        yield
        if ticker:
            ticker.cancel()
        await loader
        if state.batcher:
            state.batcher.close()

    app = FastAPI(title=TITLE, version=VERSION, lifespan=lifespan,
                  description="Forecasts, recommendations and risk from the Prometheus models (prometheus-sim).")  # fmt: skip
    app.state.prometheus = state

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        """422 naming each field and problem; the offending values are not echoed (NaN is not JSON) nor logged."""
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_middleware(GuardMiddleware, state=state, max_body_bytes=settings.max_body_bytes)

    async def authorised(request: Request, x_api_key: str | None = Header(None, description="Your API key.")) -> str:
        """The key's name, once a request: the route (:class:`KeyFirstRoute`) has already asked, before the body
        was read; this dependency is what puts the header in the OpenAPI schema."""
        name = request.scope.get(KEY_NAME)
        if name is None:
            name = await _identify(state, x_api_key, request.client.host if request.client else "")
            request.scope[KEY_NAME] = name
            if not await _within_limit(state, name):
                raise HTTPException(429, f"rate limit {settings.rate_limit} per key exceeded")
        return name

    app.router.route_class = _key_first_route(authorised)  # the routes below; set before they are declared

    def need_ready() -> None:
        if not state.ready.is_set():
            raise HTTPException(503, "models are not loaded" + (" (the model load failed: the server's log names the "
                                                                "cause)" if state.load_error else " yet"))  # fmt: skip

    @app.get("/health", response_model=schemas.Health)
    async def health():
        # "ended": the feed is at the market's last day, where it stays (predictions repeat that day and sockets
        # push nothing more); it said "ok" for ever (review of 2026-12-05). Still 200: the API answers.
        ended = state.feed.ended
        # the rate limit's store (Redis) not answering: every keyed request is a 503 then, and /health says so
        limits_ok = await _limit_store_answers(state)
        ready = state.ready.is_set() and limits_ok and state.feed_error is None
        ok = "ended" if ended else "ok"
        warming = _warming_up(state)
        if warming:  # every asset's forecast is refused today (too little history): a probe must not route here
            ok, ready = f"warming up: {warming}", False
        if state.feed_error is not None:  # the feed stopped on an error: the day no longer moves (review)
            ok = f"degraded: the market feed stopped at day {state.feed.day} ({state.feed_error})"
        body = schemas.Health(
            status=(ok if limits_ok else "degraded: the rate-limit store does not answer")
            if state.ready.is_set() else ("error" if state.load_error else "loading"),
            version=VERSION,
            # ready is what the status code says (a probe routes on either): the models loaded but every forecast
            # refused for want of history, or the rate-limit store or the feed down, said ready with a 503 (review)
            ready=ready, models_loaded=state.ready.is_set(), uptime_s=state.clock.uptime(), models=state.models,
            optimize_default=settings.optimize_default, market=state.feed.market.name, day=state.feed.day,
            date=str(state.feed.market.calendar[state.feed.day].date()),
        )  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/predict/price", response_model=schemas.PriceResponse,
              responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}})  # fmt: skip
    async def predict_price(body: schemas.PriceRequest, _: str = Depends(authorised)):
        need_ready()
        service = state.forecast
        if body.asset not in state.feed.assets:
            raise _field_error("asset", f"unknown asset {body.asset!r}; this market has {state.feed.assets}")
        if body.horizon > service.horizon:
            raise _field_error("horizon", f"{body.horizon} days is beyond the served model's horizon of "
                               f"{service.horizon} days (train one with `forecast train --horizon 30`)")  # fmt: skip
        if body.asset not in service.assets:
            raise _field_error("asset", f"asset {body.asset!r}: the model was trained on {service.assets} only")
        result = await state.batcher.submit((body.asset, body.horizon))
        if isinstance(result, Exception):  # the served market's state (too little history yet, a NaN in its data),
            # not the request's: a 503, where it was a 422 on 'asset' (review of 2026-12-05, session 19)
            raise HTTPException(503, f"no forecast at the served market's day {state.feed.day}: {result}",
                                headers={"Retry-After": str(max(int(settings.step_seconds), 1))})  # fmt: skip
        return result

    @app.post("/v1/optimize/portfolio", response_model=schemas.OptimizeResponse,
              responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}})  # fmt: skip
    async def optimize(body: schemas.OptimizeRequest, _: str = Depends(authorised)):
        need_ready()
        unknown = [a for a in body.portfolio if a not in state.feed.assets]
        if unknown:
            raise _field_error("portfolio", f"unknown asset(s) {unknown}; this market has {state.feed.assets}")
        label = body.strategy or settings.optimize_default
        if label not in state.portfolio:
            raise _field_error("strategy", f"{label!r} is not served; served: {sorted(state.portfolio)}")
        from prometheus_sim.portfolio import RiskProfile

        profile = RiskProfile(risk_tolerance=body.risk_tolerance, time_to_goal=body.time_to_goal,
                              investment_amount=float(sum(body.portfolio.values())))  # fmt: skip
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, state.portfolio[label].recommend, body.portfolio, profile)
        except NotWarmedUp as exc:  # a forced HOLD answered as the model's decision, confidence 1 (review)
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(max(int(settings.step_seconds), 1))}
            ) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/v1/assess/risk", response_model=schemas.RiskResponse,
              responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}, 503: {}})  # fmt: skip
    async def risk(body: schemas.RiskRequest, _: str = Depends(authorised)):
        unknown = [a for a in body.portfolio if a not in state.feed.assets]
        if unknown:
            raise _field_error("portfolio", f"unknown asset(s) {unknown}; this market has {state.feed.assets}")
        try:
            return assess_risk(state.feed, body.portfolio)
        except NotWarmedUp as exc:
            raise HTTPException(
                503, str(exc), headers={"Retry-After": str(max(int(settings.step_seconds), 1))}
            ) from None

    @app.websocket("/ws/predictions/{asset}")
    async def predictions(ws: WebSocket, asset: str):
        # accepted first, so that the close codes reach the client (closed before accepting, every refusal was a
        # plain HTTP 403); the key's rate limit counts the socket, and the key is checked again before each push
        # (a revoked key's sockets kept pushing, and one key past its limit opened twenty: review of 2026-12-05)
        key = ws.headers.get("x-api-key")
        await ws.accept()
        try:
            name = await _identify(state, key, ws.client.host if ws.client else "")
            if not await _within_limit(state, name):
                raise HTTPException(429, f"rate limit {settings.rate_limit} per key exceeded")
        except HTTPException as exc:
            await ws.close(code=WS_CLOSE_CODES.get(exc.status_code, 4500), reason=_close_reason(exc.detail))
            return
        if asset not in state.feed.assets:
            await ws.close(code=4422, reason=_close_reason(f"unknown asset {asset!r}"))
            return
        queue: asyncio.Queue = asyncio.Queue()
        state.sockets.add(queue)
        log.info("ws /ws/predictions/%s open key=%s", _loggable(asset), name)
        # the client's side is read all along: a disconnect ends the handler at once, not at the next market day
        # (with a feed that no longer moves, a closed socket's handler waited for ever and held up shutdown)
        receiver = asyncio.ensure_future(ws.receive())
        try:
            day = state.feed.day
            pushed = None  # the market day of the last prediction sent
            while True:
                if not state.ready.is_set():
                    await asyncio.sleep(0.1)
                    continue
                try:
                    _verify(state, key)
                except HTTPException as exc:
                    await ws.close(code=WS_CLOSE_CODES.get(exc.status_code, 4500), reason=_close_reason(exc.detail))
                    return
                if asset not in state.forecast.assets:  # an error pushed every day on an open socket (review)
                    await ws.close(code=4422, reason=_close_reason(f"asset {asset!r}: the model was trained on "
                                                                   f"{state.forecast.assets} only"))  # fmt: skip
                    return
                result = await state.batcher.submit((asset, 1))
                if not isinstance(result, dict):
                    await ws.send_json({"error": str(result), "day": day})
                elif result.get("timestamp") != pushed:
                    # a notice for a day already sent (the feed advanced while the previous prediction was being
                    # computed, so that one already saw the new day) sends nothing twice: one push per market day
                    await ws.send_json(result)
                    pushed = result.get("timestamp")
                getter = asyncio.ensure_future(queue.get())
                while not getter.done():
                    # a client's message is read and dropped while the socket waits for the next market day: it went
                    # back to the top of the loop, and each frame cost a model call outside the rate limit (2,000
                    # frames, 2,001 model calls from a key limited to 40 a second; review of 2026-12-05, session 19)
                    done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if receiver in done:
                        if receiver.result().get("type") == "websocket.disconnect":
                            getter.cancel()
                            return
                        receiver = asyncio.ensure_future(ws.receive())
                day = getter.result()
        except WebSocketDisconnect:
            pass
        finally:
            receiver.cancel()
            state.sockets.discard(queue)

    return app


class GuardMiddleware:
    """Pure ASGI (no per-request task, unlike ``@app.middleware``): 413 for a body above the limit, by its
    declared length or as it streams in; a body declared as a form (curl's default) is read as the JSON
    it is; metrics; one log line per request, with no body and no key."""

    def __init__(self, app, state: State, max_body_bytes: int):
        self.app = app
        self.state = state
        self.max = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            # `curl -d '{...}'` declares a form; every body here is JSON (there are no form endpoints)
            scope = dict(scope, headers=[(k, b"application/json" if k == b"content-type" else v)
                                         for k, v in scope["headers"]])  # fmt: skip
        elif b"content-type" not in headers and scope.get("method") == "POST":
            # no type at all (`requests.post(url, data=...)`): FastAPI left the body unparsed and answered a valid one
            # 422 "Input should be a valid dictionary" (review of 2026-12-05, session 24); read it as JSON
            scope = dict(scope, headers=[*scope["headers"], (b"content-type", b"application/json")])
        size = headers.get(b"content-length")
        if size is not None and not size.isdigit():
            response = JSONResponse({"detail": f"Content-Length must be a whole number of bytes, got {size.decode(errors='replace')!r}"},
                                    status_code=400)  # fmt: skip
            await response(scope, receive, send)
            self._record(scope, 400, started)
            return
        too_big = size is not None and int(size) > self.max
        seen = {"bytes": 0, "over": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > self.max:
                    seen["over"] = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message):
            if seen["over"]:
                # a streamed body outgrew the limit: Starlette turns the error into a 400 ("error parsing the
                # body"); that answer is dropped, and the 413 below is sent instead
                return
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if too_big:
                raise _BodyTooLarge
            await self.app(scope, limited_receive, tracking_send)
            if seen["over"]:
                raise _BodyTooLarge
        except _BodyTooLarge:
            status["code"] = 413
            response = JSONResponse({"detail": f"request body above {self.max} bytes"}, status_code=413)
            await response(scope, receive, send)
        self._record(scope, status["code"], started)

    def _record(self, scope, code: int, started: float) -> None:
        """Count and time the request, labelled by its route's template (``/ws/predictions/{asset}``), not the
        raw path: a client probing made-up paths would otherwise add a new metric series for each."""
        route = getattr(scope.get("route"), "path", None) or "(no route)"
        elapsed = time.perf_counter() - started
        self.state.metrics.requests.labels(route, str(code)).inc()
        self.state.metrics.latency.labels(route).observe(elapsed)
        log.info("%s %s %d key=%s %.1f ms", scope["method"], _loggable(scope["path"]), code,
                 scope.get(KEY_NAME, "-"), 1000 * elapsed)  # fmt: skip


class _BodyTooLarge(Exception):
    pass


KEY_NAME = "prometheus.key_name"  # the request scope's entry naming the caller's key (the access log prints it)
WS_CLOSE_CODES = {401: 4401, 403: 4403, 429: 4429, 503: 4503}  # an HTTP refusal as a WebSocket close code


def _close_reason(text: object) -> str:
    """A WebSocket close frame's reason: at most 123 bytes (the protocol's limit), non-ASCII escaped."""
    return str(text).encode("ascii", "backslashreplace")[:120].decode("ascii")


def _loggable(text: str, limit: int = 200) -> str:
    """``text`` (a request path, decoded) as one log line may hold it: control characters escaped, so a path
    with ``%0d%0a`` cannot write a forged line of its own (review of 2026-12-05), and cut to ``limit``."""
    escaped = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


class QueryStringFilter(logging.Filter):
    """Drops the query string from uvicorn's own lines about a request (``"WebSocket /ws/...?token=..."
    [accepted]``): ``access_log=False`` does not cover its WebSocket lines, and a key passed in a query string
    was logged in full (review of 2026-12-05)."""

    _QUERY = re.compile(r"(\s/[^\s?\"]*)\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = self._QUERY.sub(r"\1?***", message), None
        return True


async def _limit_store_answers(state: State) -> bool:
    """Whether the rate limit's store answers (always, in memory); a store that raises does not."""
    try:
        return bool(await state.limiter.storage.check())
    except Exception:  # limits' storage errors have no common base
        return False


async def _identify(state: State, key: str | None, host: str) -> str:
    """The key's name, or its 401 / 403; a request without a valid key counts first against its client address's
    own limit (the same rate as a key's), and past it is a 429. Keyless requests went uncounted, each answered at the
    cost of a hash and a response (review of 2026-12-05). ``host`` is the connection's address (the server does not
    read X-Forwarded-For): clients behind one proxy share it."""
    try:
        return _verify(state, key)
    except HTTPException as exc:
        if exc.status_code == 503:  # the key store unreadable: the server's state, not a client without a key
            raise
        if not await _within_limit(state, host, namespace="unauthenticated"):
            raise HTTPException(429, f"rate limit {state.settings.rate_limit} per client address exceeded by "
                                     "requests without a valid key") from None  # fmt: skip
        raise


async def _within_limit(state: State, name: str, namespace: str = "key") -> bool:
    """Whether key ``name`` (or, in another ``namespace``, a client address) is within its rate limit now (this
    request counted). The limit's store (Redis) not answering is a 503 the client may retry, not a bare 500: the API
    fails closed (no request goes uncounted)."""
    try:
        return await state.limiter.hit(state.limit, namespace, name)
    except Exception as exc:  # limits' storage errors (a Redis connection refused, a timeout) have no common base
        log.error("rate-limit store unavailable: %s", redact_uris(f"{type(exc).__name__}: {exc}"))
        raise HTTPException(503, "the rate-limit store does not answer; retry shortly",
                            headers={"Retry-After": "1"}) from None  # fmt: skip


def _key_first_route(authorised) -> type[APIRoute]:
    """A route class whose POST endpoints ask for the key before the body is read, then check the body's text.

    FastAPI reads and parses the JSON body before it runs an endpoint's dependencies, so a request without a
    key got 422 for malformed JSON (telling a stranger how the body is parsed, at the cost of a parse) and a
    key's rate limit was not counted for it. Before the body is handed on, two things JSON parsers accept
    and this API must not: bytes that are not UTF-8 (Starlette's answer was a bare 400 naming nothing) and a
    key given twice in one object (the last one won, silently: ``{"portfolio": {"BTC": 1, "BTC": 100}}``).
    """

    class KeyFirstRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()
            if "POST" not in self.methods:
                return handler

            async def key_first(request: Request):
                await authorised(request, request.headers.get("x-api-key"))
                kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
                if kind not in ("application/json", ""):  # a form's type is made JSON by GuardMiddleware
                    # every body here is JSON: text/plain was a 422 "valid dictionary" (review of 2026-12-05)
                    return JSONResponse({"detail": f"Content-Type {kind!r}: this API takes application/json"},
                                        status_code=415)  # fmt: skip
                problem = _body_problem(await request.body())
                if problem is not None:
                    return JSONResponse({"detail": [problem]}, status_code=422)
                return await handler(request)

            return key_first

    return KeyFirstRoute


class _Pairs(list):
    """A JSON object as its (key, value) pairs in order, repeated keys kept: read by :func:`_repeated_key_path`."""


def _repeated_key_path(node, path: list) -> list | None:
    """Where the first key given twice in one object is (``["portfolio", "BTC"]``), or None."""
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, _ in node:
            if key in seen:
                return [*path, key]
            seen.add(key)
        children = ((key, value) for key, value in node)
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return None
    for where, child in children:
        found = _repeated_key_path(child, [*path, where])
        if found is not None:
            return found
    return None


def _body_problem(body: bytes) -> dict | None:
    """A 422 detail entry for a body that is not UTF-8, repeats a key in one object (located where it is: a repeated
    key inside ``portfolio`` was reported at the body's top level), nests too deeply, or holds a number too long to
    read (both were a 400 naming nothing); None otherwise (malformed JSON and the fields are left to FastAPI's own
    validation, which names them)."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"loc": ["body"], "msg": f"the body must be UTF-8 JSON: byte {exc.start} is not UTF-8",
                "type": "json_invalid"}  # fmt: skip
    try:
        tree = json.loads(text, object_pairs_hook=_Pairs)
        where = _repeated_key_path(tree, [])
    except RecursionError:
        return {"loc": ["body"], "msg": "the body nests objects or lists too deeply to read", "type": "json_invalid"}
    except json.JSONDecodeError:  # malformed: FastAPI's own error names where
        return None
    except ValueError as exc:  # an integer literal of thousands of digits (Python's limit on reading one)
        return {"loc": ["body"], "msg": f"the body cannot be read: {exc}", "type": "json_invalid"}
    if where is not None:
        return {"loc": ["body", *where], "msg": f"key {where[-1]!r} is given twice in one object; give it once",
                "type": "value_error"}  # fmt: skip
    return None


def _verify(state: State, key: str | None) -> str:
    try:
        return state.keys.verify(key)
    except Unauthorized as exc:
        raise HTTPException(401, str(exc)) from None
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except StoreUnreadable as exc:
        log.error("%s", exc)
        raise HTTPException(503, "the server's API key store cannot be read; retry once its operator has fixed it",
                            headers={"Retry-After": "5"}) from None  # fmt: skip


def _field_error(field_name: str, message: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", field_name], "msg": message, "type": "value_error"}])


async def _advance(state: State) -> None:
    """Move the feed on every ``step_seconds`` (a chain feed's reads block: they run off the event loop)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(state.settings.step_seconds)
        try:
            if not await loop.run_in_executor(None, state.feed.advance):
                return
        except Exception as exc:  # a chain feed's refused round or a node that is down ended the ticker task
            # silently, and the server served a frozen day as current (review of 2026-12-05, session 19): logged,
            # said by /health (503), and tried again at the next step
            state.feed_error = redact_uris(f"{type(exc).__name__}: {exc}")[:300]
            log.error("market feed: %s", state.feed_error)
            continue
        state.feed_error = None


__all__ = ["ServeSettings", "create_app", "load_market"]
