//! Phone normalisation throughput: 1,000,000 generated recipients in the formats campaign
//! audiences use, normalised single-threaded (and on N threads), in numbers per second.
//!
//! `cargo run --release --example phone_bench [COUNT] [THREADS]`
//!
//! Prints the figure with the Brazilian fast path (what the gateway runs) and without it
//! (libphonenumber's parser for every candidate), so a regression in either shows.

use std::hint::black_box;
use std::time::Instant;

use irisgate::phone::PhoneNormalizer;

/// Recipients as campaign audiences hold them: mostly Brazilian MSISDNs, some national or
/// punctuated, some 8-digit mobiles (9th digit), landlines, foreign and invalid numbers.
fn generate(count: usize, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let areas = [11, 21, 31, 34, 41, 47, 51, 55, 61, 62, 71, 81, 85, 91, 98];
    (0..count)
        .map(|_| {
            let area = areas[rng.usize(..areas.len())];
            let high = rng.u32(0..10_000);
            let low = rng.u32(0..10_000);
            match rng.u8(0..100) {
                // 45%: MSISDN, as BLiP users send it.
                0..=44 => format!("55{area}9{high:04}{low:04}"),
                // 15%: international, punctuated.
                45..=59 => format!("+55 {area} 9{high:04}-{low:04}"),
                // 10%: national, punctuated.
                60..=69 => format!("({area}) 9{high:04}-{low:04}"),
                // 8%: national digits.
                70..=77 => format!("{area}9{high:04}{low:04}"),
                // 6%: 8-digit mobiles (get the 9th digit).
                78..=83 => format!("{area}{}{:03}{low:04}", rng.u8(6..10), high % 1000),
                // 5%: landlines with country code.
                84..=88 => format!("55{area}{}{:03}{low:04}", rng.u8(2..6), high % 1000),
                // 2%: trunk prefix.
                89..=90 => format!("0{area} 9{high:04} {low:04}"),
                // 4%: foreign, international.
                91..=92 => format!("+49 151 {high:04}{low:04}"),
                93..=94 => format!("+1 650 253 {low:04}"),
                // 2%: foreign without '+'.
                95..=96 => format!("35191{}{:03}{low:04}", rng.u8(0..10), high % 1000),
                // 3%: invalid.
                _ => format!("+55{area}{}", low % 100),
            }
        })
        .collect()
}

fn run(normalizer: &PhoneNormalizer, inputs: &[String]) -> (f64, usize) {
    let start = Instant::now();
    let mut valid = 0;
    for input in inputs {
        if black_box(normalizer.normalize(black_box(input))).is_ok() {
            valid += 1;
        }
    }
    (inputs.len() as f64 / start.elapsed().as_secs_f64(), valid)
}

fn run_threads(normalizer: &PhoneNormalizer, inputs: &[String], threads: usize) -> f64 {
    let chunk = inputs.len().div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in inputs.chunks(chunk) {
            scope.spawn(move || {
                for input in part {
                    let _ = black_box(normalizer.normalize(black_box(input)));
                }
            });
        }
    });
    inputs.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);

    let start = Instant::now();
    let normalizer = PhoneNormalizer::new("55").expect("55 is Brazil");
    let inputs = generate(count, 42);
    // Warm-up: libphonenumber compiles each region's patterns on first use.
    run(&normalizer, &generate(10_000, 1));
    println!("setup (metadata, {count} inputs, warm-up): {:.0} ms", start.elapsed().as_secs_f64() * 1e3);

    let (fast, valid) = run(&normalizer, &inputs);
    let slow_normalizer = normalizer.clone().with_fast_path(false);
    let (slow, slow_valid) = run(&slow_normalizer, &inputs);
    assert_eq!(valid, slow_valid, "fast path and parser disagree");
    println!("{count} numbers, {valid} valid");
    println!("single thread, fast path:        {fast:>10.0} numbers/s");
    println!("single thread, parser only:      {slow:>10.0} numbers/s");
    if threads > 1 {
        let parallel = run_threads(&normalizer, &inputs, threads);
        println!("{threads} threads, fast path:          {parallel:>10.0} numbers/s");
    }
}
