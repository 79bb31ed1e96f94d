//! A dudect-style timing test of the filter's secret-dependent operations: the RSA kernel's and
//! ES256 signing's (Reparaz, Balasch and Verbauwhede, "Dude, is my code constant time?", 2017),
//! natively on the host.
//!
//! ```text
//! cargo run --release -p jwt-relay-rsa --example dudect [OP ...]    # or `make dudect`
//! ```
//!
//! For each operation two classes of inputs are timed, interleaved in a random order: a fixed
//! secret (zero, or as said below) and a random one, everything else equal. The operations (`OP`, default all):
//!
//! - `mul`: `Modulus::mul` (Montgomery product, 37 limbs: an RSA-2048 prime's kernel) with a
//!   secret operand, zero vs a random residue; the other operand is one fixed random residue.
//! - `select`: the exponent window's masked table select, index 0 vs a random index of 16.
//! - `pow`: `Modulus::pow` with a secret exponent of `POW_NIBBLES` 4-bit digits, all zero vs
//!   random, on one fixed random base. The digits' count is public and every digit costs the
//!   same work, so a shorter exponent than a key's 272 digits tests the same code in less time.
//! - `private_op`: the whole `CrtKey::private_op` (blinding, both CRT halves, recombination and
//!   the public check) on a 512-bit test key, input c = 0 vs a random c below n. The key's
//!   members are the secret; c is what an attacker chooses. A 512-bit key runs the same
//!   37-limb kernel as RSA-2048 with shorter exponents, so it gives enough samples in minutes.
//! - `es256_kg`: ES256 signing's k·G on the filter's constant-time comb (`jwt-relay-core`,
//!   `kernels/src/nistp256/comb.rs`), nonce k = 1 (every digit but one zero) vs a random k.
//! - `es256_sign`: a whole ES256 signature (`jose::SigningKey::sign`: RFC 6979 nonce, k·G,
//!   the scalar inversion) under the test fixture key, a fixed message (so a fixed nonce) vs a
//!   random one of the same length.
//! - `pow_fixed` and `pow_null` (only when named): `pow` with the fixed class one random
//!   exponent drawn at the start (dudect's usual fixed-vs-random: the accumulator varies in both
//!   classes, where an all-zero exponent keeps it at R mod m), and with both classes random (a
//!   null test of the harness, which must pass). `pow_bases` (only when named): `pow_fixed`
//!   with each sample on one of 256 random bases, so the values computed change from sample to
//!   sample. `pow_pair` (only when named): one random exponent for each class, both drawn at
//!   the start: two particular exponents against each other, neither class random. They tell
//!   apart what `pow` alone cannot: see issue 16's closing notes from stops 35 and 36.
//! - `control` (only when named): a positive control that should fail, `pow_public_vartime`
//!   (square and multiply, for the public `e` only) with a 64-bit "secret" exponent of the same
//!   length in both classes, 2^63 vs random with the top bit set: the multiplies follow the
//!   exponent's weight, and the harness must see it. `control_small` (only when named): a
//!   control of the test's reach, `pow` on random exponents in both classes with the fixed
//!   class also running one table select (about 0.1–0.2 % of the `pow` natively, 0.5 % in V8).
//!
//! Each sample is timed alone with `std::time::Instant` (the vDSO's ordered TSC read on x86-64
//! Linux; `_rdtsc` would need `unsafe`). Built for wasm32-wasip1, the same test runs in V8
//! (`make dudect-wasm`, bench/dudect.py), on the machine code a leak in Envoy would come from;
//! `Instant` is then WASI's monotonic clock. As in dudect, the inputs of a batch are drawn before
//! the batch is timed, the first batch only sets the cropping thresholds (dudect's 100
//! percentiles, from the 6.7th to the 99.9th), and Welch's t is kept for the uncropped
//! samples, for each cropping threshold, and for the centred squares (a second-order test).
//! The figure reported is the largest |t| of those 102 tests whose classes both have at least
//! 10,000 samples; |t| < 4.5 is the usual pass mark (no leak found at that confidence).
//!
//! Samples per operation: `DUDECT_SAMPLES` (default 1,000,000) for `mul`, `select` and `pow`;
//! `DUDECT_EC_SAMPLES` (default 200,000) for `es256_kg` and `es256_sign` (about 25 and 45 µs
//! each natively);
//! `DUDECT_PRIVATE_OP_SAMPLES` (default 100,000) for `private_op`, which takes about 0.8 ms
//! natively even on the small key (two 37-limb exponentiations of 80 digits each): a million
//! would take some 15 minutes. Counted samples exclude the thresholds' batch and the first 10 of
//! each batch. `DUDECT_SEED` fixes the input generator's seed (default: from the system RNG).
//!
//! Output: comment lines start with `#`; then one line per operation, whitespace separated:
//! `OP SAMPLES FIXED_NS RANDOM_NS MAX_T TEST UNCROPPED_T SECONDS VERDICT`, with the median time
//! of each class, the largest |t| and the test it comes from (`all`, `pNN.N` for a crop below
//! that percentile, `2nd` for the second-order test), the uncropped test's |t|, the wall time,
//! and `ok`, `LEAK?`, or `few` (under 10,000 samples in a class: no verdict). The exit status
//! is 2 when some |t| reaches the mark.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use jwt_relay_core::jose::{Algorithm, SigningKey};
use jwt_relay_rsa::timing::{self, Kernel, Residue, LIMBS, TABLE_ENTRIES};
use jwt_relay_rsa::CrtKey;

/// Measurements per batch: inputs for a batch are made before it is timed.
const BATCH: usize = 10_000;
/// Measurements dropped at the start of each batch (dudect drops 10).
const SKIP: usize = 10;
/// Cropping thresholds (dudect's `DUDECT_NUMBER_PERCENTILES`).
const PERCENTILES: usize = 100;
/// Samples each class needs before a test's |t| counts (dudect's `DUDECT_ENOUGH_MEASUREMENTS`).
const ENOUGH: f64 = 10_000.0;
/// The pass mark for |t|.
const THRESHOLD: f64 = 4.5;
/// Exponent digits in the `pow` test (64 bits).
const POW_NIBBLES: usize = 16;
/// Samples of `mul`, `select` and `pow` (`DUDECT_SAMPLES`).
const DEFAULT_SAMPLES: usize = 1_000_000;
/// Samples of `private_op` (`DUDECT_PRIVATE_OP_SAMPLES`): about 0.8 ms each on an idle core.
const DEFAULT_PRIVATE_OP_SAMPLES: usize = 100_000;
/// Samples of `es256_kg` and `es256_sign` (`DUDECT_EC_SAMPLES`).
const DEFAULT_EC_SAMPLES: usize = 200_000;
/// The P-256 test fixture key (it protects nothing).
const P256_PEM: &str = include_str!("../../tests/fixtures/jose/ec_p256_pkcs8.pem");
/// Bytes in `es256_sign`'s message (a typical JWS signing input's length).
const MESSAGE_LEN: usize = 120;

/// A 512-bit RSA test key (e = 65537), made for this harness (Python: random 256-bit primes,
/// Miller–Rabin). It protects nothing.
const KEY_N: &str = "c95ecbbbec8cbff504875a1a1a76b7d55dbb9f5e46897ba46c6aa608f7d1cd5f37a0ef96aa1af40b9587796951abcdfcc7f1c027b32752aeec6aa8003bd54523";
const KEY_P: &str = "fe21d4f86b00fd62dd1ae9f23c5dc9435acad46036a52edc878ab93c26ca2f7d";
const KEY_Q: &str = "cad9b04bac793d33f1bc26f727c949774967b7ef5de9d0c6637937695000a91f";
const KEY_DP: &str = "5298445388d38587003da3136bb33f9a7883bb8a99b80e06f6b68b859545d931";
const KEY_DQ: &str = "4dd9be0f4ce23adaf4ab8148d9bc26b5e1362d2170a98bb697f6ad8d7d66c381";
const KEY_QI: &str = "e9073c44ad8c446b92100ee0eb05f7cbd369339aeff72761e46ea6ca44f45082";
const KEY_E: [u8; 3] = [0x01, 0x00, 0x01];

/// A 1024-bit odd modulus for `mul` and `pow` (the larger prime of the RSA-2048 test fixture's
/// size; primality does not matter to the arithmetic).
const MODULUS_BITS: usize = 1024;

/// xoshiro256**: fast input generation (the inputs need not be unpredictable, only varied).
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 spreads the seed over the state.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    fn next(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.0;
        let out = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        out
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.iter_mut().zip(word).for_each(|(b, w)| *b = w);
        }
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.fill(&mut out);
        out
    }

    /// The class of the next sample: `true` for the random class.
    fn coin(&mut self) -> bool {
        self.next() >> 63 == 1
    }
}

/// An operation under test: inputs of either class, and the timed call.
trait Target {
    type Input;
    fn name(&self) -> &'static str;
    /// An input of the fixed (`random == false`) or the random class.
    fn input(&self, random: bool, rng: &mut Rng) -> Result<Self::Input, String>;
    fn run(&self, input: &Self::Input);
}

struct Mul {
    kernel: Kernel,
    other: Residue,
}

impl Target for Mul {
    type Input = Residue;
    fn name(&self) -> &'static str {
        "mul"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<Residue, String> {
        if !random {
            return Ok(Residue::new([0; LIMBS]));
        }
        random_residue(&self.kernel, rng)
    }
    fn run(&self, a: &Residue) {
        black_box(self.kernel.mul(black_box(a), black_box(&self.other)));
    }
}

struct Select {
    table: [[u32; LIMBS]; TABLE_ENTRIES],
}

impl Target for Select {
    type Input = u8;
    fn name(&self) -> &'static str {
        "select"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<u8, String> {
        Ok(if random { (rng.next() & 0xf) as u8 } else { 0 })
    }
    fn run(&self, index: &u8) {
        let mut out = [0u32; LIMBS];
        timing::select(black_box(&self.table), black_box(*index), &mut out);
        black_box(&out);
    }
}

struct Pow {
    kernel: Kernel,
    /// One base, or `BASES` for `pow_bases` (a power of two: a random byte's low bits pick one).
    bases: Vec<Residue>,
    name: &'static str,
    exponents: Exponents,
}

/// How `Pow`'s two classes draw their exponents.
enum Exponents {
    /// One exponent for the fixed class, a fresh random one for each sample of the other.
    FixedVsRandom(Vec<u8>),
    /// Fresh random exponents in both classes (`pow_null`).
    Random,
    /// One exponent for each class, both drawn at the start (`pow_pair`).
    Pair([Vec<u8>; 2]),
}

fn random_digits(rng: &mut Rng) -> Vec<u8> {
    let mut digits = vec![0u8; POW_NIBBLES];
    rng.fill(&mut digits);
    digits.iter_mut().for_each(|d| *d &= 0xf);
    digits
}

impl Target for Pow {
    type Input = (Vec<u8>, usize);
    fn name(&self) -> &'static str {
        self.name
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<(Vec<u8>, usize), String> {
        let [pick, ..] = rng.next().to_le_bytes();
        let base = usize::from(pick) & self.bases.len().saturating_sub(1);
        let digits = match &self.exponents {
            Exponents::FixedVsRandom(fixed) if !random => fixed.clone(),
            Exponents::Pair([fixed, other]) => if random { other } else { fixed }.clone(),
            _ => random_digits(rng),
        };
        Ok((digits, base))
    }
    fn run(&self, (digits, base): &(Vec<u8>, usize)) {
        if let Some(base) = self.bases.get(*base) {
            black_box(self.kernel.pow(black_box(base), black_box(digits)));
        }
    }
}

/// Bases `pow_bases` draws from, one per sample.
const BASES: usize = 256;

struct Control {
    kernel: Kernel,
    base: Residue,
}

impl Target for Control {
    type Input = [u8; 8];
    fn name(&self) -> &'static str {
        "control"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<[u8; 8], String> {
        let bits = if random { rng.next() } else { 0 };
        Ok((bits | 1 << 63).to_be_bytes())
    }
    fn run(&self, exponent: &[u8; 8]) {
        black_box(
            self.kernel
                .pow_vartime(black_box(&self.base), black_box(exponent)),
        );
    }
}

struct ControlSmall {
    kernel: Kernel,
    base: Residue,
    table: [[u32; LIMBS]; TABLE_ENTRIES],
}

impl Target for ControlSmall {
    /// The exponent, and whether the sample is of the random class.
    type Input = (Vec<u8>, bool);
    fn name(&self) -> &'static str {
        "control_small"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<(Vec<u8>, bool), String> {
        Ok((random_digits(rng), random))
    }
    fn run(&self, (digits, random): &(Vec<u8>, bool)) {
        black_box(self.kernel.pow(black_box(&self.base), black_box(digits)));
        // The leak: one select more in the fixed class.
        if !*random {
            let mut out = [0u32; LIMBS];
            let index = digits.first().copied().unwrap_or(0);
            timing::select(black_box(&self.table), black_box(index), &mut out);
            black_box(&out);
        }
    }
}

struct Es256Kg;

impl Target for Es256Kg {
    type Input = [u8; 32];
    fn name(&self) -> &'static str {
        "es256_kg"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<[u8; 32], String> {
        let mut k = [0u8; 32];
        if random {
            // Below 2^255 < n, and not zero.
            rng.fill(&mut k);
            k[0] >>= 1;
        }
        k[31] |= 1;
        Ok(k)
    }
    fn run(&self, k: &[u8; 32]) {
        black_box(jwt_relay_core::timing::p256_mul_generator_x(black_box(k)));
    }
}

struct Es256Sign {
    key: SigningKey,
}

impl Target for Es256Sign {
    type Input = Vec<u8>;
    fn name(&self) -> &'static str {
        "es256_sign"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<Vec<u8>, String> {
        let mut message = vec![b'a'; MESSAGE_LEN];
        if random {
            rng.fill(&mut message);
        }
        Ok(message)
    }
    fn run(&self, message: &Vec<u8>) {
        black_box(self.key.sign(Algorithm::ES256, black_box(message)).ok());
    }
}

struct PrivateOp {
    key: CrtKey,
    n: Vec<u8>,
}

impl Target for PrivateOp {
    type Input = Vec<u8>;
    fn name(&self) -> &'static str {
        "private_op"
    }
    fn input(&self, random: bool, rng: &mut Rng) -> Result<Vec<u8>, String> {
        if !random {
            return Ok(vec![0; self.n.len()]);
        }
        // Below n: a top byte below n's (n's top byte is at least 0x80).
        let mut c = rng.bytes(self.n.len());
        if let Some(top) = c.first_mut() {
            *top >>= 1;
        }
        Ok(c)
    }
    fn run(&self, c: &Vec<u8>) {
        black_box(self.key.private_op(black_box(c)));
    }
}

fn random_residue(kernel: &Kernel, rng: &mut Rng) -> Result<Residue, String> {
    kernel
        .enter(&rng.bytes(MODULUS_BITS / 8))
        .ok_or_else(|| "a random residue does not fit the kernel".to_string())
}

/// A window table of random residues, as `select` reads one.
fn random_table(kernel: &Kernel, rng: &mut Rng) -> Result<[[u32; LIMBS]; TABLE_ENTRIES], String> {
    let mut table = [[0u32; LIMBS]; TABLE_ENTRIES];
    for entry in table.iter_mut() {
        entry.copy_from_slice(random_residue(kernel, rng)?.as_slice());
    }
    Ok(table)
}

/// Welch's t-test over two classes, with running means and variances (Welford).
#[derive(Clone, Copy, Default)]
struct Welch {
    n: [f64; 2],
    mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    fn push(&mut self, x: f64, class: usize) {
        let (Some(n), Some(mean), Some(m2)) = (
            self.n.get_mut(class),
            self.mean.get_mut(class),
            self.m2.get_mut(class),
        ) else {
            return;
        };
        *n += 1.0;
        let delta = x - *mean;
        *mean += delta / *n;
        *m2 += delta * (x - *mean);
    }

    fn enough(&self) -> bool {
        self.n.iter().all(|&n| n >= ENOUGH)
    }

    fn t(&self) -> f64 {
        let [n0, n1] = self.n;
        let [m0, m1] = self.mean;
        let [s0, s1] = self.m2;
        let (v0, v1) = (s0 / (n0 - 1.0), s1 / (n1 - 1.0));
        (m0 - m1) / (v0 / n0 + v1 / n1).sqrt()
    }
}

/// dudect's statistics: Welch's t for all samples, for the samples below each cropping
/// threshold, and for the centred squares of all samples (second order).
struct Stats {
    thresholds: Vec<f64>,
    all: Welch,
    cropped: Vec<Welch>,
    second: Welch,
}

impl Stats {
    /// Thresholds from the first batch: the 1 − 0.5^(10·(i+1)/100) quantiles.
    fn new(first: &[f64]) -> Self {
        let mut sorted = first.to_vec();
        sorted.sort_by(f64::total_cmp);
        let thresholds = (1..=PERCENTILES)
            .map(|i| {
                let q = 1.0 - 0.5f64.powf(10.0 * i as f64 / PERCENTILES as f64);
                let at = (q * sorted.len() as f64) as usize;
                sorted.get(at).or(sorted.last()).copied().unwrap_or(0.0)
            })
            .collect();
        Self {
            thresholds,
            all: Welch::default(),
            cropped: vec![Welch::default(); PERCENTILES],
            second: Welch::default(),
        }
    }

    fn push(&mut self, x: f64, class: usize) {
        // dudect starts the second-order test once the first has 10,000 samples: its means.
        if self.all.n.iter().sum::<f64>() > ENOUGH {
            let centred = x - self.all.mean.get(class).copied().unwrap_or(0.0);
            self.second.push(centred * centred, class);
        }
        self.all.push(x, class);
        for (welch, &limit) in self.cropped.iter_mut().zip(&self.thresholds) {
            if x < limit {
                welch.push(x, class);
            }
        }
    }

    /// The largest |t| among the tests with enough samples, with the test's name.
    fn worst(&self) -> (f64, String) {
        let named = std::iter::once((self.all, "all".to_string()))
            .chain(self.cropped.iter().enumerate().map(|(i, w)| {
                let q = 1.0 - 0.5f64.powf(10.0 * (i + 1) as f64 / PERCENTILES as f64);
                (*w, format!("p{:.1}", q * 100.0))
            }))
            .chain(std::iter::once((self.second, "2nd".to_string())));
        named
            .filter(|(w, _)| w.enough())
            .map(|(w, name)| (w.t().abs(), name))
            .filter(|(t, _)| t.is_finite())
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((f64::NAN, "none".to_string()))
    }
}

/// Times `samples` measurements (after the thresholds' batch) and prints the operation's line.
fn measure<T: Target>(target: &T, samples: usize, rng: &mut Rng) -> Result<bool, String> {
    let started = Instant::now();
    let batch = BATCH.min(samples.max(SKIP + 1));
    let mut classes = Vec::with_capacity(batch);
    let mut inputs = Vec::with_capacity(batch);
    let mut times = Vec::with_capacity(batch);
    let mut stats: Option<Stats> = None;
    let mut counted = 0usize;
    // Every counted time per class, for the medians printed.
    let mut by_class: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    while counted < samples {
        // The last batch only as long as needed.
        let size = match stats {
            None => batch,
            Some(_) => batch.min(samples - counted + SKIP),
        };
        classes.clear();
        inputs.clear();
        for _ in 0..size {
            let random = rng.coin();
            inputs.push(target.input(random, rng)?);
            classes.push(usize::from(random));
        }
        times.clear();
        for input in &inputs {
            let start = Instant::now();
            target.run(input);
            times.push(start.elapsed().as_nanos() as f64);
        }
        match stats.as_mut() {
            None => stats = Some(Stats::new(&times)),
            Some(stats) => {
                for (&time, &class) in times.iter().zip(&classes).skip(SKIP) {
                    stats.push(time, class);
                    if let Some(times) = by_class.get_mut(class) {
                        times.push(time);
                    }
                    counted += 1;
                }
            }
        }
        eprint!("\r{}: {counted}/{samples}", target.name());
    }
    eprintln!();
    let Some(stats) = stats else {
        return Err("no samples".to_string());
    };
    let (t, test) = stats.worst();
    // NaN: no test has enough samples in both classes, so no verdict (and no failure).
    let verdict = if t.is_nan() {
        "few"
    } else if t < THRESHOLD {
        "ok"
    } else {
        "LEAK?"
    };
    let [fixed_ns, random_ns] = by_class.map(median);
    println!(
        "{:<10} {:>9} {:>11.1} {:>11.1} {:>7.2} {:>6} {:>7.2} {:>7.1} {}",
        target.name(),
        counted,
        fixed_ns,
        random_ns,
        t,
        test,
        stats.all.t().abs(),
        started.elapsed().as_secs_f64(),
        verdict
    );
    Ok(verdict != "LEAK?")
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("bad hex {s:?}"))
}

fn env_count(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a count")),
        Err(_) => Ok(default),
    }
}

fn test_key() -> Result<PrivateOp, String> {
    let n = hex(KEY_N)?;
    let members = [KEY_P, KEY_Q, KEY_DP, KEY_DQ, KEY_QI].map(hex);
    let [Ok(p), Ok(q), Ok(dp), Ok(dq), Ok(qi)] = members else {
        return Err("bad test key".to_string());
    };
    let key = CrtKey::new(&n, &KEY_E, [&p, &q, &dp, &dq, &qi])
        .ok_or_else(|| "the kernel refuses the test key".to_string())?;
    Ok(PrivateOp { key, n })
}

fn run(only: &[String]) -> Result<bool, String> {
    let named = |name: &str| only.iter().any(|o| o == name);
    let wanted = |name: &str| only.is_empty() || named(name);
    let samples = env_count("DUDECT_SAMPLES", DEFAULT_SAMPLES)?;
    let private_samples = env_count("DUDECT_PRIVATE_OP_SAMPLES", DEFAULT_PRIVATE_OP_SAMPLES)?;
    let ec_samples = env_count("DUDECT_EC_SAMPLES", DEFAULT_EC_SAMPLES)?;
    let seed = match std::env::var("DUDECT_SEED") {
        Ok(v) => v.parse().map_err(|_| format!("DUDECT_SEED={v:?}"))?,
        Err(_) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
            u64::from_le_bytes(bytes)
        }
    };
    let mut rng = Rng::new(seed);
    // A random odd modulus of exactly MODULUS_BITS bits.
    let mut modulus = rng.bytes(MODULUS_BITS / 8);
    if let Some(top) = modulus.first_mut() {
        *top |= 0x80;
    }
    if let Some(low) = modulus.last_mut() {
        *low |= 1;
    }
    let make = || Kernel::new(&modulus).ok_or_else(|| "the kernel refuses the modulus".to_string());

    println!(
        "# dudect: fixed vs random secret, interleaved at random; Welch's |t| over {} tests, pass below {THRESHOLD}",
        PERCENTILES + 2
    );
    println!("# seed={seed} kernel_limbs={LIMBS} modulus_bits={MODULUS_BITS} pow_nibbles={POW_NIBBLES} private_op_key_bits=512");
    println!("# op         samples    fixed_ns   random_ns   max_t   test  all_t seconds verdict");
    let mut pass = true;
    if wanted("mul") {
        let kernel = make()?;
        let other = random_residue(&kernel, &mut rng)?;
        pass &= measure(&Mul { kernel, other }, samples, &mut rng)?;
    }
    if wanted("select") {
        let table = random_table(&make()?, &mut rng)?;
        pass &= measure(&Select { table }, samples, &mut rng)?;
    }
    for name in ["pow", "pow_fixed", "pow_bases", "pow_null", "pow_pair"] {
        let run_it = if name == "pow" {
            wanted(name)
        } else {
            named(name)
        };
        if !run_it {
            continue;
        }
        let kernel = make()?;
        let count = if name == "pow_bases" { BASES } else { 1 };
        let bases = (0..count)
            .map(|_| random_residue(&kernel, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let exponents = match name {
            "pow" => Exponents::FixedVsRandom(vec![0u8; POW_NIBBLES]),
            "pow_null" => Exponents::Random,
            "pow_pair" => Exponents::Pair([random_digits(&mut rng), random_digits(&mut rng)]),
            _ => Exponents::FixedVsRandom(random_digits(&mut rng)),
        };
        let pow = Pow {
            kernel,
            bases,
            name,
            exponents,
        };
        pass &= measure(&pow, samples, &mut rng)?;
    }
    if wanted("private_op") {
        let target = test_key()?;
        // The key must sign both classes (the kernel's public check passes) before timing.
        for random in [false, true] {
            let c = target.input(random, &mut rng)?;
            target
                .key
                .private_op(&c)
                .ok_or_else(|| "the test key's private operation fails".to_string())?;
        }
        pass &= measure(&target, private_samples, &mut rng)?;
    }
    if wanted("es256_kg") {
        pass &= measure(&Es256Kg, ec_samples, &mut rng)?;
    }
    if wanted("es256_sign") {
        let key = SigningKey::from_pem(P256_PEM, Algorithm::ES256).map_err(|e| e.to_string())?;
        pass &= measure(&Es256Sign { key }, ec_samples, &mut rng)?;
    }
    if named("control") {
        let kernel = make()?;
        let base = random_residue(&kernel, &mut rng)?;
        pass &= measure(&Control { kernel, base }, samples, &mut rng)?;
    }
    if named("control_small") {
        let kernel = make()?;
        let base = random_residue(&kernel, &mut rng)?;
        let table = random_table(&kernel, &mut rng)?;
        let target = ControlSmall {
            kernel,
            base,
            table,
        };
        pass &= measure(&target, samples, &mut rng)?;
    }
    Ok(pass)
}

fn main() -> ExitCode {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let known = [
        "mul",
        "select",
        "pow",
        "pow_fixed",
        "pow_null",
        "pow_bases",
        "pow_pair",
        "private_op",
        "es256_kg",
        "es256_sign",
        "control",
        "control_small",
    ];
    if let Some(bad) = only.iter().find(|o| !known.contains(&o.as_str())) {
        eprintln!(
            "dudect: unknown operation {bad:?} (known: {})",
            known.join(", ")
        );
        return ExitCode::FAILURE;
    }
    match run(&only) {
        Ok(true) => ExitCode::SUCCESS,
        // A |t| at or above the mark: the figures are printed; the exit status says so too.
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("dudect: {e}");
            ExitCode::FAILURE
        }
    }
}
