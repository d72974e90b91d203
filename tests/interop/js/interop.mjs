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
// To add a check (e.g. the campaign commands once the extension is served), append a step to
// STEPS: `{ name, run: async (ctx) => { ... } }`; `ctx.client` is the connected session and
// `ctx.command(cmd)` sends a command and returns its response (a failure response is returned
// too, not thrown).

import BlipSdk from 'blip-sdk';
import Lime from 'lime-js';
import WebSocketTransport from 'lime-transport-websocket';

const IDENTIFIER = 'mybot';
const ACCESS_KEY = 'c2VjcmV0'; // base64("secret"): the development tenant of irisgate.example.toml
const WRONG_KEY = Buffer.from('not-the-secret').toString('base64');
const DOMAIN = 'msging.net';
const CAMPAIGN_NODE = `postmaster@activecampaign.${DOMAIN}`;

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
        // A URI the campaign extension will never serve: 62 now and after the extension lands.
        name: `campaign node: unknown uri → sendCommand rejects, reason 62`,
        run: async (ctx) => {
            const r = await ctx.command({ to: CAMPAIGN_NODE, method: 'get', uri: '/interop/not-a-resource' });
            expectFailure(r, 62, `get /interop/not-a-resource to ${CAMPAIGN_NODE}`);
            check(
                typeof r.from === 'string' && r.from.toLowerCase().startsWith(CAMPAIGN_NODE),
                `the failure should come from ${CAMPAIGN_NODE}: ${JSON.stringify(r)}`,
            );
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
    process.stdout.write(`blip-sdk (JavaScript) against ws://${host}:${port}\n`);
    for (const step of STEPS) {
        const started = Date.now();
        try {
            await withTimeout(step.run(ctx), STEP_MS, step.name);
        } catch (e) {
            die(`FAIL - ${step.name}: ${describe(e)}`);
        }
        process.stdout.write(`ok - ${step.name} (${Date.now() - started} ms)\n`);
    }
    process.stdout.write(`all ${STEPS.length} steps passed\n`);
    process.exit(0);
}

main();
