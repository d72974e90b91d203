// Interop check: the official BLiP JavaScript SDK (npm blip-sdk 10 + lime-js 3 +
// lime-transport-websocket 2) against a running Irisgate gateway.
//
//   node interop.mjs HOST:PORT          (or IRISGATE_ADDR=HOST:PORT node interop.mjs)
//
// Environment (all optional):
//   IRISGATE_IDLE_PING_MS     the gateway's limits.idle_ping_ms (default 300): the server-ping
//   IRISGATE_PING_TIMEOUT_MS  step waits for its pings and outlives limits.ping_timeout_ms
//                             (default 1000)
//   INTEROP_TIMEOUT_MS        overall deadline of the whole run (default 30000)
//   INTEROP_TRACE=0           turns off the transport trace of every envelope (on by default,
//                             so that a failure shows the conversation)
//
// Prints one line per step ("ok - <step>") on stdout and exits 0 when every step held; the
// first failure is printed on stderr ("FAIL - <step>: <why>") and the exit code is 1. The run
// can never hang: each step has a deadline and the whole run has another.
//
// To add a check, append a step to STEPS: `{ name, run: async (ctx) => { ... } }`; `ctx.client`
// is the connected session and `ctx.command(cmd)` sends a command and returns its response (a
// failure response is returned too, not thrown). A step may return a short note (timings,
// counts) that is printed after its "ok" line.
//
// The campaign steps run the seed's dynamic flow (activecampaign.md, commands 2–10) against the
// development tenant's simulator channel (delivered after 50 ms, read after 200 ms): numbers
// ending in 0001 are refused by the simulator with reason 1002, every other number is read.

import BlipSdk from 'blip-sdk';
import Lime from 'lime-js';
import WebSocketTransport from 'lime-transport-websocket';

const IDENTIFIER = 'mybot';
const ACCESS_KEY = 'c2VjcmV0'; // base64("secret"): the development tenant of irisgate.example.toml
const WRONG_KEY = Buffer.from('not-the-secret').toString('base64');
const DOMAIN = 'msging.net';
const CAMPAIGN_NODE = `postmaster@activecampaign.${DOMAIN}`;
const CRM_NODE = `postmaster@crm.${DOMAIN}`;
const SERVER_NODE = `postmaster@${DOMAIN}`;
const WHATSAPP_DOMAIN = 'wa.gw.msging.net';
const TEMPLATE = 'email_commerce_resposta'; // "Olá {{1}}, …" (pt_BR) in irisgate.example.toml
const TYPES = {
    dynamic: 'application/vnd.iris.activecampaign.campaign-dynamic+json',
    campaign: 'application/vnd.iris.activecampaign.campaign+json',
    audience: 'application/vnd.iris.activecampaign.audience+json',
    audienceResult: 'application/vnd.iris.activecampaign.audience-result+json',
    summary: 'application/vnd.iris.activecampaign.campaign-summary+json',
    message: 'application/vnd.iris.activecampaign.message+json',
    report: 'application/vnd.iris.activecampaign.report+json',
    collection: 'application/vnd.lime.collection+json',
    contact: 'application/vnd.lime.contact+json',
    csv: 'text/csv',
    text: 'text/plain',
    json: 'application/json',
};
/// Polling the summary until every recipient reached its final state: interval and deadline.
const POLL_MS = 100;
const DELIVERY_DEADLINE_MS = 8000;

const addr = process.argv[2] || process.env.IRISGATE_ADDR;
const idlePingMs = Number(process.env.IRISGATE_IDLE_PING_MS || 300);
const pingTimeoutMs = Number(process.env.IRISGATE_PING_TIMEOUT_MS || 1000);
const overallMs = Number(process.env.INTEROP_TIMEOUT_MS || 30000);
const trace = process.env.INTEROP_TRACE !== '0';
const STEP_MS = Math.max(10000, 3 * (idlePingMs + pingTimeoutMs));

function die(message) {
    process.stderr.write(`${message}\n`);
    process.exit(1);
}

if (!addr || !/^[^:]+:\d+$/.test(addr)) {
    die('usage: node interop.mjs HOST:PORT (or set IRISGATE_ADDR)');
}
const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];

// Nothing may hang: the whole run has a deadline (ref'd, so it also keeps the loop alive).
setTimeout(() => die(`FAIL - overall timeout: the run did not finish within ${overallMs} ms`), overallMs);
process.on('unhandledRejection', (e) => die(`FAIL - unhandled rejection: ${describe(e)}`));
process.on('uncaughtException', (e) => die(`FAIL - uncaught exception: ${describe(e)}`));

function describe(e) {
    if (e instanceof Error) return e.stack || e.message;
    try {
        return JSON.stringify(e);
    } catch {
        return String(e);
    }
}

function check(condition, message) {
    if (!condition) throw new Error(message);
}

function withTimeout(promise, ms, what) {
    let timer;
    return Promise.race([
        Promise.resolve(promise).finally(() => clearTimeout(timer)),
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
        }),
    ]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// A transport that also records what it sent, so that the ping step can see the SDK's reply.
function transportFactory(sent) {
    return () => {
        const transport = new WebSocketTransport(null, trace);
        const send = transport.send.bind(transport);
        transport.send = (envelope) => {
            sent.push(envelope);
            send(envelope);
        };
        return transport;
    };
}

function buildClient(accessKey, sent) {
    // ClientBuilder.build() makes the URI `${scheme}://${hostName}:${port}` (no path) and the
    // node `${identifier}@${domain}/${instance}`; domain defaults to msging.net, instance to
    // "default". The transport is not built in: withTransportFactory is required.
    return new BlipSdk.ClientBuilder()
        .withIdentifier(IDENTIFIER)
        .withAccessKey(accessKey)
        .withDomain(DOMAIN)
        .withHostName(host)
        .withPort(port)
        .withScheme('ws')
        .withCommandTimeout(5000)
        .withTransportFactory(transportFactory(sent))
        .build();
}

/// Sends a command with client.sendCommand and returns the response. sendCommand resolves with a
/// `success` response and REJECTS with a ClientError whose message is the JSON of the `failure`
/// response (or of the request plus `timeout: true` when nothing came back in time).
async function command(client, cmd) {
    cmd = { id: Lime.Guid(), ...cmd };
    try {
        return await client.sendCommand(cmd);
    } catch (e) {
        let response;
        try {
            response = JSON.parse(e.message);
        } catch {
            throw e;
        }
        if (response.timeout) throw new Error(`no response in time to ${JSON.stringify(cmd)}`);
        return response;
    }
}

function expectFailure(response, code, what) {
    check(response.status === 'failure', `${what}: expected a failure, got ${JSON.stringify(response)}`);
    check(
        response.reason && response.reason.code === code,
        `${what}: expected reason code ${code}, got ${JSON.stringify(response)}`,
    );
}

/// A `success` response of `type` from `from`: returns its resource.
function expectSuccess(response, type, what, from = CAMPAIGN_NODE) {
    check(response.status === 'success', `${what}: expected success, got ${JSON.stringify(response)}`);
    check(response.type === type, `${what}: expected type ${type}, got ${JSON.stringify(response)}`);
    check(
        typeof response.from === 'string' && response.from.toLowerCase().startsWith(from),
        `${what}: the response should come from ${from}: ${JSON.stringify(response)}`,
    );
    return response.resource;
}

/// A collection of `itemType` with `total` items: returns its items.
function expectCollection(response, itemType, total, what, from = CAMPAIGN_NODE) {
    const c = expectSuccess(response, TYPES.collection, what, from);
    check(c && c.itemType === itemType, `${what}: expected itemType ${itemType}, got ${JSON.stringify(c)}`);
    check(c.total === total, `${what}: expected total ${total}, got ${JSON.stringify(c)}`);
    check(Array.isArray(c.items), `${what}: no items in ${JSON.stringify(c)}`);
    return c.items;
}

/// JSON with object keys sorted, so that key order does not matter.
function canonical(value) {
    return JSON.stringify(value, (_, v) =>
        v && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
            : v,
    );
}

function expectEqual(actual, expected, what) {
    const [a, e] = [canonical(actual), canonical(expected)];
    check(a === e, `${what}: expected ${e}, got ${a}`);
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function expectTime(value, what) {
    check(typeof value === 'string' && ISO_MS.test(value), `${what}: expected an ISO-8601 time, got ${value}`);
    return Date.parse(value);
}

const identityOf = (phone) => `${phone.replace(/^\+/, '')}@${WHATSAPP_DOMAIN}`;

/// The dynamic campaign of the seed: 3 recipients by list, then a CSV with one new number, one
/// duplicate (its parameters replace the list's) and one bad line. One recipient ends in 0001:
/// the simulator refuses it (1002), deliberately, so that a FAILED state is checked too.
function campaignPlan() {
    const run = Lime.Guid().slice(0, 8);
    const list = [
        {
            recipient: '+5531998761234',
            messageParams: { 1: `Ana ${run}` },
            contextVariables: { cpf: '12345678901', vip: true, order: { id: 42, items: ['livro'] } },
        },
        { recipient: '+5531998765678', messageParams: { 1: `Bia ${run}` }, contextVariables: { cpf: '10987654321' } },
        { recipient: '+5531998760001', messageParams: { 1: `Caio ${run}` } },
    ];
    // Line 1 is the header; line 3 is bad; line 4 repeats the list's second number.
    const csv = [
        'telefone,1,#contextvariables#',
        `+5531998769876,Duda ${run},"{""cpf"":""55566677788"",""score"":7}"`,
        `abc,Erro ${run},`,
        `+5531998765678,Bia ${run} (CSV),"{""origin"":""csv""}"`,
        '',
    ].join('\n');
    // Final state of every recipient, in insertion order.
    const expected = [
        { phone: '+5531998761234', params: { 1: `Ana ${run}` }, status: 'READ' },
        { phone: '+5531998765678', params: { 1: `Bia ${run} (CSV)` }, status: 'READ' },
        { phone: '+5531998760001', params: { 1: `Caio ${run}` }, status: 'FAILED', reasonCode: 1002 },
        { phone: '+5531998769876', params: { 1: `Duda ${run}` }, status: 'READ' },
    ];
    return {
        name: `interop js ${run}`,
        flowId: Lime.Guid(),
        stateId: `onboarding-${run}`,
        masterState: 'masterstate@msging.net',
        list,
        csv,
        expected,
    };
}

/// Checks one statusAudience entry (summaries, reports) against its expected final state.
function checkStatusItem(item, want, what) {
    check(item, `${what}: no entry for ${identityOf(want.phone)}`);
    check(item.status === want.status, `${what}: expected ${want.status}, got ${JSON.stringify(item)}`);
    check(item.numberStatus === 'VALID', `${what}: numberStatus of ${JSON.stringify(item)}`);
    if (want.status === 'READ') {
        const processed = expectTime(item.processed, `${what}.processed`);
        const received = expectTime(item.received, `${what}.received`);
        const read = expectTime(item.read, `${what}.read`);
        check(processed <= received && received <= read, `${what}: timestamps out of order ${JSON.stringify(item)}`);
        check(item.reasonCode === undefined && item.failed === undefined, `${what}: ${JSON.stringify(item)}`);
    } else {
        expectTime(item.failed, `${what}.failed`);
        check(
            item.reasonCode === want.reasonCode,
            `${what}: expected reason ${want.reasonCode}: ${JSON.stringify(item)}`,
        );
        check(
            typeof item.reasonDescription === 'string' && item.reasonDescription.length > 0,
            `${what}: no reasonDescription in ${JSON.stringify(item)}`,
        );
    }
}

/// Whether every recipient of a summary/report reached its expected final state.
function delivered(view, expected) {
    if (view.status !== 'executed' || !Array.isArray(view.statusAudience)) return false;
    return expected.every((want) => {
        const item = view.statusAudience.find((i) => i.recipientIdentity === identityOf(want.phone));
        return item && item.status === want.status;
    });
}

const STEPS = [
    {
        // connect() opens the socket, runs new → authenticating → established, then sends
        // set /presence and set /receipt and rejects unless both are answered `success`.
        name: 'connect (handshake, presence, receipt)',
        run: async (ctx) => {
            ctx.sent = [];
            ctx.serverPings = [];
            ctx.closes = 0;
            ctx.client = buildClient(ACCESS_KEY, ctx.sent);
            ctx.client.onListeningChanged = (listening) => {
                if (!listening) ctx.closes += 1;
            };
            ctx.client.addCommandReceiver(
                (c) => c.method === 'get' && c.uri === '/ping' && !c.status,
                (c) => ctx.serverPings.push({ ping: c, at: Date.now() }),
            );
            ctx.command = (cmd) => command(ctx.client, cmd);
            const session = await ctx.client.connect();
            ctx.establishedAt = Date.now();
            check(session && session.state === 'established', `connect() resolved with ${describe(session)}`);
            check(
                typeof session.to === 'string' && session.to.toLowerCase().startsWith(`${IDENTIFIER}@${DOMAIN}`),
                `established.to is ${session.to}`,
            );
            check(ctx.client.listening === true, 'client is not listening after connect()');
            ctx.sessionId = ctx.client._clientChannel.sessionId;
            const uris = ctx.sent.filter((e) => e.method === 'set').map((e) => e.uri);
            check(
                uris.includes('/presence') && uris.includes('/receipt'),
                `the SDK did not send set /presence and set /receipt: ${uris}`,
            );
        },
    },
    {
        name: 'get /ping (sendCommand, no to)',
        run: async (ctx) => {
            const r = await ctx.command({ method: 'get', uri: '/ping' });
            check(r.status === 'success', `get /ping: ${JSON.stringify(r)}`);
            check(r.type === 'application/vnd.lime.ping+json', `get /ping type: ${JSON.stringify(r)}`);
            check(r.resource && typeof r.resource === 'object', `get /ping resource: ${JSON.stringify(r)}`);
        },
    },
    {
        name: 'get /ping to postmaster@msging.net',
        run: async (ctx) => {
            const r = await ctx.command({ to: `postmaster@${DOMAIN}`, method: 'get', uri: '/ping' });
            check(r.status === 'success', `get /ping: ${JSON.stringify(r)}`);
        },
    },
    {
        // The extension is served now: a URI outside its table is still 62 (and a near miss of
        // a served URI too), while a served URI on the same node answers.
        name: 'campaign node: unknown uris → reason 62, a served uri answers',
        run: async (ctx) => {
            for (const uri of ['/interop/not-a-resource', '/campaigns/summaries/extra']) {
                const r = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri });
                expectFailure(r, 62, `get ${uri} to ${CAMPAIGN_NODE}`);
                check(
                    typeof r.from === 'string' && r.from.toLowerCase().startsWith(CAMPAIGN_NODE),
                    `the failure should come from ${CAMPAIGN_NODE}: ${JSON.stringify(r)}`,
                );
            }
            const r = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri: '/campaigns/summaries' });
            expectSuccess(r, TYPES.collection, 'get /campaigns/summaries');
        },
    },
    {
        name: 'unknown node → reason 42',
        run: async (ctx) => {
            const r = await ctx.command({ to: `postmaster@nowhere.${DOMAIN}`, method: 'get', uri: '/ping' });
            expectFailure(r, 42, 'get /ping to an unknown node');
        },
    },
    {
        name: 'set /campaign/v2 (dynamic, WhatsApp template) → new',
        run: async (ctx) => {
            const plan = campaignPlan();
            ctx.campaign = plan;
            const r = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: '/campaign/v2',
                type: TYPES.dynamic,
                resource: {
                    campaign: {
                        name: plan.name,
                        campaignType: 'Batch',
                        flowId: plan.flowId,
                        stateId: plan.stateId,
                        masterstate: plan.masterState, // spelled as in the seed
                        channelType: 'WhatsApp',
                        sourceApplication: 'interop-js',
                        tags: ['interop', 'js'],
                    },
                    message: { messageTemplate: TEMPLATE, messageParams: ['1'], channelType: 'WhatsApp' },
                },
            });
            const c = expectSuccess(r, TYPES.campaign, 'set /campaign/v2');
            check(typeof c.id === 'string' && UUID.test(c.id), `campaign id: ${JSON.stringify(c)}`);
            plan.id = c.id;
            expectEqual(
                [c.name, c.campaignType, c.channelType, c.status],
                [plan.name, 'BATCH', 'WHATSAPP', 'new'],
                'name, campaignType, channelType, status',
            );
            expectEqual(
                [c.flowId, c.stateId, c.masterState, c.sourceApplication, c.tags],
                [plan.flowId, plan.stateId, plan.masterState, 'interop-js', ['interop', 'js']],
                'flowId, stateId, masterState, sourceApplication, tags',
            );
            expectTime(c.created, 'created');
            check(c.sendDate === undefined, `a new campaign has no sendDate: ${JSON.stringify(c)}`);
        },
    },
    {
        name: 'set /audiences/v2/{id}: a collection of 3 recipients',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const r = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: `/audiences/v2/${plan.id}`,
                type: TYPES.collection,
                resource: { itemType: TYPES.audience, items: plan.list },
            });
            const result = expectSuccess(r, TYPES.audienceResult, 'set /audiences/v2/{id}');
            expectEqual(
                result,
                { campaignId: plan.id, received: 3, added: 3, updated: 0, invalid: [], total: 3 },
                'audience result',
            );
        },
    },
    {
        name: 'set /audiences/v2/{id}/file (text/csv): 1 added, 1 duplicate updated, line 3 invalid',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const r = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: `/audiences/v2/${plan.id}/file`,
                type: TYPES.csv,
                resource: plan.csv,
            });
            const result = expectSuccess(r, TYPES.audienceResult, 'set /audiences/v2/{id}/file');
            const { invalid, ...counts } = result;
            expectEqual(counts, { campaignId: plan.id, received: 3, added: 1, updated: 1, total: 4 }, 'CSV counts');
            check(Array.isArray(invalid) && invalid.length === 1, `CSV invalid: ${JSON.stringify(result)}`);
            expectEqual([invalid[0].line, invalid[0].recipient], [3, 'abc'], 'the bad line and its recipient');
            check(typeof invalid[0].reason === 'string' && invalid[0].reason, `no reason: ${JSON.stringify(invalid)}`);
        },
    },
    {
        name: 'set /dispatch/v2 {id} → processing',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const r = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: '/dispatch/v2',
                type: TYPES.campaign,
                resource: { id: plan.id },
            });
            plan.dispatchedAt = Date.now();
            const c = expectSuccess(r, TYPES.campaign, 'set /dispatch/v2');
            expectEqual([c.id, c.status], [plan.id, 'processing'], 'id, status');
            plan.sendDate = c.sendDate;
            expectTime(c.sendDate, 'sendDate');
        },
    },
    {
        name: 'get /campaigns/{id}/summaries and /reports until executed, 3 READ and 1 FAILED (1002)',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const started = Date.now();
            let polls = 0;
            let summary;
            let report;
            for (;;) {
                polls += 1;
                const s = await ctx.command({
                    to: CAMPAIGN_NODE,
                    method: 'get',
                    uri: `/campaigns/${plan.id}/summaries`,
                });
                const items = expectCollection(s, TYPES.summary, 1, 'get /campaigns/{id}/summaries');
                summary = items[0];
                const r = await ctx.command({
                    to: CAMPAIGN_NODE,
                    method: 'get',
                    uri: `/campaigns/${plan.id}/reports`,
                });
                report = expectSuccess(r, TYPES.report, 'get /campaigns/{id}/reports');
                if (delivered(summary, plan.expected) && delivered(report, plan.expected)) break;
                check(
                    Date.now() - started < DELIVERY_DEADLINE_MS,
                    `not delivered within ${DELIVERY_DEADLINE_MS} ms; last summary ${JSON.stringify(summary)}`,
                );
                await sleep(POLL_MS);
            }
            const since = Date.now() - plan.dispatchedAt;
            const counts = { total: 4, pending: 0, processed: 0, received: 0, read: 3, failed: 1, replied: 0 };
            for (const [what, view] of [
                ['summary', summary],
                ['report', report],
            ]) {
                expectEqual(
                    [view.id, view.name, view.messageTemplate, view.status],
                    [plan.id, plan.name, TEMPLATE, 'executed'],
                    `${what}: id, name, messageTemplate, status`,
                );
                expectEqual(
                    [view.flowId, view.stateId, view.masterState, view.sendDate],
                    [plan.flowId, plan.stateId, plan.masterState, plan.sendDate],
                    `${what}: flowId, stateId, masterState, sendDate`,
                );
                expectEqual(view.audienceCounts, counts, `${what}: audienceCounts`);
                check(view.statusAudience.length === 4, `${what}: statusAudience ${JSON.stringify(view)}`);
                for (const want of plan.expected) {
                    const item = view.statusAudience.find((i) => i.recipientIdentity === identityOf(want.phone));
                    checkStatusItem(item, want, `${what} of ${want.phone}`);
                }
            }
            expectEqual(summary.channelType, 'WHATSAPP', 'summary.channelType');
            check(
                typeof report.campaignSender === 'string' &&
                    report.campaignSender.startsWith(`${IDENTIFIER}@${DOMAIN}`),
                `report.campaignSender: ${JSON.stringify(report)}`,
            );
            return `${polls} polls; executed and read ${since} ms after dispatch`;
        },
    },
    {
        name: 'get /audiences/{id} (all, ?status=FAILED) and get /messages/{id}',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const r = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri: `/audiences/${plan.id}` });
            const items = expectCollection(r, TYPES.audience, 4, 'get /audiences/{id}');
            expectEqual(
                items.map((i) => i.recipient),
                plan.expected.map((w) => w.phone),
                'recipients in insertion order',
            );
            plan.expected.forEach((want, n) => {
                const item = items[n];
                const what = `audience item ${want.phone}`;
                expectEqual(
                    [item.campaignId, item.recipientIdentity, item.recipientType, item.channelType],
                    [plan.id, identityOf(want.phone), 'PhoneNumber', 'WHATSAPP'],
                    `${what}: campaignId, recipientIdentity, recipientType, channelType`,
                );
                expectEqual([item.validatedAccount, item.messageParams], [want.phone, want.params], what);
                checkStatusItem(item, want, what);
            });
            const failed = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'get',
                uri: `/audiences/${plan.id}?status=FAILED&$take=10`,
            });
            const only = expectCollection(failed, TYPES.audience, 1, 'get /audiences/{id}?status=FAILED');
            expectEqual(only.map((i) => i.recipient), ['+5531998760001'], 'the FAILED recipients');

            const m = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri: `/messages/${plan.id}` });
            const messages = expectCollection(m, TYPES.message, 1, 'get /messages/{id}');
            expectEqual(
                messages[0],
                {
                    channelType: 'WHATSAPP',
                    messageTemplate: TEMPLATE,
                    messageTemplateLanguage: 'pt_BR',
                    messageParams: ['1'],
                },
                'the campaign message',
            );
        },
    },
    {
        // blip-sdk's Client.sendCommand rejects a `failure` response with a ClientError whose
        // message is the JSON of the whole response envelope.
        name: 'after dispatch: set /audiences/v2/{id} → sendCommand rejects, reason 66; dispatch again → 64',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const cmd = {
                id: Lime.Guid(),
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: `/audiences/v2/${plan.id}`,
                type: TYPES.collection,
                resource: {
                    itemType: TYPES.audience,
                    items: [{ recipient: '+5531998764321', messageParams: { 1: 'Eva' } }],
                },
            };
            let outcome;
            try {
                outcome = { resolved: await ctx.client.sendCommand(cmd) };
            } catch (e) {
                outcome = { rejected: e };
            }
            check(!('resolved' in outcome), `sendCommand resolved: ${JSON.stringify(outcome.resolved)}`);
            const e = outcome.rejected;
            check(e instanceof Error, `sendCommand should reject with an Error (ClientError), got ${describe(e)}`);
            let failure;
            try {
                failure = JSON.parse(e.message);
            } catch {
                throw new Error(`the ClientError message is not JSON: ${e.message}`);
            }
            check(failure.id === cmd.id && failure.method === 'set', `not the response to ${cmd.id}: ${e.message}`);
            expectFailure(failure, 66, 'set /audiences/v2/{id} after dispatch');
            check(
                /already dispatched/i.test(failure.reason.description || ''),
                `reason description: ${JSON.stringify(failure.reason)}`,
            );
            const again = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: '/dispatch/v2',
                type: TYPES.campaign,
                resource: { id: plan.id },
            });
            expectFailure(again, 64, 'set /dispatch/v2 of an executed campaign');
            const r = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri: `/audiences/${plan.id}` });
            expectCollection(r, TYPES.audience, 4, 'the audience after the refused add');
            return `ClientError name ${JSON.stringify(e.name)}, message = the failure envelope's JSON`;
        },
    },
    {
        name: 'get /contacts/{identity} (crm): messageParams in extras',
        run: async (ctx) => {
            const plan = ctx.campaign;
            for (const want of plan.expected.filter((w) => w.status === 'READ')) {
                const identity = identityOf(want.phone);
                const r = await ctx.command({ to: CRM_NODE, method: 'get', uri: `/contacts/${identity}` });
                const contact = expectSuccess(r, TYPES.contact, `get /contacts/${identity}`, CRM_NODE);
                expectEqual(contact.identity, identity, 'contact identity');
                expectEqual(contact.phoneNumber, want.phone, 'contact phoneNumber');
                expectEqual(contact.extras && contact.extras['1'], want.params['1'], `extras of ${identity}`);
            }
        },
    },
    {
        name: 'get /contexts/{identity}/stateid@{flowId} → the stateId; contextVariables stored',
        run: async (ctx) => {
            const plan = ctx.campaign;
            const get = (identity, name) =>
                ctx.command({
                    to: SERVER_NODE,
                    method: 'get',
                    uri: name ? `/contexts/${identity}/${name}` : `/contexts/${identity}`,
                });
            const ana = identityOf('+5531998761234');
            const names = expectSuccess(await get(ana), TYPES.collection, `get /contexts/${ana}`, SERVER_NODE);
            check(names.itemType === TYPES.text, `context names: ${JSON.stringify(names)}`);
            for (const name of [`stateid@${plan.flowId}`, 'master-state', 'cpf', 'vip', 'order']) {
                check(names.items.includes(name), `context of ${ana} lacks ${name}: ${JSON.stringify(names)}`);
            }
            const values = [
                [ana, `stateid@${plan.flowId}`, TYPES.text, plan.stateId],
                [ana, 'master-state', TYPES.text, plan.masterState],
                [ana, 'cpf', TYPES.text, '12345678901'],
                [ana, 'vip', TYPES.json, true],
                [ana, 'order', TYPES.json, { id: 42, items: ['livro'] }],
                [identityOf('+5531998769876'), 'score', TYPES.json, 7],
                [identityOf('+5531998769876'), `stateid@${plan.flowId}`, TYPES.text, plan.stateId],
                [identityOf('+5531998765678'), 'origin', TYPES.text, 'csv'],
            ];
            for (const [identity, name, type, value] of values) {
                const r = await get(identity, name);
                const got = expectSuccess(r, type, `get /contexts/${identity}/${name}`, SERVER_NODE);
                expectEqual(got, value, `context ${name} of ${identity}`);
            }
        },
    },
    {
        // lime-js Channel (transport.onEnvelope) answers `get /ping` addressed to it (autoReplyPings,
        // which blip-sdk's Client turns on) with {id, to, method: get, status: success,
        // type: application/vnd.lime.ping+json, resource: {}}. The gateway closes a pinged
        // session that stays silent for ping_timeout_ms: outliving several pings and that
        // timeout on the same session proves the replies are accepted.
        name: 'server pings are answered by the SDK and keep the session open',
        run: async (ctx) => {
            const mustLast = idlePingMs + pingTimeoutMs + 200;
            while (ctx.serverPings.length < 3 || Date.now() - ctx.establishedAt < mustLast) {
                check(ctx.closes === 0, 'the session was closed while waiting for server pings');
                await sleep(50);
            }
            for (const { ping } of ctx.serverPings) {
                const reply = ctx.sent.find((e) => e.id === ping.id && e.status);
                check(reply, `the SDK did not answer the server ping ${JSON.stringify(ping)}`);
                check(
                    reply.status === 'success' && reply.method === 'get',
                    `unexpected ping reply ${JSON.stringify(reply)}`,
                );
            }
            check(ctx.closes === 0 && ctx.client.listening, 'the session was closed');
            check(
                ctx.client._clientChannel.sessionId === ctx.sessionId,
                'the SDK reconnected: the session id changed',
            );
            const r = await ctx.command({ method: 'get', uri: '/ping' });
            check(r.status === 'success', `get /ping after the server pings: ${JSON.stringify(r)}`);
        },
    },
    {
        // connect() rejects with the `failed` session envelope (not an Error). The SDK then
        // schedules a reconnect from the transport's onClose (100·2ⁿ ms backoff) unless close()
        // is called, which sets _closing.
        name: 'wrong access key → connect() rejects with a failed session, reason 13',
        run: async () => {
            const client = buildClient(WRONG_KEY, []);
            // The Client also rejects its sessionPromise; nobody else listens to it.
            client.sessionPromise.catch(() => {});
            let outcome;
            try {
                const session = await withTimeout(client.connect(), STEP_MS - 1000, 'connect() with a wrong key');
                outcome = { resolved: session };
            } catch (e) {
                outcome = { rejected: e };
            } finally {
                client.close();
            }
            check(!('resolved' in outcome), `connect() with a wrong key resolved: ${describe(outcome.resolved)}`);
            const failed = outcome.rejected;
            check(
                failed && failed.state === 'failed',
                `connect() should reject with the failed session, got ${describe(failed)}`,
            );
            check(failed.reason && failed.reason.code === 13, `expected reason 13, got ${describe(failed)}`);
            check(client.listening === false, 'the refused client is listening');
        },
    },
    {
        // conversations.md, Outbound: client.sendMessage to a person inside the 24 h window (a
        // contact whose last message was just now, written over REST) reaches the simulator,
        // and the SDK's notification receivers get accepted → dispatched → received → consumed.
        name: 'sendMessage reaches the simulator and its notifications arrive',
        run: async (ctx) => {
            const phone = '5531998769942';
            const created = await fetch(`http://${host}:${port}/api/v1/contacts`, {
                method: 'POST',
                headers: { 'x-api-key': 'wk_test_123', 'content-type': 'application/json' },
                body: JSON.stringify({ phone: `+${phone}`, last_interaction_at: new Date().toISOString() }),
            });
            check(created.status === 201, `contact not created: ${created.status}`);
            const id = Lime.Guid();
            const to = `${phone}@wa.gw.msging.net`;
            const seen = [];
            const done = new Promise((resolve) => {
                ctx.client.addNotificationReceiver(
                    (n) => n.id === id,
                    (n) => {
                        seen.push(n);
                        if (n.event === 'consumed' || n.event === 'failed') resolve();
                    },
                );
            });
            ctx.client.sendMessage({ id, to, type: 'text/plain', content: 'Olá pelo SDK' });
            await done;
            const events = seen.map((n) => n.event);
            check(
                JSON.stringify(events) === JSON.stringify(['accepted', 'dispatched', 'received', 'consumed']),
                `notifications: ${JSON.stringify(seen)}`,
            );
            check(seen.every((n) => n.from === to && n.metadata['#message.to'] === to), `from / #message.to: ${JSON.stringify(seen)}`);
        },
    },
    {
        // conversations.md, Inbound: a campaign to the simulator's 0005 person, whose reply
        // reaches addMessageReceiver with the campaign's flow metadata (the SDK acknowledges it
        // with `received` on its own); the bot's answer gets the person's `Obrigado!`.
        name: 'addMessageReceiver gets a 0005 reply with its flow metadata; the answer gets Obrigado!',
        run: async (ctx) => {
            const phone = '5531998760005';
            const from = `${phone}@${WHATSAPP_DOMAIN}`;
            let gotReply;
            let gotThanks;
            const reply = new Promise((resolve) => (gotReply = resolve));
            const thanks = new Promise((resolve) => (gotThanks = resolve));
            ctx.client.addMessageReceiver(
                (m) => m.from === from,
                (m) => {
                    if (m.content === 'Quero saber mais') gotReply(m);
                    if (m.content === 'Obrigado!') gotThanks(m);
                },
            );
            const created = await ctx.command({
                to: CAMPAIGN_NODE,
                method: 'set',
                uri: '/campaign/full',
                type: 'application/vnd.iris.activecampaign.full-campaign+json',
                resource: {
                    campaign: { name: 'sdk reply', campaignType: 'Batch', flowId: 'flow-sdk', stateId: 'state-sdk' },
                    audiences: [{ recipient: `+${phone}`, messageParams: { 1: 'Maria' } }],
                    message: { messageTemplate: TEMPLATE, messageParams: ['1'] },
                },
            });
            check(created.status === 'success', `set /campaign/full: ${describe(created)}`);
            const m = await reply;
            const meta = m.metadata || {};
            check(
                meta['#activecampaign.flowId'] === 'flow-sdk' &&
                    meta['#activecampaign.stateId'] === 'state-sdk' &&
                    meta['#activecampaign.campaignId'] === created.resource.id,
                `flow metadata: ${describe(m)}`,
            );
            check(typeof m.id === 'string' && m.type === 'text/plain', `the message: ${describe(m)}`);
            await sleep(100);
            check(
                ctx.sent.some((e) => e.event === 'received' && e.id === m.id),
                'the SDK did not acknowledge the message with `received`',
            );
            ctx.client.sendMessage({ id: Lime.Guid(), to: from, type: 'text/plain', content: 'Claro!' });
            await thanks;
        },
    },
    {
        // close() sends `finishing` and resolves with the `finished` envelope once the socket has
        // closed (ClientChannel.sendFinishingSession / onSession FINISHED).
        name: 'close() finishes the session',
        run: async (ctx) => {
            const finished = await ctx.client.close();
            check(finished && finished.state === 'finished', `close() resolved with ${describe(finished)}`);
            check(ctx.client.listening === false, 'still listening after close()');
            const closes = ctx.closes;
            await sleep(300); // longer than the SDK's first reconnect backoff (200 ms)
            check(ctx.closes === closes && !ctx.client.listening, 'the SDK reconnected after close()');
            check(
                !ctx.sent.some((e) => e.state === 'new' && ctx.sent.indexOf(e) > 0),
                'the SDK opened a new session after close()',
            );
        },
    },
];

async function main() {
    const ctx = {};
    const runStarted = Date.now();
    process.stdout.write(`blip-sdk (JavaScript) against ws://${host}:${port}\n`);
    for (const step of STEPS) {
        const started = Date.now();
        let note;
        try {
            note = await withTimeout(step.run(ctx), STEP_MS, step.name);
        } catch (e) {
            die(`FAIL - ${step.name}: ${describe(e)}`);
        }
        const extra = typeof note === 'string' ? `; ${note}` : '';
        process.stdout.write(`ok - ${step.name} (${Date.now() - started} ms${extra})\n`);
    }
    process.stdout.write(`all ${STEPS.length} steps passed in ${Date.now() - runStarted} ms\n`);
    process.exit(0);
}

main();
