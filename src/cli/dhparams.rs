//! `pfslab dhparams --backdoor`: a finite-field group whose p−1 splits into small primes, for
//! the lesson "the group was the backdoor". Writes the PEM that `pfslab server --dh-params`
//! serves and, beside it, the instructor's factorisation of p−1.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::crypto::dhsmooth::{backdoor, is_probable_prime};
use pfslab::crypto::ffdh::DhGroup;
use pfslab::crypto::rng;

use crate::cli::output;

#[derive(Args)]
pub struct DhparamsArgs {
    /// Make p−1 = 2·q₁·q₂·… with every qᵢ a small prime (required: the only kind this makes).
    #[arg(long)]
    backdoor: bool,
    /// Size of p in bits.
    #[arg(long, default_value_t = 2048)]
    bits: u64,
    /// Largest size of each prime factor qᵢ of p−1, in bits (16..=64): Pohlig–Hellman then
    /// costs about (bits/factor-bits)·2^(factor-bits/2) group operations.
    #[arg(long, default_value_t = 24)]
    factor_bits: u64,
    /// Make the group reproducible from this number.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the PEM "DH PARAMETERS"; FILE.factors gets the factorisation.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(a: DhparamsArgs) -> Result<()> {
    if !a.backdoor {
        bail!("only --backdoor groups are made here; for honest ones use RFC 7919 ffdhe2048 (the server's default) or `openssl dhparam`");
    }
    let factors_path = {
        let mut s = a.out.clone().into_os_string();
        s.push(".factors");
        PathBuf::from(s)
    };
    for p in [&a.out, &factors_path] {
        if p.exists() && !a.force {
            bail!("{} exists (use --force to overwrite)", p.display());
        }
    }
    let mut r = rng::for_purpose(a.seed, "dhparams backdoor");
    let grp = backdoor::generate(a.bits, a.factor_bits, &mut r).context("dhparams failed")?;
    // Check what we are about to claim.
    let prod: num_bigint::BigUint = grp.factors.iter().product::<num_bigint::BigUint>() * 2u32;
    if prod != &grp.p - 1u32 || !is_probable_prime(&grp.p) {
        bail!("internal error: the generated group does not check out");
    }
    let group = DhGroup::new(&grp.p.to_bytes_be(), &grp.g.to_bytes_be())
        .context("generated group rejected")?;
    std::fs::write(&a.out, group.to_pem())
        .with_context(|| format!("writing {}", a.out.display()))?;

    let largest = grp.factors.iter().map(|q| q.bits()).max().unwrap_or(0);
    let mut f = String::new();
    let _ = writeln!(f, "# pfslab dhparams --backdoor: the instructor's secret. p - 1 = 2 * product of the primes below.");
    let _ = writeln!(f, "# p ({} bits) = 0x{:x}", grp.p.bits(), grp.p);
    let _ = writeln!(f, "# g = {}", grp.g);
    let _ = writeln!(f, "2");
    for q in &grp.factors {
        let _ = writeln!(f, "{q}");
    }
    std::fs::write(&factors_path, f)
        .with_context(|| format!("writing {}", factors_path.display()))?;

    let mut text = String::new();
    let _ = writeln!(
        text,
        "wrote {} (DH PARAMETERS, p of {} bits, g = {})",
        a.out.display(),
        grp.p.bits(),
        grp.g
    );
    let _ = writeln!(
        text,
        "wrote {} (p - 1 = 2 * {} distinct primes of at most {} bits; checked: product = p - 1, p prime by 40 Miller-Rabin rounds, g's order divisible by every one)",
        factors_path.display(),
        grp.factors.len(),
        largest
    );
    Ok(output::print(text)?)
}
