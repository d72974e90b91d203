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
