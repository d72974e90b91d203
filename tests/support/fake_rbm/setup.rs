//! Gateway configurations for the RBM tests: the development bot's tenant with one
//! `google_rbm` channel pointed at a [`FakeRbm`], its key file written beside.

use std::path::Path;

use super::{FakeRbm, AGENT_ID};

/// The client token of the test configurations.
pub const CLIENT_TOKEN: &str = "SJENCPGJESMGUFPY-test";

/// A configuration whose tenant `mybot` (the development bot's credentials) has one
/// `google_rbm` channel `rcs_main` at `fake` (key file written into `dir`), with `extra`
/// TOML lines added to the channel and `tail` (tables) at the end.
pub fn config_text(fake: &FakeRbm, dir: &Path, extra: &str, tail: &str) -> String {
    format!(
        r#"
[[tenants]]
identifier = "mybot"
access_key = "c2VjcmV0"
api_keys = ["wk_test_123"]
features = ["campaigns"]

[[tenants.channels]]
id = "rcs_main"
type = "google_rcs"
provider = "google_rbm"
default = true
agent_id = "{AGENT_ID}"
service_account_key = "{}"
api_base = "{}"
{extra}
{tail}
"#,
        fake.key_file(dir).display(),
        fake.api_base(),
    )
}

/// [`config_text`] with the client token written in, parsed.
pub fn config(fake: &FakeRbm, dir: &Path, extra: &str) -> irisgate::Config {
    let text = config_text(fake, dir, &format!("client_token = \"{CLIENT_TOKEN}\"\n{extra}"), "");
    irisgate::Config::parse(&text).unwrap_or_else(|(k, m)| panic!("config: {k}: {m}"))
}
