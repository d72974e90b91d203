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

To add a check, append a step to STEPS: an `async def step(ctx)` and its name; `ctx.client` is
the connected session and `await ctx.command(...)` sends a command and returns its response
(failures are returned too). A step may return a short note (timings, counts) that is printed
after its "ok" line.

The campaign steps run the seed's dynamic flow (activecampaign.md, commands 2-10) against the
development tenant's simulator channel (delivered after 50 ms, read after 200 ms): numbers
ending in 0001 are refused by the simulator with reason 1002, every other number is read.
"""

import asyncio
import base64
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid

from blip_sdk import ClientBuilder, Receiver
from lime_python import Command, CommandMethod, Message
from lime_transport_websocket import WebSocketTransport

IDENTIFIER = 'mybot'
ACCESS_KEY = 'c2VjcmV0'  # base64("secret"): the development tenant of irisgate.example.toml
WRONG_KEY = base64.b64encode(b'not-the-secret').decode()
DOMAIN = 'msging.net'
CAMPAIGN_NODE = f'postmaster@activecampaign.{DOMAIN}'
CRM_NODE = f'postmaster@crm.{DOMAIN}'
SERVER_NODE = f'postmaster@{DOMAIN}'
WHATSAPP_DOMAIN = 'wa.gw.msging.net'
TEMPLATE = 'email_commerce_resposta'  # "Olá {{1}}, …" (pt_BR) in irisgate.example.toml
T_DYNAMIC = 'application/vnd.iris.activecampaign.campaign-dynamic+json'
T_CAMPAIGN = 'application/vnd.iris.activecampaign.campaign+json'
T_AUDIENCE = 'application/vnd.iris.activecampaign.audience+json'
T_AUDIENCE_RESULT = 'application/vnd.iris.activecampaign.audience-result+json'
T_SUMMARY = 'application/vnd.iris.activecampaign.campaign-summary+json'
T_MESSAGE = 'application/vnd.iris.activecampaign.message+json'
T_REPORT = 'application/vnd.iris.activecampaign.report+json'
T_COLLECTION = 'application/vnd.lime.collection+json'
T_CONTACT = 'application/vnd.lime.contact+json'
T_CSV = 'text/csv'
T_TEXT = 'text/plain'
T_JSON = 'application/json'
# Polling the summary until every recipient reached its final state: interval and deadline.
POLL_S = 0.1
DELIVERY_DEADLINE_S = 8.0

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

    campaign: dict

    async def command(self, method, uri, to=None, type_n=None, resource=None):
        """process_command_async returns the response whatever its status (it never raises on
        a `failure`); it raises asyncio.TimeoutError when nothing comes back in time."""
        cmd = Command(method, uri, type_n, resource)
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


async def step_unknown_node_42(ctx: Ctx) -> None:
    r = await ctx.command(CommandMethod.GET, '/ping', to=f'postmaster@nowhere.{DOMAIN}')
    expect_failure(r, 42, 'get /ping to an unknown node')


def expect_success(response, type_n: str, what: str, from_node: str = CAMPAIGN_NODE):
    """A `success` response of `type_n` from `from_node`: returns its resource."""
    check(response.status == 'success', f'{what}: expected success, got {show(response)}')
    check(response.type_n == type_n, f'{what}: expected type {type_n}, got {show(response)}')
    check(
        str(response.from_n or '').lower().startswith(from_node),
        f'{what}: the response should come from {from_node}: {show(response)}',
    )
    return response.resource


def expect_collection(response, item_type: str, total: int, what: str, from_node: str = CAMPAIGN_NODE) -> list:
    """A collection of `item_type` with `total` items: returns its items."""
    c = expect_success(response, T_COLLECTION, what, from_node)
    check(isinstance(c, dict) and c.get('itemType') == item_type, f'{what}: expected itemType {item_type}: {c}')
    check(c.get('total') == total, f'{what}: expected total {total}, got {c}')
    check(isinstance(c.get('items'), list), f'{what}: no items in {c}')
    return c['items']


def expect_equal(actual, expected, what: str) -> None:
    check(actual == expected, f'{what}: expected {json.dumps(expected)}, got {json.dumps(actual)}')


ISO_MS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', re.I)


def expect_time(value, what: str) -> str:
    check(isinstance(value, str) and ISO_MS.match(value), f'{what}: expected an ISO-8601 time, got {value}')
    return value  # same width and zone: ISO strings compare in time order


def identity_of(phone: str) -> str:
    return f'{phone.lstrip("+")}@{WHATSAPP_DOMAIN}'


def campaign_plan() -> dict:
    """The dynamic campaign of the seed: 3 recipients by list, then a CSV with one new number,
    one duplicate (its parameters replace the list's) and one bad line. One recipient ends in
    0001: the simulator refuses it (1002), deliberately, so that a FAILED state is checked too."""
    run = uuid.uuid4().hex[:8]
    audience = [
        {
            'recipient': '+5531998761234',
            'messageParams': {'1': f'Ana {run}'},
            'contextVariables': {'cpf': '12345678901', 'vip': True, 'order': {'id': 42, 'items': ['livro']}},
        },
        {
            'recipient': '+5531998765678',
            'messageParams': {'1': f'Bia {run}'},
            'contextVariables': {'cpf': '10987654321'},
        },
        {'recipient': '+5531998760001', 'messageParams': {'1': f'Caio {run}'}},
    ]
    # Line 1 is the header; line 3 is bad; line 4 repeats the list's second number.
    csv = '\n'.join([
        'telefone,1,#contextvariables#',
        f'+5531998769876,Duda {run},"{{""cpf"":""55566677788"",""score"":7}}"',
        f'abc,Erro {run},',
        f'+5531998765678,Bia {run} (CSV),"{{""origin"":""csv""}}"',
        '',
    ])
    # Final state of every recipient, in insertion order.
    expected = [
        {'phone': '+5531998761234', 'params': {'1': f'Ana {run}'}, 'status': 'READ'},
        {'phone': '+5531998765678', 'params': {'1': f'Bia {run} (CSV)'}, 'status': 'READ'},
        {'phone': '+5531998760001', 'params': {'1': f'Caio {run}'}, 'status': 'FAILED', 'reasonCode': 1002},
        {'phone': '+5531998769876', 'params': {'1': f'Duda {run}'}, 'status': 'READ'},
    ]
    return {
        'name': f'interop python {run}',
        'flowId': str(uuid.uuid4()),
        'stateId': f'onboarding-{run}',
        'masterState': 'masterstate@msging.net',
        'list': audience,
        'csv': csv,
        'expected': expected,
    }


def check_status_item(item, want: dict, what: str) -> None:
    """Checks one statusAudience entry (summaries, reports, audience) against its final state."""
    check(item is not None, f'{what}: no entry for {identity_of(want["phone"])}')
    check(item.get('status') == want['status'], f'{what}: expected {want["status"]}, got {item}')
    check(item.get('numberStatus') == 'VALID', f'{what}: numberStatus of {item}')
    if want['status'] == 'READ':
        processed = expect_time(item.get('processed'), f'{what}.processed')
        received = expect_time(item.get('received'), f'{what}.received')
        read = expect_time(item.get('read'), f'{what}.read')
        check(processed <= received <= read, f'{what}: timestamps out of order {item}')
        check('reasonCode' not in item and 'failed' not in item, f'{what}: {item}')
    else:
        expect_time(item.get('failed'), f'{what}.failed')
        check(item.get('reasonCode') == want['reasonCode'], f'{what}: expected reason {want["reasonCode"]}: {item}')
        check(isinstance(item.get('reasonDescription'), str) and item['reasonDescription'], f'{what}: {item}')


def status_entry(view: dict, phone: str):
    return next((i for i in view.get('statusAudience') or [] if i.get('recipientIdentity') == identity_of(phone)), None)


def delivered(view: dict, expected: list) -> bool:
    """Whether every recipient of a summary/report reached its expected final state."""
    if view.get('status') != 'executed':
        return False
    return all((status_entry(view, w['phone']) or {}).get('status') == w['status'] for w in expected)


async def step_campaign_node_62(ctx: Ctx) -> None:
    """The extension is served now: a URI outside its table is still 62 (and a near miss of a
    served URI too), while a served URI on the same node answers."""
    for uri in ('/interop/not-a-resource', '/campaigns/summaries/extra'):
        r = await ctx.command(CommandMethod.GET, uri, to=CAMPAIGN_NODE)
        expect_failure(r, 62, f'get {uri} to {CAMPAIGN_NODE}')
        check(
            str(r.from_n or '').lower().startswith(CAMPAIGN_NODE),
            f'the failure should come from {CAMPAIGN_NODE}: {show(r)}',
        )
    r = await ctx.command(CommandMethod.GET, '/campaigns/summaries', to=CAMPAIGN_NODE)
    expect_success(r, T_COLLECTION, 'get /campaigns/summaries')


async def step_campaign_create(ctx: Ctx) -> None:
    plan = ctx.campaign = campaign_plan()
    resource = {
        'campaign': {
            'name': plan['name'],
            'campaignType': 'Batch',
            'flowId': plan['flowId'],
            'stateId': plan['stateId'],
            'masterstate': plan['masterState'],  # spelled as in the seed
            'channelType': 'WhatsApp',
            'sourceApplication': 'interop-python',
            'tags': ['interop', 'python'],
        },
        'message': {'messageTemplate': TEMPLATE, 'messageParams': ['1'], 'channelType': 'WhatsApp'},
    }
    r = await ctx.command(CommandMethod.SET, '/campaign/v2', CAMPAIGN_NODE, T_DYNAMIC, resource)
    c = expect_success(r, T_CAMPAIGN, 'set /campaign/v2')
    check(isinstance(c.get('id'), str) and UUID_RE.match(c['id']), f'campaign id: {c}')
    plan['id'] = c['id']
    expect_equal(
        [c.get('name'), c.get('campaignType'), c.get('channelType'), c.get('status')],
        [plan['name'], 'BATCH', 'WHATSAPP', 'new'],
        'name, campaignType, channelType, status',
    )
    expect_equal(
        [c.get(k) for k in ('flowId', 'stateId', 'masterState', 'sourceApplication', 'tags')],
        [plan['flowId'], plan['stateId'], plan['masterState'], 'interop-python', ['interop', 'python']],
        'flowId, stateId, masterState, sourceApplication, tags',
    )
    expect_time(c.get('created'), 'created')
    check('sendDate' not in c, f'a new campaign has no sendDate: {c}')


async def step_audience_list(ctx: Ctx) -> None:
    plan = ctx.campaign
    resource = {'itemType': T_AUDIENCE, 'items': plan['list']}
    r = await ctx.command(CommandMethod.SET, f'/audiences/v2/{plan["id"]}', CAMPAIGN_NODE, T_COLLECTION, resource)
    result = expect_success(r, T_AUDIENCE_RESULT, 'set /audiences/v2/{id}')
    expect_equal(
        result,
        {'campaignId': plan['id'], 'received': 3, 'added': 3, 'updated': 0, 'invalid': [], 'total': 3},
        'audience result',
    )


async def step_audience_file(ctx: Ctx) -> None:
    plan = ctx.campaign
    r = await ctx.command(CommandMethod.SET, f'/audiences/v2/{plan["id"]}/file', CAMPAIGN_NODE, T_CSV, plan['csv'])
    result = dict(expect_success(r, T_AUDIENCE_RESULT, 'set /audiences/v2/{id}/file'))
    invalid = result.pop('invalid', None)
    expect_equal(
        result,
        {'campaignId': plan['id'], 'received': 3, 'added': 1, 'updated': 1, 'total': 4},
        'CSV counts',
    )
    check(isinstance(invalid, list) and len(invalid) == 1, f'CSV invalid: {invalid}')
    expect_equal([invalid[0].get('line'), invalid[0].get('recipient')], [3, 'abc'], 'the bad line and its recipient')
    check(isinstance(invalid[0].get('reason'), str) and invalid[0]['reason'], f'no reason: {invalid}')


async def step_dispatch(ctx: Ctx) -> None:
    plan = ctx.campaign
    r = await ctx.command(CommandMethod.SET, '/dispatch/v2', CAMPAIGN_NODE, T_CAMPAIGN, {'id': plan['id']})
    plan['dispatched_at'] = time.monotonic()
    c = expect_success(r, T_CAMPAIGN, 'set /dispatch/v2')
    expect_equal([c.get('id'), c.get('status')], [plan['id'], 'processing'], 'id, status')
    plan['sendDate'] = expect_time(c.get('sendDate'), 'sendDate')


async def step_poll(ctx: Ctx) -> str:
    plan = ctx.campaign
    started = time.monotonic()
    polls = 0
    while True:
        polls += 1
        s = await ctx.command(CommandMethod.GET, f'/campaigns/{plan["id"]}/summaries', to=CAMPAIGN_NODE)
        summary = expect_collection(s, T_SUMMARY, 1, 'get /campaigns/{id}/summaries')[0]
        r = await ctx.command(CommandMethod.GET, f'/campaigns/{plan["id"]}/reports', to=CAMPAIGN_NODE)
        report = expect_success(r, T_REPORT, 'get /campaigns/{id}/reports')
        if delivered(summary, plan['expected']) and delivered(report, plan['expected']):
            break
        check(
            time.monotonic() - started < DELIVERY_DEADLINE_S,
            f'not delivered within {DELIVERY_DEADLINE_S} s; last summary {summary}',
        )
        await asyncio.sleep(POLL_S)
    since = int((time.monotonic() - plan['dispatched_at']) * 1000)
    counts = {'total': 4, 'pending': 0, 'processed': 0, 'received': 0, 'read': 3, 'failed': 1, 'replied': 0}
    for what, view in (('summary', summary), ('report', report)):
        expect_equal(
            [view.get(k) for k in ('id', 'name', 'messageTemplate', 'status')],
            [plan['id'], plan['name'], TEMPLATE, 'executed'],
            f'{what}: id, name, messageTemplate, status',
        )
        expect_equal(
            [view.get(k) for k in ('flowId', 'stateId', 'masterState', 'sendDate')],
            [plan['flowId'], plan['stateId'], plan['masterState'], plan['sendDate']],
            f'{what}: flowId, stateId, masterState, sendDate',
        )
        expect_equal(view.get('audienceCounts'), counts, f'{what}: audienceCounts')
        check(len(view.get('statusAudience') or []) == 4, f'{what}: statusAudience {view}')
        for want in plan['expected']:
            check_status_item(status_entry(view, want['phone']), want, f'{what} of {want["phone"]}')
    expect_equal(summary.get('channelType'), 'WHATSAPP', 'summary.channelType')
    check(
        str(report.get('campaignSender', '')).startswith(f'{IDENTIFIER}@{DOMAIN}'),
        f'report.campaignSender: {report}',
    )
    return f'{polls} polls; executed and read {since} ms after dispatch'


async def step_audience_and_messages(ctx: Ctx) -> None:
    plan = ctx.campaign
    r = await ctx.command(CommandMethod.GET, f'/audiences/{plan["id"]}', to=CAMPAIGN_NODE)
    items = expect_collection(r, T_AUDIENCE, 4, 'get /audiences/{id}')
    expect_equal(
        [i.get('recipient') for i in items],
        [w['phone'] for w in plan['expected']],
        'recipients in insertion order',
    )
    for item, want in zip(items, plan['expected']):
        what = f'audience item {want["phone"]}'
        expect_equal(
            [item.get(k) for k in ('campaignId', 'recipientIdentity', 'recipientType', 'channelType')],
            [plan['id'], identity_of(want['phone']), 'PhoneNumber', 'WHATSAPP'],
            f'{what}: campaignId, recipientIdentity, recipientType, channelType',
        )
        expect_equal([item.get('validatedAccount'), item.get('messageParams')], [want['phone'], want['params']], what)
        check_status_item(item, want, what)
    r = await ctx.command(CommandMethod.GET, f'/audiences/{plan["id"]}?status=FAILED&$take=10', to=CAMPAIGN_NODE)
    only = expect_collection(r, T_AUDIENCE, 1, 'get /audiences/{id}?status=FAILED')
    expect_equal([i.get('recipient') for i in only], ['+5531998760001'], 'the FAILED recipients')

    r = await ctx.command(CommandMethod.GET, f'/messages/{plan["id"]}', to=CAMPAIGN_NODE)
    messages = expect_collection(r, T_MESSAGE, 1, 'get /messages/{id}')
    expect_equal(
        messages[0],
        {
            'channelType': 'WHATSAPP',
            'messageTemplate': TEMPLATE,
            'messageTemplateLanguage': 'pt_BR',
            'messageParams': ['1'],
        },
        'the campaign message',
    )


async def step_after_dispatch(ctx: Ctx) -> str:
    """process_command_async returns a `failure` response like any other (no exception):
    status 'failure' and `reason` left as the received dict."""
    plan = ctx.campaign
    cmd = Command(
        CommandMethod.SET,
        f'/audiences/v2/{plan["id"]}',
        T_COLLECTION,
        {'itemType': T_AUDIENCE, 'items': [{'recipient': '+5531998764321', 'messageParams': {'1': 'Eva'}}]},
    )
    cmd.to = CAMPAIGN_NODE
    cmd.id = str(uuid.uuid4())
    try:
        r = await ctx.client.process_command_async(cmd)
    except asyncio.TimeoutError:
        raise Failure(f'no response in time to {show(cmd)}')
    check(type(r) is Command, f'process_command_async returned {type(r).__name__}: {show(r)}')
    check(r.id == cmd.id and r.method == 'set', f'not the response to {cmd.id}: {show(r)}')
    expect_failure(r, 66, 'set /audiences/v2/{id} after dispatch')
    check('already dispatched' in str(r.reason.get('description', '')).lower(), f'reason: {r.reason}')
    again = await ctx.command(CommandMethod.SET, '/dispatch/v2', CAMPAIGN_NODE, T_CAMPAIGN, {'id': plan['id']})
    expect_failure(again, 64, 'set /dispatch/v2 of an executed campaign')
    r2 = await ctx.command(CommandMethod.GET, f'/audiences/{plan["id"]}', to=CAMPAIGN_NODE)
    expect_collection(r2, T_AUDIENCE, 4, 'the audience after the refused add')
    return f'returned a Command, status {r.status!r}, reason {type(r.reason).__name__} {r.reason}'


async def step_contacts(ctx: Ctx) -> None:
    for want in (w for w in ctx.campaign['expected'] if w['status'] == 'READ'):
        identity = identity_of(want['phone'])
        r = await ctx.command(CommandMethod.GET, f'/contacts/{identity}', to=CRM_NODE)
        contact = expect_success(r, T_CONTACT, f'get /contacts/{identity}', CRM_NODE)
        expect_equal(contact.get('identity'), identity, 'contact identity')
        expect_equal(contact.get('phoneNumber'), want['phone'], 'contact phoneNumber')
        expect_equal((contact.get('extras') or {}).get('1'), want['params']['1'], f'extras of {identity}')


async def step_contexts(ctx: Ctx) -> None:
    plan = ctx.campaign
    state_var = f'stateid@{plan["flowId"]}'
    ana = identity_of('+5531998761234')
    r = await ctx.command(CommandMethod.GET, f'/contexts/{ana}', to=SERVER_NODE)
    names = expect_success(r, T_COLLECTION, f'get /contexts/{ana}', SERVER_NODE)
    check(names.get('itemType') == T_TEXT, f'context names: {names}')
    for name in (state_var, 'master-state', 'cpf', 'vip', 'order'):
        check(name in names.get('items', []), f'context of {ana} lacks {name}: {names}')
    duda, bia = identity_of('+5531998769876'), identity_of('+5531998765678')
    values = [
        (ana, state_var, T_TEXT, plan['stateId']),
        (ana, 'master-state', T_TEXT, plan['masterState']),
        (ana, 'cpf', T_TEXT, '12345678901'),
        (ana, 'vip', T_JSON, True),
        (ana, 'order', T_JSON, {'id': 42, 'items': ['livro']}),
        (duda, 'score', T_JSON, 7),
        (duda, state_var, T_TEXT, plan['stateId']),
        (bia, 'origin', T_TEXT, 'csv'),
    ]
    for identity, name, type_n, value in values:
        r = await ctx.command(CommandMethod.GET, f'/contexts/{identity}/{name}', to=SERVER_NODE)
        got = expect_success(r, type_n, f'get /contexts/{identity}/{name}', SERVER_NODE)
        expect_equal(got, value, f'context {name} of {identity}')


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


async def step_send_message(ctx: Ctx) -> None:
    """conversations.md, Outbound: client.send_message to a person inside the 24 h window (a
    contact whose last message was just now, written over REST) reaches the simulator, and a
    notification receiver gets accepted → dispatched → received → consumed."""
    import urllib.request
    from datetime import datetime, timezone

    phone = '5531998769943'
    body = json.dumps({'phone': f'+{phone}', 'last_interaction_at': datetime.now(timezone.utc).isoformat()})
    request = urllib.request.Request(
        f'http://{HOST}:{PORT}/api/v1/contacts', data=body.encode(), method='POST',
        headers={'x-api-key': 'wk_test_123', 'content-type': 'application/json'},
    )
    status = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=5).status)
    check(status == 201, f'contact not created: {status}')
    message_id = str(uuid.uuid4())
    to = f'{phone}@wa.gw.msging.net'
    seen = []
    done = asyncio.get_running_loop().create_future()

    def on_notification(n) -> None:
        seen.append(n)
        if n.event in ('consumed', 'failed') and not done.done():
            done.set_result(None)

    ctx.client.add_notification_receiver(Receiver(lambda n: n.id == message_id, on_notification))
    ctx.client.send_message(Message('text/plain', 'Olá pelo SDK', id=message_id, to=to))
    await asyncio.wait_for(done, 10)
    events = [n.event for n in seen]
    check(events == ['accepted', 'dispatched', 'received', 'consumed'], f'notifications: {events}')
    check(all(n.from_n == to and (n.metadata or {}).get('#message.to') == to for n in seen), 'from / #message.to')


async def step_inbound_reply(ctx: Ctx) -> None:
    """conversations.md, Inbound: a campaign to the simulator's 0005 person, whose reply reaches
    add_message_receiver with the campaign's flow metadata; the bot's answer gets `Obrigado!`."""
    phone = '5531998760005'
    sender = f'{phone}@wa.gw.msging.net'
    loop = asyncio.get_running_loop()
    reply, thanks = loop.create_future(), loop.create_future()

    def on_message(m) -> None:
        if m.content == 'Quero saber mais' and not reply.done():
            reply.set_result(m)
        if m.content == 'Obrigado!' and not thanks.done():
            thanks.set_result(m)

    ctx.client.add_message_receiver(Receiver(lambda m: m.from_n == sender, on_message))
    resource = {
        'campaign': {'name': 'sdk reply', 'campaignType': 'Batch', 'flowId': 'flow-py', 'stateId': 'state-py'},
        'audiences': [{'recipient': f'+{phone}', 'messageParams': {'1': 'Maria'}}],
        'message': {'messageTemplate': TEMPLATE, 'messageParams': ['1']},
    }
    full = 'application/vnd.iris.activecampaign.full-campaign+json'
    r = await ctx.command(CommandMethod.SET, '/campaign/full', CAMPAIGN_NODE, full, resource)
    check(r.status == 'success', f'set /campaign/full: {show(r)}')
    m = await asyncio.wait_for(reply, 10)
    meta = m.metadata or {}
    check(
        meta.get('#activecampaign.flowId') == 'flow-py'
        and meta.get('#activecampaign.stateId') == 'state-py'
        and meta.get('#activecampaign.campaignId') == r.resource['id'],
        f'flow metadata: {meta}',
    )
    ctx.client.send_message(Message('text/plain', 'Claro!', id=str(uuid.uuid4()), to=sender))
    await asyncio.wait_for(thanks, 10)


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
    ('campaign node: unknown uris → reason 62, a served uri answers', step_campaign_node_62),
    ('unknown node → reason 42', step_unknown_node_42),
    ('set /campaign/v2 (dynamic, WhatsApp template) → new', step_campaign_create),
    ('set /audiences/v2/{id}: a collection of 3 recipients', step_audience_list),
    ('set /audiences/v2/{id}/file (text/csv): 1 added, 1 duplicate updated, line 3 invalid', step_audience_file),
    ('set /dispatch/v2 {id} → processing', step_dispatch),
    ('get /campaigns/{id}/summaries and /reports until executed, 3 READ and 1 FAILED (1002)', step_poll),
    ('get /audiences/{id} (all, ?status=FAILED) and get /messages/{id}', step_audience_and_messages),
    (
        'after dispatch: set /audiences/v2/{id} → failure envelope returned, reason 66; dispatch again → 64',
        step_after_dispatch,
    ),
    ('get /contacts/{identity} (crm): messageParams in extras', step_contacts),
    ('get /contexts/{identity}/stateid@{flowId} → the stateId; contextVariables stored', step_contexts),
    ('server pings are answered by the SDK and keep the session open', step_server_pings),
    ('send_message reaches the simulator and its notifications arrive', step_send_message),
    ('add_message_receiver gets a 0005 reply with its flow metadata; the answer gets Obrigado!', step_inbound_reply),
    ('wrong access key → failed session, reason 13, socket closed, no reconnect', step_wrong_key),
    ('close_async finishes the session', step_close),
]


async def main() -> None:
    ctx = Ctx()
    run_started = time.monotonic()
    print(f'blip-sdk (Python) against ws://{HOST}:{PORT}')
    for name, run in STEPS:
        started = time.monotonic()
        try:
            note = await asyncio.wait_for(run(ctx), STEP_S)
        except asyncio.TimeoutError:
            die(f'FAIL - {name}: no outcome within {STEP_S} s')
        except Failure as e:
            die(f'FAIL - {name}: {e}')
        except Exception:  # noqa: BLE001 - any SDK error fails the step with its traceback
            die(f'FAIL - {name}: {traceback.format_exc()}')
        extra = f'; {note}' if isinstance(note, str) else ''
        print(f'ok - {name} ({int((time.monotonic() - started) * 1000)} ms{extra})')
    print(f'all {len(STEPS)} steps passed in {int((time.monotonic() - run_started) * 1000)} ms')
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without asyncio.run's teardown: the refused client's pending tasks need no cleanup.
    os._exit(0)


if __name__ == '__main__':
    asyncio.run(main())
