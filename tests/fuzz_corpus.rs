//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same checks the
//! cargo-fuzz targets run, on stable, so that an input that once crashed a parser (and was
//! added to the corpus) keeps being tested in CI without the nightly toolchain.

// checks.rs is written for the fuzz crate, where its functions are the public entry points.
#[allow(unreachable_pub)]
#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, check) in checks::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("no corpus {}: {e}", dir.display()));
        let mut replayed = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
                std::panic::resume_unwind(Box::new(format!("{name}: {} fails: {panic:?}", path.display())));
            }
            replayed += 1;
        }
        assert!(replayed > 0, "the {name} corpus is empty");
    }
}

/// A body check asserts its round trips only for bodies it accepts: the seeds of each body
/// target must include accepted ones, or a change of the rules (or of the checks' workspace)
/// would leave those targets fuzzing nothing but refusals.
#[test]
fn the_body_seeds_reach_the_round_trips() {
    use irisgate::rest::{campaign_input, contacts};
    let seed =
        |path: &str| std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(path)).unwrap();
    for name in ["seed-text", "seed-text-full", "seed-template", "seed-template-implicit", "seed-multibyte"] {
        let input = serde_json::from_slice(&seed(&format!("campaign_body/{name}"))).unwrap();
        let built = campaign_input::compose(checks::rest_draft(), input, checks::NOW, checks::known());
        assert!(built.is_ok(), "campaign_body/{name} is refused: {:?}", built.err());
    }
    for name in ["seed-full", "seed-minimal", "seed-number-text", "seed-date-forms"] {
        let input = serde_json::from_slice(&seed(&format!("contact_body/{name}"))).unwrap();
        let fresh = irisgate::contact::Contact::default();
        let built =
            contacts::compose(fresh, input, checks::normalizer(), checks::tags(), checks::custom_fields(), true);
        assert!(built.is_ok(), "contact_body/{name} is refused: {:?}", built.err());
    }
    let changes = irisgate::webhooks::whatsapp::parse(&seed("whatsapp_webhook/seed-failed"), checks::NOW).unwrap();
    assert_eq!(changes[0].receipts.len(), 1);
    assert_eq!(changes[0].errors, [(131026, "Message undeliverable".to_owned())]);
    let action = irisgate::webhooks::rbm::action(&seed("rbm_webhook/seed-delivered"), checks::NOW);
    assert!(matches!(action, Some(irisgate::webhooks::rbm::Action::Receipt(_))), "{action:?}");
}
