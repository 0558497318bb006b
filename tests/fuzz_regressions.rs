//! Every input the fuzzers keep — the seeds in `fuzz/seeds/<target>/` and
//! every crash or hang ever found, copied to `fuzz/regressions/<target>/` —
//! run through the same checks as the fuzz targets (`lovebeat::fuzzing`),
//! in the normal test suite and without a nightly toolchain.

use lovebeat::fuzzing::TARGETS;
use std::path::Path;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let data = std::fs::read(e.path()).expect("readable input");
            (e.path().display().to_string(), data)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_kept_fuzz_input_passes_its_checks() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (target, check) in TARGETS {
        let seeds = inputs(&fuzz.join("seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no inputs");
        for (path, data) in seeds
            .iter()
            .chain(inputs(&fuzz.join("regressions").join(target)).iter())
        {
            let caught = std::panic::catch_unwind(|| check(data));
            assert!(caught.is_ok(), "{target} fails on {path}");
            total += 1;
        }
    }
    assert!(total >= TARGETS.len());
}
