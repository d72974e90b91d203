//! The one routing table: every (node, method, URI) the gateway answers, and its fallbacks.
//!
//! WebSocket sessions and `POST /commands` both call [`route`]. Fallbacks, in order:
//! 42 unknown `to`, 27 unknown method or unparseable uri, 62 unknown uri on a served node,
//! 63 known uri with a method it does not take, 21 `set`/`merge` without a resource,
//! then whatever the handler answers (64 bad argument, 67 not found, …).

use lime_protocol::{Command, Identity, LimeUri, Method, Node};
use serde_json::Value;

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::handlers;
use crate::query::Query;
use crate::reply::Reply;
use crate::state::AppState;
use crate::trace;

/// The nodes of lime.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// `postmaster@{domain}` or no `to`: server commands and contexts.
    Server,
    /// `postmaster@activecampaign.{domain}`: the campaign extension.
    Campaigns,
    /// `postmaster@crm.{domain}`: contacts.
    Crm,
}

/// A handler of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    SetPresence,
    SetReceipt,
    Ping,
    ContextNames,
    ContextValue,
    CampaignFull,
    CampaignDynamic,
    AudienceList,
    AudienceFile,
    Dispatch,
    Summaries,
    Summary,
    Audience,
    Messages,
    Report,
    Campaign,
    Campaigns,
    DeleteCampaign,
    Contact,
    Contacts,
    SetContact,
    MergeContact,
}

use Method::{Delete, Get, Merge, Set};
use Served::{Campaigns, Crm, Server};

/// Top to bottom: node, method, uri pattern (`{name}` matches one segment), handler.
/// The first entry whose node, pattern and method match wins.
static TABLE: &[(Served, Method, &str, Route)] = &[
    (Server, Set, "/presence", Route::SetPresence),
    (Server, Set, "/receipt", Route::SetReceipt),
    (Server, Get, "/ping", Route::Ping),
    (Server, Get, "/contexts/{identity}", Route::ContextNames),
    (Server, Get, "/contexts/{identity}/{name}", Route::ContextValue),
    (Campaigns, Set, "/campaign/full", Route::CampaignFull),
    (Campaigns, Set, "/campaign/v2", Route::CampaignDynamic),
    (Campaigns, Set, "/audiences/v2/{id}", Route::AudienceList),
    (Campaigns, Set, "/audiences/v2/{id}/file", Route::AudienceFile),
    (Campaigns, Set, "/dispatch/v2", Route::Dispatch),
    (Campaigns, Get, "/campaigns/summaries", Route::Summaries),
    (Campaigns, Get, "/campaigns/{id}/summaries", Route::Summary),
    (Campaigns, Get, "/audiences/{id}", Route::Audience),
    (Campaigns, Get, "/messages/{id}", Route::Messages),
    (Campaigns, Get, "/campaigns/{id}/reports", Route::Report),
    (Campaigns, Get, "/campaigns/{id}", Route::Campaign),
    (Campaigns, Get, "/campaigns", Route::Campaigns),
    (Campaigns, Delete, "/campaigns/{id}", Route::DeleteCampaign),
    (Crm, Get, "/contacts/{identity}", Route::Contact),
    (Crm, Get, "/contacts", Route::Contacts),
    (Crm, Set, "/contacts", Route::SetContact),
    (Crm, Merge, "/contacts", Route::MergeContact),
];

/// Answers one request command. `None` for `observe`, which is never answered.
pub async fn route(state: &AppState, caller: &Caller, command: &Command) -> Option<Command> {
    if command.method == Method::Observe {
        return None;
    }
    let started = std::time::Instant::now();
    let incoming = command.metadata.as_ref().and_then(|m| m.get("traceparent")).and_then(Value::as_str);
    let traceparent = trace::traceparent(incoming);
    // Every log line of the command (and of a dispatch it starts) carries its trace id.
    let span = tracing::info_span!("command", trace_id = trace::trace_id(&traceparent), method = %command.method);
    // A repeated `set` (same tenant, same id, within `idempotency.lime_window_ms`) gets the
    // first reply, addressed to whoever asks now.
    let now = state.engine.clock.now();
    let answered =
        state.repeats.once(&caller.tenant.id, command, now, answer(state, caller, command, traceparent, started));
    let mut reply = tracing::Instrument::instrument(answered, span).await?;
    reply.to = Some(caller.node.clone());
    Some(reply)
}

async fn answer(
    state: &AppState,
    caller: &Caller,
    command: &Command,
    traceparent: String,
    started: std::time::Instant,
) -> Option<Command> {
    let served = served_node(state, command.to.as_ref());
    let answering = match served {
        Ok(Served::Campaigns) => &state.nodes.campaigns,
        Ok(Served::Crm) => &state.nodes.crm,
        _ => &state.nodes.server,
    };
    let uri = command.uri.as_deref().map(str::parse::<LimeUri>);
    let node = match served {
        Ok(Served::Server) => "server",
        Ok(Served::Campaigns) => "campaigns",
        Ok(Served::Crm) => "crm",
        Err(_) => "unknown",
    };
    let mut pattern = "unknown";
    let outcome = match served {
        Err(e) => Err(e),
        Ok(served) => dispatch(state, caller, command, served, uri.as_ref(), &mut pattern).await,
    };
    let absolute_uri = match &uri {
        Some(Ok(u)) => Some(u.to_absolute(&caller.tenant.identity)),
        Some(Err(_)) => command.uri.clone(),
        None => None,
    };
    let response = respond(state, caller, command, answering, absolute_uri, outcome, traceparent);
    let reason = response.reason.as_ref().map(|r| r.code);
    let method = method_label(&command.method);
    tracing::debug!(route = pattern, status = if reason.is_none() { "success" } else { "failure" }, "command answered");
    state.engine.metrics.command(caller.transport, node, method, pattern, reason, started.elapsed());
    Some(response)
}

/// A bounded label: an unknown method is `other`, never the text the client sent.
fn method_label(method: &Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Set => "set",
        Method::Merge => "merge",
        Method::Delete => "delete",
        Method::Subscribe => "subscribe",
        Method::Unsubscribe => "unsubscribe",
        Method::Observe => "observe",
        Method::Other(_) => "other",
    }
}

/// Builds the response envelope: `from` = answering node, `to` = caller, metadata with the
/// absolute uri and a traceparent.
fn respond(
    state: &AppState,
    caller: &Caller,
    command: &Command,
    answering: &Identity,
    absolute_uri: Option<String>,
    outcome: Result<Reply>,
    traceparent: String,
) -> Command {
    let mut response = match outcome {
        Ok(reply) => command.success(reply.media_type, reply.resource),
        Err(e) => {
            if e.is_server_fault() {
                tracing::warn!(tenant = %caller.tenant.id, id = ?command.id, uri = ?command.uri, error = %e, "command failed");
            } else {
                tracing::debug!(tenant = %caller.tenant.id, id = ?command.id, uri = ?command.uri, error = %e, "command refused");
            }
            command.failure(e.to_reason())
        }
    };
    response.from = Some(state.nodes.answering(answering));
    response.to = Some(caller.node.clone());
    let mut metadata = serde_json::Map::with_capacity(2);
    if let Some(uri) = absolute_uri {
        metadata.insert("#command.uri".to_owned(), Value::String(uri));
    }
    metadata.insert("traceparent".to_owned(), Value::String(traceparent));
    response.metadata = Some(metadata);
    response
}

/// Which served node `to` names; no `to` is the server itself.
fn served_node(state: &AppState, to: Option<&Node>) -> Result<Served> {
    let Some(to) = to else {
        return Ok(Served::Server);
    };
    let nodes = &state.nodes;
    if to.identity.eq_ignore_case(&nodes.server) {
        Ok(Served::Server)
    } else if to.identity.eq_ignore_case(&nodes.campaigns) {
        Ok(Served::Campaigns)
    } else if to.identity.eq_ignore_case(&nodes.crm) {
        Ok(Served::Crm)
    } else {
        Err(Error::UnknownDestination(format!("The destination {to} is not served by this gateway")))
    }
}

async fn dispatch(
    state: &AppState,
    caller: &Caller,
    command: &Command,
    served: Served,
    uri: Option<&Result<LimeUri, lime_protocol::uri::InvalidUri>>,
    matched: &mut &'static str,
) -> Result<Reply> {
    if let Method::Other(m) = &command.method {
        return Err(Error::InvalidUriOrMethod(format!("Unknown method \"{m}\"")));
    }
    let uri = match uri {
        None => return Err(Error::Validation("The command uri is required".into())),
        Some(Err(e)) => return Err(Error::InvalidUriOrMethod(e.to_string())),
        Some(Ok(u)) => u,
    };
    if let Some(owner) = &uri.authority {
        if !owner.eq_ignore_case(&caller.tenant.identity) {
            return Err(Error::Forbidden(format!("The uri names {owner}, not the authenticated identity")));
        }
    }
    let segments = uri.segments();
    let segments: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let mut uri_known = false;
    let mut found = None;
    for (node, method, pattern, route) in TABLE {
        if *node != served {
            continue;
        }
        if let Some(params) = match_pattern(pattern, &segments) {
            uri_known = true;
            if *method == command.method {
                found = Some((*route, params));
                *matched = pattern;
                break;
            }
        }
    }
    let Some((route, params)) = found else {
        return Err(if uri_known {
            Error::UnsupportedMethod(format!("The method {} is not supported on {}", command.method, uri.path))
        } else {
            Error::UnsupportedResource(format!("The resource {} is not supported", uri.path))
        });
    };
    if matches!(command.method, Method::Set | Method::Merge) && command.resource.is_none() {
        return Err(Error::Validation(format!("A {} command needs a resource", command.method)));
    }
    let empty = Value::Null;
    let resource = command.resource.as_ref().unwrap_or(&empty);
    use handlers::*;
    match route {
        Route::SetPresence => server::set_presence(resource).await,
        Route::SetReceipt => server::set_receipt(resource).await,
        Route::Ping => server::ping().await,
        // Boxed: inline, the largest handler future would set the size of every command's
        // future, which the transports box or spawn (and so allocate and copy) per command.
        _ => Box::pin(handle(state, caller, command, route, uri, &params, resource)).await,
    }
}

/// The handlers that reach the store.
async fn handle(
    state: &AppState,
    caller: &Caller,
    command: &Command,
    route: Route,
    uri: &LimeUri,
    params: &[&str],
    resource: &Value,
) -> Result<Reply> {
    let query = Query::new(uri.query_pairs());
    let p = |i: usize| params.get(i).copied().unwrap_or_default();
    use handlers::*;
    match route {
        Route::SetPresence | Route::SetReceipt | Route::Ping => unreachable!("answered by dispatch"),
        Route::ContextNames => contexts::names(state, caller, p(0)).await,
        Route::ContextValue => contexts::value(state, caller, p(0), p(1)).await,
        Route::CampaignFull => campaign::full(state, caller, resource).await,
        Route::CampaignDynamic => campaign::dynamic(state, caller, resource).await,
        Route::AudienceList => audiences::add_list(state, caller, p(0), resource).await,
        Route::AudienceFile => audiences::add_file(state, caller, p(0), command.media_type.as_deref(), resource).await,
        Route::Dispatch => campaign::dispatch(state, caller, resource).await,
        Route::Summaries => campaigns::summaries(state, caller, &query).await,
        Route::Summary => campaigns::summary(state, caller, p(0)).await,
        Route::Audience => audiences::list(state, caller, p(0), &query).await,
        Route::Messages => campaigns::messages(state, caller, p(0)).await,
        Route::Report => campaigns::report(state, caller, p(0), &query).await,
        Route::Campaign => campaigns::get(state, caller, p(0)).await,
        Route::Campaigns => campaigns::list(state, caller, &query).await,
        Route::DeleteCampaign => campaigns::delete(state, caller, p(0)).await,
        Route::Contact => contacts::get(state, caller, p(0)).await,
        Route::Contacts => contacts::list(state, caller, &query).await,
        Route::SetContact => contacts::set(state, caller, resource).await,
        Route::MergeContact => contacts::merge(state, caller, resource).await,
    }
}

/// Matches decoded segments against a pattern; `{name}` captures one segment.
fn match_pattern<'a>(pattern: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let mut params = Vec::new();
    let mut pattern_segments = pattern.split('/').filter(|s| !s.is_empty());
    for segment in segments {
        let p = pattern_segments.next()?;
        if p.starts_with('{') {
            params.push(*segment);
        } else if !p.eq_ignore_ascii_case(segment) {
            return None;
        }
    }
    pattern_segments.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_paths_only() {
        assert_eq!(match_pattern("/ping", &["ping"]), Some(vec![]));
        assert_eq!(match_pattern("/ping", &["ping", "x"]), None);
        assert_eq!(match_pattern("/campaigns/{id}", &["campaigns"]), None);
        assert_eq!(match_pattern("/campaigns/{id}", &["campaigns", "abc"]), Some(vec!["abc"]));
        assert_eq!(match_pattern("/campaigns/{id}/summaries", &["Campaigns", "abc", "summaries"]), Some(vec!["abc"]));
    }
}
