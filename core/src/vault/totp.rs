//! One-time codes from a vaulted root MFA seed.
//!
//! When Root Warden enables a virtual MFA device on a member account's root user, AWS shows the
//! device's seed (a base32 string, or an `otpauth://totp/...` URI behind the QR code) and Root
//! Warden vaults it. To sign in as root later, it derives the current code from that seed here,
//! with the parameters AWS virtual MFA devices use: RFC 6238 TOTP, HMAC-SHA1, 6 digits, 30-second
//! steps. The HOTP/TOTP computation itself is done by the `totp-rs` crate.
//!
//! The decoded seed lives in zeroizing storage, is never printed (its [`Debug`] is redacted) and
//! never appears in an error message; codes are returned as [`SecretString`]s.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Algorithm, TOTP};
use zeroize::{Zeroize, Zeroizing};

/// Digits per code (AWS virtual MFA devices use 6).
pub const DIGITS: usize = 6;

/// Seconds per time step (AWS virtual MFA devices use 30).
pub const STEP_SECONDS: u64 = 30;

/// The shortest seed accepted, in bytes: 10 bytes is 80 bits, RFC 4226's absolute minimum
/// (it recommends 160; AWS seeds are longer still).
pub const MIN_SEED_BYTES: usize = 10;

/// Why a seed could not be parsed or a code computed. Messages never contain the seed or the raw
/// input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The input is empty or only whitespace (or the URI's `secret` is empty).
    #[error("TOTP seed is empty")]
    Empty,
    /// The seed has a character outside the base32 alphabet (`A-Z`, `2-7`, any case), `=` before
    /// the end, or a length no base32 encoding can have.
    #[error(
        "TOTP seed is not valid base32: expected the letters A-Z and digits 2-7, optionally spaced, lower-case or '='-padded"
    )]
    InvalidBase32,
    /// The seed decodes to fewer than [`MIN_SEED_BYTES`] bytes.
    #[error(
        "TOTP seed is too short: it decodes to {bytes} bytes, at least {min} (80 bits) are required",
        min = MIN_SEED_BYTES
    )]
    TooShort {
        /// How many bytes the seed decoded to.
        bytes: usize,
    },
    /// The input looks like an `otpauth://` URI but is not a usable `otpauth://totp/` one.
    #[error("invalid otpauth URI: {0}")]
    InvalidUri(&'static str),
    /// The `otpauth://` URI asks for parameters other than AWS's (SHA1, 6 digits, 30 s).
    #[error(
        "unsupported otpauth URI: {0}; AWS virtual MFA devices use SHA1, 6 digits and a 30-second period"
    )]
    UnsupportedParameters(&'static str),
    /// The time asked for is before 1970-01-01T00:00:00Z, where TOTP is undefined.
    #[error("cannot compute a TOTP code for a time before the Unix epoch")]
    BeforeEpoch,
}

/// A decoded TOTP seed (the shared secret of a virtual MFA device), zeroized on drop.
///
/// Built by [`TotpSeed::parse`]; its [`Debug`] output is `TotpSeed([redacted])`.
pub struct TotpSeed {
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed([redacted])")
    }
}

impl TotpSeed {
    /// Parses a vaulted seed: either the base32 string AWS shows when a virtual MFA device is
    /// enabled (case-insensitive; whitespace anywhere and trailing `=` padding are ignored), or an
    /// `otpauth://totp/<label>?secret=<base32>&...` URI, whose `secret` is decoded the same way.
    /// A URI's `algorithm`, `digits` and `period`, if present, must be AWS's (`SHA1`, `6`, `30`),
    /// since [`code`] always uses those.
    ///
    /// # Errors
    ///
    /// [`TotpError::Empty`], [`TotpError::InvalidBase32`], [`TotpError::TooShort`] (under
    /// [`MIN_SEED_BYTES`] bytes), [`TotpError::InvalidUri`] or
    /// [`TotpError::UnsupportedParameters`]. None of them echo the input.
    pub fn parse(raw: &SecretString) -> Result<TotpSeed, TotpError> {
        let raw = raw.expose_secret().trim();
        if raw.is_empty() {
            return Err(TotpError::Empty);
        }
        let bytes = if has_prefix_ignore_case(raw, "otpauth://") {
            let secret = uri_secret(raw)?;
            decode_base32(&secret)?
        } else {
            decode_base32(raw.as_bytes())?
        };
        if bytes.len() < MIN_SEED_BYTES {
            return Err(TotpError::TooShort { bytes: bytes.len() });
        }
        Ok(TotpSeed { bytes })
    }
}

/// A one-time code and how long it stays current.
#[derive(Debug)]
pub struct TotpCode {
    /// The 6-digit code, zero-padded (e.g. `"005924"`).
    pub code: SecretString,
    /// Seconds until the code's 30-second step ends (1 to 30).
    pub valid_for_seconds: u64,
}

/// The code `seed` shows at time `at` (RFC 6238 with HMAC-SHA1, [`DIGITS`] digits and
/// [`STEP_SECONDS`]-second steps, counted from the Unix epoch), as an AWS virtual MFA device
/// would display it.
///
/// # Errors
///
/// [`TotpError::BeforeEpoch`] if `at` is before 1970-01-01T00:00:00Z.
pub fn code(seed: &TotpSeed, at: DateTime<Utc>) -> Result<TotpCode, TotpError> {
    let time = u64::try_from(at.timestamp()).map_err(|_| TotpError::BeforeEpoch)?;
    // `new_unchecked` because `TOTP::new` insists on 128-bit seeds, and seeds are validated
    // (at least 80 bits) by `TotpSeed::parse`. With totp-rs's `zeroize` feature the copy of the
    // seed inside `totp` is wiped when `totp` is dropped. The skew (1) only matters for
    // verification, which is not used here.
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        seed.bytes.to_vec(),
    );
    let code = SecretString::from(totp.generate(time));
    Ok(TotpCode {
        code,
        valid_for_seconds: STEP_SECONDS - time % STEP_SECONDS,
    })
}

/// Whether `s` starts with `prefix`, ignoring ASCII case.
fn has_prefix_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The percent-decoded `secret` query parameter of an `otpauth://totp/` URI, after checking that
/// any `algorithm`, `digits` and `period` parameters match what [`code`] computes.
fn uri_secret(uri: &str) -> Result<Zeroizing<Vec<u8>>, TotpError> {
    let rest = &uri["otpauth://".len()..];
    if !has_prefix_ignore_case(rest, "totp/") {
        return Err(TotpError::InvalidUri(
            "only otpauth://totp/ URIs are supported",
        ));
    }
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let Some((_, query)) = rest.split_once('?') else {
        return Err(TotpError::InvalidUri("it has no secret parameter"));
    };

    let mut secret = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.eq_ignore_ascii_case("secret") {
            if secret.is_some() {
                return Err(TotpError::InvalidUri(
                    "it has more than one secret parameter",
                ));
            }
            secret = Some(percent_decode(value)?);
        } else if key.eq_ignore_ascii_case("algorithm") {
            if !percent_decode(value)?.eq_ignore_ascii_case(b"SHA1") {
                return Err(TotpError::UnsupportedParameters("algorithm is not SHA1"));
            }
        } else if key.eq_ignore_ascii_case("digits") {
            if percent_decode(value)?.as_slice() != b"6" {
                return Err(TotpError::UnsupportedParameters("digits is not 6"));
            }
        } else if key.eq_ignore_ascii_case("period") && percent_decode(value)?.as_slice() != b"30" {
            return Err(TotpError::UnsupportedParameters("period is not 30"));
        }
    }
    match secret {
        None => Err(TotpError::InvalidUri("it has no secret parameter")),
        Some(secret) if secret.iter().all(u8::is_ascii_whitespace) => Err(TotpError::Empty),
        Some(secret) => Ok(secret),
    }
}

/// Decodes `%XX` escapes and `+` (as a space) in a URI query value, into zeroizing storage.
fn percent_decode(value: &str) -> Result<Zeroizing<Vec<u8>>, TotpError> {
    // Decoding never lengthens the value, so this buffer is never reallocated.
    let mut out = Zeroizing::new(Vec::with_capacity(value.len()));
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = bytes.next().and_then(hex_value);
                let lo = bytes.next().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(TotpError::InvalidUri("it has a malformed percent-encoding")),
                }
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes RFC 4648 base32 (either case), skipping ASCII whitespace and accepting `=` padding
/// only at the end. Unpadded lengths of 1, 3 or 6 modulo 8 cannot come from encoding whole bytes
/// (usually a truncated copy), so they are rejected rather than silently giving wrong codes.
fn decode_base32(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, TotpError> {
    // Every 8 characters give 5 bytes, so this capacity is never exceeded (no reallocation).
    let mut out = Zeroizing::new(Vec::with_capacity(input.len() * 5 / 8 + 1));
    let mut buffer: u64 = 0;
    let mut bits: u32 = 0;
    let mut symbols: usize = 0;
    let mut padding = false;

    let mut result = Ok(());
    for &c in input {
        let value = match c {
            c if c.is_ascii_whitespace() => continue,
            b'=' => {
                padding = true;
                continue;
            }
            _ if padding => {
                result = Err(TotpError::InvalidBase32);
                break;
            }
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => {
                result = Err(TotpError::InvalidBase32);
                break;
            }
        };
        buffer = (buffer << 5) | u64::from(value);
        bits += 5;
        symbols += 1;
        if bits >= 8 {
            bits -= 8;
            // Truncation is the point: the low 8 bits above the remaining `bits` are the byte.
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    buffer.zeroize();

    result?;
    if symbols == 0 {
        return Err(TotpError::Empty);
    }
    if matches!(symbols % 8, 1 | 3 | 6) {
        return Err(TotpError::InvalidBase32);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA1 seed, ASCII "12345678901234567890", in base32.
    const RFC_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn seed(raw: &str) -> Result<TotpSeed, TotpError> {
        TotpSeed::parse(&SecretString::from(raw))
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("timestamp in range")
    }

    fn code_at(seed: &TotpSeed, seconds: i64) -> String {
        code(seed, at(seconds))
            .expect("code")
            .code
            .expose_secret()
            .to_owned()
    }

    #[test]
    fn base32_decodes_to_the_rfc_seed() {
        let seed = seed(RFC_SEED).unwrap();
        assert_eq!(seed.bytes.as_slice(), b"12345678901234567890");
    }

    #[test]
    fn rfc6238_sha1_test_vectors() {
        // RFC 6238 Appendix B lists 8-digit codes; a 6-digit code is the last six digits.
        let seed = seed(RFC_SEED).unwrap();
        for (time, expected) in [
            (59, "287082"),             // 94287082
            (1_111_111_109, "081804"),  // 07081804
            (1_111_111_111, "050471"),  // 14050471
            (1_234_567_890, "005924"),  // 89005924
            (2_000_000_000, "279037"),  // 69279037
            (20_000_000_000, "353130"), // 65353130
        ] {
            assert_eq!(code_at(&seed, time), expected, "T = {time}");
        }
    }

    #[test]
    fn valid_for_seconds_counts_down_the_step() {
        let seed = seed(RFC_SEED).unwrap();
        for (time, remaining) in [
            (0, 30),
            (1, 29),
            (29, 1),
            (30, 30),
            (59, 1),
            (1_111_111_109, 1),
            (1_111_111_111, 29),
            (1_234_567_890, 30),
        ] {
            assert_eq!(
                code(&seed, at(time)).unwrap().valid_for_seconds,
                remaining,
                "T = {time}"
            );
        }
        // The same code throughout a step, a new one after it.
        assert_eq!(code_at(&seed, 30), code_at(&seed, 59));
        assert_ne!(code_at(&seed, 59), code_at(&seed, 60));
    }

    #[test]
    fn sub_second_time_uses_the_whole_second() {
        let seed = seed(RFC_SEED).unwrap();
        let late = DateTime::from_timestamp(59, 999_999_999).unwrap();
        let result = code(&seed, late).unwrap();
        assert_eq!(result.code.expose_secret(), "287082");
        assert_eq!(result.valid_for_seconds, 1);
    }

    #[test]
    fn time_before_epoch_is_rejected() {
        let seed = seed(RFC_SEED).unwrap();
        assert_eq!(code(&seed, at(-1)).unwrap_err(), TotpError::BeforeEpoch);
    }

    #[test]
    fn parse_accepts_lowercase_spaced_and_padded_forms() {
        let expected = b"12345678901234567890";
        for form in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "  gezd gnbv\tgy3t qojq\ngezd gnbv gy3t qojq  ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
            // A 64-character seed, the length AWS shows (40 bytes), in lower case.
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojqgezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        ] {
            let seed = seed(form).unwrap();
            assert_eq!(&seed.bytes[..20], expected, "{form:?}");
        }
        // Padding that is required by the length (16 bytes = 26 symbols + 6 '=').
        let padded = seed("GEZDGNBVGY3TQOJQGEZDGNBVGY======").unwrap();
        assert_eq!(padded.bytes.as_slice(), b"1234567890123456");
    }

    #[test]
    fn parse_accepts_otpauth_uris() {
        for uri in [
            "otpauth://totp/Amazon%20Web%20Services:root-account-mfa-device@123456789012?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Amazon%20Web%20Services",
            "OTPAUTH://TOTP/label?issuer=AWS&secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ%3D%3D&algorithm=SHA1&digits=6&period=30",
            "otpauth://totp/x?SECRET=GEZD+GNBV%20GY3TQOJQGEZDGNBVGY3TQOJQ#fragment",
            "  otpauth://totp/?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&&  ",
        ] {
            let seed = seed(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(seed.bytes.as_slice(), b"12345678901234567890", "{uri}");
        }
    }

    #[test]
    fn uri_and_base32_give_the_same_codes() {
        let plain = seed(RFC_SEED).unwrap();
        let uri = seed(&format!("otpauth://totp/aws?secret={RFC_SEED}")).unwrap();
        assert_eq!(code_at(&plain, 1_234_567_890), code_at(&uri, 1_234_567_890));
    }

    #[test]
    fn parse_rejects_bad_input() {
        for (input, expected) in [
            ("", TotpError::Empty),
            ("   \n", TotpError::Empty),
            ("====", TotpError::Empty),
            ("GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ", TotpError::InvalidBase32), // '1' is not base32
            ("GEZDGNBVGY3TQOJQ-GEZDGNBVGY3TQOJQ", TotpError::InvalidBase32),
            ("GEZDGNBV=GY3TQOJQGEZDGNBVGY3TQOJQ", TotpError::InvalidBase32),
            ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQé", TotpError::InvalidBase32),
            ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQG", TotpError::InvalidBase32), // 33 symbols
            ("GEZDGNBVGY3TQOJ", TotpError::TooShort { bytes: 9 }),
            ("GEZDGNBV", TotpError::TooShort { bytes: 5 }),
            ("otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=0", TotpError::InvalidUri("only otpauth://totp/ URIs are supported")),
            ("otpauth://totp/x", TotpError::InvalidUri("it has no secret parameter")),
            ("otpauth://totp/x?issuer=AWS", TotpError::InvalidUri("it has no secret parameter")),
            ("otpauth://totp/x?secret=", TotpError::Empty),
            ("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", TotpError::InvalidUri("it has more than one secret parameter")),
            ("otpauth://totp/x?secret=GEZD%4GNBVGY3TQOJQGEZDGNBVGY3TQOJQ", TotpError::InvalidUri("it has a malformed percent-encoding")),
            ("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA256", TotpError::UnsupportedParameters("algorithm is not SHA1")),
            ("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8", TotpError::UnsupportedParameters("digits is not 6")),
            ("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=60", TotpError::UnsupportedParameters("period is not 30")),
            ("otpauth://totp/x?secret=GEZDGNBV", TotpError::TooShort { bytes: 5 }),
        ] {
            assert_eq!(seed(input).unwrap_err(), expected, "{input:?}");
        }
    }

    #[test]
    fn minimum_seed_length_is_80_bits() {
        // 16 symbols = 10 bytes: the shortest seed accepted; one symbol less is 9 bytes.
        assert_eq!(
            seed("GEZDGNBVGY3TQOJQ").unwrap().bytes.len(),
            MIN_SEED_BYTES
        );
        assert_eq!(
            seed("GEZDGNBVGY3TQOJ").unwrap_err(),
            TotpError::TooShort { bytes: 9 }
        );
        assert_eq!(
            seed("GEZDGNBVGY3TQOJ").unwrap_err().to_string(),
            "TOTP seed is too short: it decodes to 9 bytes, at least 10 (80 bits) are required"
        );
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        for input in [
            "NOTBASE32SEED0189",
            "otpauth://totp/x?secret=NOTBASE32SEED0189",
            "otpauth://totp/x?secret=NOTBASE32SEED%ZZ",
            "otpauth://totp/x?secret=NOTBASEAAAAAAAAA&algorithm=NOTBASE32",
            "NOTBASE",
        ] {
            let message = seed(input).unwrap_err().to_string();
            assert!(!message.contains("NOTBASE"), "{message}");
            assert!(!message.contains("notbase"), "{message}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let seed = seed(RFC_SEED).unwrap();
        let debug = format!("{seed:?}");
        assert_eq!(debug, "TotpSeed([redacted])");
        assert_eq!(format!("{seed:#?}"), "TotpSeed([redacted])");
        let code = code(&seed, at(59)).unwrap();
        let debug = format!("{code:?}");
        assert!(!debug.contains("287082"), "{debug}");
    }
}
