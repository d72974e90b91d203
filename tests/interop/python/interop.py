"""Interop check: the official BLiP Python SDK (PyPI blip-sdk 1.0 + lime-python 2.0 +
lime-transport-websocket 1.0) against a running Irisgate gateway.

    python interop.py HOST:PORT          (or IRISGATE_ADDR=HOST:PORT python interop.py)

Environment (all optional):
    IRISGATE_IDLE_PING_MS     the gateway's limits.idle_ping_ms (default 300): the server-ping
    IRISGATE_PING_TIMEOUT_MS  step waits for its pings and outlives limits.ping_timeout_ms
                              (default 1000)
    INTEROP_TIMEOUT_MS        overall deadline of the whole run (default 30000)
    INTEROP_TRACE=0           turns off the transport trace of every envelope (on by default,
                              so that a failure shows the conversation)

Prints one line per step ("ok - <step>") on stdout and exits 0 when every step held; the first
failure is printed on stderr ("FAIL - <step>: <why>") and the exit code is 1. The run can never
hang: each step has a deadline, the whole run has another, and a watchdog thread ends the
process even if the event loop is blocked (the SDK's reconnect sleeps with time.sleep).

To add a check (e.g. the campaign commands once the extension is served), append a step to
STEPS: an `async def step(ctx)` and its name; `ctx.client` is the connected session and
`await ctx.command(...)` sends a command and returns its response (failures are returned too).
"""

import asyncio
import base64
import os
import sys
import threading
import time
import traceback

from blip_sdk import ClientBuilder
from lime_python import Command, CommandMethod
from lime_transport_websocket import WebSocketTransport

IDENTIFIER = 'mybot'
ACCESS_KEY = 'c2VjcmV0'  # base64("secret"): the development tenant of irisgate.example.toml
WRONG_KEY = base64.b64encode(b'not-the-secret').decode()
DOMAIN = 'msging.net'
CAMPAIGN_NODE = f'postmaster@activecampaign.{DOMAIN}'

ADDR = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('IRISGATE_ADDR')
IDLE_PING_MS = int(os.environ.get('IRISGATE_IDLE_PING_MS', '300'))
PING_TIMEOUT_MS = int(os.environ.get('IRISGATE_PING_TIMEOUT_MS', '1000'))
OVERALL_MS = int(os.environ.get('INTEROP_TIMEOUT_MS', '30000'))
TRACE = os.environ.get('INTEROP_TRACE') != '0'
STEP_S = max(10.0, 3 * (IDLE_PING_MS + PING_TIMEOUT_MS) / 1000)

sys.stdout.reconfigure(line_buffering=True)


def die(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(message + '\n')
    sys.stderr.flush()
    os._exit(1)


if not ADDR or ':' not in ADDR or not ADDR.rsplit(':', 1)[1].isdigit():
    die('usage: python interop.py HOST:PORT (or set IRISGATE_ADDR)')
HOST, PORT = ADDR.rsplit(':', 1)[0], int(ADDR.rsplit(':', 1)[1])

# Nothing may hang, not even a blocked event loop: a watchdog thread ends the process.
_watchdog = threading.Timer(
    OVERALL_MS / 1000,
    die,
    [f'FAIL - overall timeout: the run did not finish within {OVERALL_MS} ms'],
)
_watchdog.daemon = True
_watchdog.start()


class Failure(Exception):
    pass


def check(condition, message: str) -> None:
    if not condition:
        raise Failure(message)


class RecordingTransport(WebSocketTransport):
    """The SDK's WebSocket transport, also recording every envelope sent and received."""

    def __init__(self, sent: list, received: list, on_received=None) -> None:
        super().__init__(TRACE)
        self.sent = sent
        self.received = received
        self.on_received = on_received
        self._deliver = None

    def send(self, envelope: dict) -> None:
        self.sent.append(envelope)
        super().send(envelope)

    # lime-python's Channel assigns `transport.on_envelope = channel.on_envelope`: wrap it.
    @property
    def on_envelope(self):
        return self._receive

    @on_envelope.setter
    def on_envelope(self, deliver) -> None:
        self._deliver = deliver

    def _receive(self, envelope: dict) -> None:
        self.received.append(envelope)
        if self.on_received:
            self.on_received(envelope)
        if self._deliver:
            self._deliver(envelope)


def build_client(access_key: str, sent: list, received: list, on_received=None):
    # ClientBuilder.build() makes the URI f'{scheme}://{hostname}:{port}' (no path) and the node
    # f'{identifier}@{domain}/{instance}' (domain msging.net, instance "default" by default).
    # A transport factory is required (build() raises without one); command_timeout is seconds.
    return (
        ClientBuilder()
        .with_identifier(IDENTIFIER)
        .with_access_key(access_key)
        .with_domain(DOMAIN)
        .with_hostname(HOST)
        .with_port(PORT)
        .with_scheme('ws')
        .with_command_timeout(5)
        .with_transport_factory(lambda: RecordingTransport(sent, received, on_received))
        .build()
    )


def show(envelope) -> str:
    if hasattr(envelope, 'to_json'):
        return str(envelope.to_json())
    return repr(envelope)


def expect_failure(response, code: int, what: str) -> None:
    check(response.status == 'failure', f'{what}: expected a failure, got {show(response)}')
    # lime-python keeps `reason` as the received dict (Command.from_json does not convert it).
    reason = response.reason or {}
    reason_code = reason.get('code') if isinstance(reason, dict) else getattr(reason, 'code', None)
    check(reason_code == code, f'{what}: expected reason code {code}, got {show(response)}')


class Ctx:
    client = None
    sent: list
    received: list
    server_pings: list
    established_at: float
    session_id: str

    async def command(self, method, uri, to=None):
        """process_command_async returns the response whatever its status (it never raises on
        a `failure`); it raises asyncio.TimeoutError when nothing comes back in time."""
        cmd = Command(method, uri)
        if to:
            cmd.to = to
        try:
            return await self.client.process_command_async(cmd)
        except asyncio.TimeoutError:
            raise Failure(f'no response in time to {show(cmd)}')

    def socket_open(self) -> bool:
        ws = self.client.transport.websocket
        return ws is not None and ws.open


async def step_connect(ctx: Ctx) -> None:
    """connect_async: new (the SDK adds an id) → authenticating → established, then
    set /presence and set /receipt through process_command_async."""
    ctx.sent, ctx.received, ctx.server_pings = [], [], []
    ctx.client = build_client(ACCESS_KEY, ctx.sent, ctx.received)

    def is_server_ping(c) -> bool:
        return c.method == 'get' and c.uri == '/ping' and not c.status

    from blip_sdk import Receiver

    ctx.client.add_command_receiver(
        Receiver(is_server_ping, lambda c: ctx.server_pings.append((c, time.monotonic())))
    )
    session = await ctx.client.connect_async()
    ctx.established_at = time.monotonic()
    check(session is not None and session.state == 'established', f'connect_async returned {show(session)}')
    check(
        str(session.to).lower().startswith(f'{IDENTIFIER}@{DOMAIN}'),
        f'established.to is {session.to}',
    )
    check(ctx.client.listening, 'client is not listening after connect_async')
    ctx.session_id = ctx.client.client_channel.session_id
    uris = [e.get('uri') for e in ctx.sent if e.get('method') == 'set']
    check(
        '/presence' in uris and '/receipt' in uris,
        f'the SDK did not send set /presence and set /receipt: {uris}',
    )


async def step_ping(ctx: Ctx) -> None:
    r = await ctx.command(CommandMethod.GET, '/ping')
    check(r.status == 'success', f'get /ping: {show(r)}')
    check(r.type_n == 'application/vnd.lime.ping+json', f'get /ping type: {show(r)}')
    check(isinstance(r.resource, dict), f'get /ping resource: {show(r)}')


async def step_ping_postmaster(ctx: Ctx) -> None:
    r = await ctx.command(CommandMethod.GET, '/ping', to=f'postmaster@{DOMAIN}')
    check(r.status == 'success', f'get /ping: {show(r)}')


async def step_campaign_node_62(ctx: Ctx) -> None:
    # A URI the campaign extension will never serve: 62 now and after the extension lands.
    r = await ctx.command(CommandMethod.GET, '/interop/not-a-resource', to=CAMPAIGN_NODE)
    expect_failure(r, 62, f'get /interop/not-a-resource to {CAMPAIGN_NODE}')
    check(
        str(r.from_n or '').lower().startswith(CAMPAIGN_NODE),
        f'the failure should come from {CAMPAIGN_NODE}: {show(r)}',
    )


async def step_unknown_node_42(ctx: Ctx) -> None:
    r = await ctx.command(CommandMethod.GET, '/ping', to=f'postmaster@nowhere.{DOMAIN}')
    expect_failure(r, 42, 'get /ping to an unknown node')


async def step_server_pings(ctx: Ctx) -> None:
    """lime-python's Channel.on_envelope answers `get /ping` addressed to it
    (__should_reply_command / __create_ping_command_reply, auto_reply_pings=True as blip-sdk's
    Client builds its ClientChannel) with {id, to, method: get, status: success,
    type: application/vnd.lime.ping+json, resource: {}}. The gateway closes a pinged session
    that stays silent for ping_timeout_ms: outliving several pings and that timeout on the
    same socket proves the replies are accepted. (The transport does not report a close by the
    server to the client, so the socket itself is checked.)"""
    must_last = (IDLE_PING_MS + PING_TIMEOUT_MS + 200) / 1000
    while len(ctx.server_pings) < 3 or time.monotonic() - ctx.established_at < must_last:
        check(ctx.socket_open(), 'the session was closed while waiting for server pings')
        await asyncio.sleep(0.05)
    for ping, _ in ctx.server_pings:
        reply = next((e for e in ctx.sent if e.get('id') == ping.id and e.get('status')), None)
        check(reply is not None, f'the SDK did not answer the server ping {show(ping)}')
        check(
            reply.get('status') == 'success' and reply.get('method') == 'get',
            f'unexpected ping reply {reply}',
        )
    check(ctx.socket_open() and ctx.client.listening, 'the session was closed')
    check(ctx.client.client_channel.session_id == ctx.session_id, 'the session id changed')
    r = await ctx.command(CommandMethod.GET, '/ping')
    check(r.status == 'success', f'get /ping after the server pings: {show(r)}')


async def step_wrong_key(ctx: Ctx) -> None:
    """Known SDK defect (lime.md): on a `failed` session, ClientChannel calls
    future.set_exception(session) with a Session, which is not an exception, so that callback
    raises TypeError, connect_async never returns, and Client.__transport_on_close reconnects
    (after a blocking time.sleep). So this step checks what the gateway sent (failed, reason 13,
    then close) on the wire, stops the reconnect the way a user would (close_async, which
    sets the client's closing flag), and does not wait for connect_async."""
    sent, received = [], []
    loop = asyncio.get_running_loop()
    saw_failed = loop.create_future()
    holder = {}

    def on_received(envelope: dict) -> None:
        if envelope.get('state') == 'failed' and not saw_failed.done():
            # Before the SDK handles it: sets Client.__closing so no reconnect is scheduled.
            holder['close'] = asyncio.ensure_future(holder['client'].close_async())
            saw_failed.set_result(envelope)

    client = build_client(WRONG_KEY, sent, received, on_received)
    holder['client'] = client
    connect = asyncio.ensure_future(client.connect_async())
    try:
        failed = await asyncio.wait_for(asyncio.shield(saw_failed), STEP_S / 2)
    except asyncio.TimeoutError:
        done = connect.done() and not connect.cancelled() and connect.exception() is None
        raise Failure(
            'no failed session envelope for a wrong key'
            + (f'; connect_async returned {show(connect.result())}' if done else '')
        )
    reason = failed.get('reason') or {}
    check(reason.get('code') == 13, f'expected reason 13, got {failed}')
    # The gateway closes the socket after `failed`.
    deadline = time.monotonic() + 5
    while client.transport.websocket.open and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    check(not client.transport.websocket.open, 'the socket stayed open after the failed session')
    await asyncio.sleep(0.3)  # longer than the SDK's first reconnect backoff (200 ms)
    check(
        not (connect.done() and not connect.cancelled() and connect.exception() is None),
        'connect_async succeeded with a wrong key',
    )
    check(not client.listening, 'the refused client is listening')
    check(sum(1 for e in sent if e.get('state') == 'new') == 1, 'the SDK reconnected')
    for task in (connect, holder.get('close')):
        if task is not None and not task.done():
            task.cancel()


async def step_close(ctx: Ctx) -> None:
    """close_async sends `finishing` and returns the `finished` envelope once the transport
    has closed (ClientChannel.send_finishing_session_async / on_session FINISHED)."""
    finished = await ctx.client.close_async()
    check(finished is not None and finished.state == 'finished', f'close_async returned {show(finished)}')
    check(not ctx.socket_open(), 'the socket is still open after close_async')
    await asyncio.sleep(0.3)  # longer than the SDK's first reconnect backoff (200 ms)
    check(not ctx.client.listening, 'the SDK reconnected after close_async')
    check(sum(1 for e in ctx.sent if e.get('state') == 'new') == 1, 'the SDK opened a new session')


STEPS = [
    ('connect (handshake, presence, receipt)', step_connect),
    ('get /ping (no to)', step_ping),
    ('get /ping to postmaster@msging.net', step_ping_postmaster),
    ('campaign node: unknown uri → failure, reason 62', step_campaign_node_62),
    ('unknown node → reason 42', step_unknown_node_42),
    ('server pings are answered by the SDK and keep the session open', step_server_pings),
    ('wrong access key → failed session, reason 13, socket closed, no reconnect', step_wrong_key),
    ('close_async finishes the session', step_close),
]


async def main() -> None:
    ctx = Ctx()
    print(f'blip-sdk (Python) against ws://{HOST}:{PORT}')
    for name, run in STEPS:
        started = time.monotonic()
        try:
            await asyncio.wait_for(run(ctx), STEP_S)
        except asyncio.TimeoutError:
            die(f'FAIL - {name}: no outcome within {STEP_S} s')
        except Failure as e:
            die(f'FAIL - {name}: {e}')
        except Exception:  # noqa: BLE001 - any SDK error fails the step with its traceback
            die(f'FAIL - {name}: {traceback.format_exc()}')
        print(f'ok - {name} ({int((time.monotonic() - started) * 1000)} ms)')
    print(f'all {len(STEPS)} steps passed')
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without asyncio.run's teardown: the refused client's pending tasks need no cleanup.
    os._exit(0)


if __name__ == '__main__':
    asyncio.run(main())
