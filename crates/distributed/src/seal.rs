//! Every control message of a run, sealed: which run, who sent it, in which
//! order, until when, and — with a control token — an HMAC-SHA-256 over all
//! of that, the subject and the payload.
//!
//! The seal travels in NATS headers (`Cliffload-Run`, `-From`, `-Seq`,
//! `-Expires`, `-Mac`), so payloads stay as they were (JSON plans a person
//! can read with `nats sub`, MessagePack records). The key is derived per
//! run from the token (HKDF-SHA-256, the run id as context), so the token
//! never travels and a message of one run means nothing in another.
//!
//! An [`Opener`] accepts a message only if it names the opener's run, comes
//! from a party the opener expects, has not expired, comes after the last
//! one accepted from that party on that subject (a replay is refused), and,
//! with a key, carries a MAC made with it. Nothing about a refused message
//! changes the opener's state.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use ring::{hkdf, hmac};

/// Header: the run id.
pub const RUN: &str = "Cliffload-Run";
/// Header: the sender, `coordinator` or `worker.K`.
pub const FROM: &str = "Cliffload-From";
/// Header: the sender's sequence number in this run.
pub const SEQ: &str = "Cliffload-Seq";
/// Header: the last instant the message is good for, ms since the Unix epoch.
pub const EXPIRES: &str = "Cliffload-Expires";
/// Header: HMAC-SHA-256 of the sealed fields, hex (only with a control token).
pub const MAC: &str = "Cliffload-Mac";

/// How long a control message is good for after it is sent.
pub const TTL: Duration = Duration::from_secs(30);

/// How far a coordinator's and its workers' clocks may disagree. The start
/// instant already needs clocks in step (NTP); this is the slack on expiry.
pub const SKEW: Duration = Duration::from_secs(10);

/// The largest control message either side reads (a plan, a second's
/// record): far above what a real one weighs, far below what would hurt.
pub const MAX_MESSAGE: usize = 8 << 20;

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The coordinator of the run.
    Coordinator,
    /// Worker `k` of the run (its position, from 0).
    Worker(u32),
}

impl Party {
    fn header(self) -> String {
        match self {
            Self::Coordinator => "coordinator".to_owned(),
            Self::Worker(k) => format!("worker.{k}"),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text == "coordinator" {
            return Some(Self::Coordinator);
        }
        let k = text.strip_prefix("worker.")?;
        // Digits only: `+1` or ` 1` would be a second spelling of one sender.
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        k.parse().ok().map(Self::Worker)
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Coordinator => f.write_str("the coordinator"),
            Self::Worker(k) => write!(f, "worker {}", k + 1),
        }
    }
}

/// The per-run key of `token`.
fn run_key(token: &str, run_id: &str) -> hmac::Key {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"cliffload control v1");
    let prk = salt.extract(token.as_bytes());
    let info = [run_id.as_bytes()];
    // `expand` fails only for an output longer than 255 hash lengths; an
    // HMAC-SHA-256 key is one.
    #[allow(clippy::expect_used)]
    let okm = prk
        .expand(&info, hmac::HMAC_SHA256)
        .expect("one hash length");
    hmac::Key::from(okm)
}

/// What the MAC covers: every sealed field, the subject and the payload,
/// each length-prefixed so no two messages share an input.
fn mac_input(
    subject: &str,
    run: &str,
    from: &str,
    seq: u64,
    expires_ms: u64,
    payload: &[u8],
) -> Vec<u8> {
    let seq = seq.to_be_bytes();
    let expires = expires_ms.to_be_bytes();
    let parts: [&[u8]; 6] = [
        subject.as_bytes(),
        run.as_bytes(),
        from.as_bytes(),
        &seq,
        &expires,
        payload,
    ];
    let mut input = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for p in parts {
        input.extend_from_slice(&(p.len() as u64).to_be_bytes());
        input.extend_from_slice(p);
    }
    input
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seals the messages one party sends in one run.
pub struct Sealer {
    run_id: String,
    from: Party,
    key: Option<hmac::Key>,
    seq: AtomicU64,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("run_id", &self.run_id)
            .field("from", &self.from)
            .field("signed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// For `from`'s messages in run `run_id`, signed when there is a token.
    pub fn new(run_id: &str, from: Party, token: Option<&str>) -> Self {
        Self {
            run_id: run_id.to_owned(),
            from,
            key: token.map(|t| run_key(t, run_id)),
            seq: AtomicU64::new(0),
        }
    }

    /// The headers of the next message on `subject` carrying `payload`.
    pub fn seal(&self, subject: &str, payload: &[u8]) -> HeaderMap {
        self.seal_at(subject, payload, now_ms())
    }

    fn seal_at(&self, subject: &str, payload: &[u8], now_ms: u64) -> HeaderMap {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let expires = now_ms.saturating_add(TTL.as_millis() as u64);
        let from = self.from.header();
        let mut h = HeaderMap::new();
        h.insert(RUN, self.run_id.as_str());
        h.insert(FROM, from.as_str());
        h.insert(SEQ, seq.to_string().as_str());
        h.insert(EXPIRES, expires.to_string().as_str());
        if let Some(key) = &self.key {
            let input = mac_input(subject, &self.run_id, &from, seq, expires, payload);
            let tag = hmac::sign(key, &input);
            h.insert(MAC, hex(tag.as_ref()).as_str());
        }
        h
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Larger than [`MAX_MESSAGE`].
    TooLarge(usize),
    /// Without the seal's headers, or with one malformed.
    Unsealed(&'static str),
    /// For another run.
    OtherRun,
    /// From a party this side does not expect.
    Stranger(String),
    /// Past its expiry, or expiring further ahead than a sender may set.
    Expired,
    /// Not after the last message accepted from its sender on its subject.
    Replayed {
        /// Its number.
        seq: u64,
        /// The last accepted.
        last: u64,
    },
    /// Without a MAC where this side has a key.
    Unsigned,
    /// With a MAC where this side has no key: the sender holds a token this side lacks.
    SignedWithoutKey,
    /// A MAC that does not verify.
    BadMac,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "{n} bytes, more than the {MAX_MESSAGE} a control message may have"),
            Self::Unsealed(what) => write!(f, "not sealed ({what}): not from a cliffload {} coordinator or worker", crate::control::VERSION),
            Self::OtherRun => f.write_str("it names another run"),
            Self::Stranger(who) => write!(f, "it claims to come from {who}, who is not part of this run"),
            Self::Expired => write!(f, "it has expired (or expires further ahead than a sender may set): an old message replayed, or clocks more than {} s apart (run NTP)", SKEW.as_secs()),
            Self::Replayed { seq, last } => write!(f, "its sequence number {seq} is not after {last}, the last accepted: a replay"),
            Self::Unsigned => f.write_str("it is not signed, and this run has a control token"),
            Self::SignedWithoutKey => f.write_str("it is signed with a control token and this side has none (give both sides the same --control-token)"),
            Self::BadMac => f.write_str("its signature does not verify: not made with this run's control token, or altered on the way"),
        }
    }
}

/// What a sealed message said about itself, once accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Its sender.
    pub from: Party,
    /// Its sequence number.
    pub seq: u64,
}

/// The parts of a seal, read from headers.
#[derive(Debug)]
struct Seal<'a> {
    run: &'a str,
    from_text: &'a str,
    from: Party,
    seq: u64,
    expires_ms: u64,
    mac: Option<&'a str>,
}

fn read_seal(headers: Option<&HeaderMap>) -> Result<Seal<'_>, Refusal> {
    let h = headers.ok_or(Refusal::Unsealed("no headers"))?;
    let get = |name: &'static str| h.get(name).map(|v| v.as_str());
    let run = get(RUN).ok_or(Refusal::Unsealed("no run id"))?;
    let from_text = get(FROM).ok_or(Refusal::Unsealed("no sender"))?;
    let from = Party::parse(from_text).ok_or(Refusal::Unsealed("a sender that is no party"))?;
    let number = |name| {
        get(name)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
    };
    let seq = number(SEQ).ok_or(Refusal::Unsealed("no sequence number"))?;
    let expires_ms = number(EXPIRES).ok_or(Refusal::Unsealed("no expiry"))?;
    Ok(Seal {
        run,
        from_text,
        from,
        seq,
        expires_ms,
        mac: get(MAC),
    })
}

/// The run id a message's seal names, if it has one (a worker reads it to
/// derive the key before it can check anything else).
pub fn run_of(headers: Option<&HeaderMap>) -> Option<&str> {
    headers?.get(RUN).map(|v| v.as_str())
}

/// Checks the messages one side receives in one run.
pub struct Opener {
    run_id: String,
    key: Option<hmac::Key>,
    /// Workers in the run, for a coordinator; `None` for a worker, which
    /// accepts only its coordinator.
    workers: Option<u32>,
    last: HashMap<(Party, String), u64>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("run_id", &self.run_id)
            .field("signed", &self.key.is_some())
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// A worker's: accepts its coordinator's messages of run `run_id`.
    pub fn for_worker(run_id: &str, token: Option<&str>) -> Self {
        Self::new(run_id, token, None)
    }

    /// A coordinator's: accepts the messages of its `workers` workers.
    pub fn for_coordinator(run_id: &str, token: Option<&str>, workers: u32) -> Self {
        Self::new(run_id, token, Some(workers))
    }

    fn new(run_id: &str, token: Option<&str>, workers: Option<u32>) -> Self {
        Self {
            run_id: run_id.to_owned(),
            key: token.map(|t| run_key(t, run_id)),
            workers,
            last: HashMap::new(),
        }
    }

    /// Whether this side has a key (a control token).
    pub fn signed(&self) -> bool {
        self.key.is_some()
    }

    /// Accepts a message, or says why not; a refused message leaves no trace.
    pub fn open(
        &mut self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Sealed, Refusal> {
        self.open_at(subject, headers, payload, now_ms())
    }

    /// [`Self::open`] at a given instant (ms since the Unix epoch).
    pub fn open_at(
        &mut self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<Sealed, Refusal> {
        let sealed = self.check_at(subject, headers, payload, now_ms)?;
        self.commit(subject, &sealed);
        Ok(sealed)
    }

    /// Checks a message as [`Self::open`] does without taking it: its
    /// sequence number is spent only by [`Self::commit`], once the caller
    /// has found its body good too (so a message refused for its body
    /// cannot block the sender's next ones).
    pub fn check(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Sealed, Refusal> {
        self.check_at(subject, headers, payload, now_ms())
    }

    /// Takes a message [`Self::check`] accepted.
    pub fn commit(&mut self, subject: &str, sealed: &Sealed) {
        let last = self
            .last
            .entry((sealed.from, subject.to_owned()))
            .or_insert(0);
        *last = (*last).max(sealed.seq);
    }

    fn check_at(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<Sealed, Refusal> {
        if payload.len() > MAX_MESSAGE {
            return Err(Refusal::TooLarge(payload.len()));
        }
        let seal = read_seal(headers)?;
        if seal.run != self.run_id {
            return Err(Refusal::OtherRun);
        }
        let expected = match (self.workers, seal.from) {
            (None, Party::Coordinator) => true,
            (Some(n), Party::Worker(k)) => k < n,
            _ => false,
        };
        if !expected {
            return Err(Refusal::Stranger(seal.from.to_string()));
        }
        let skew = SKEW.as_millis() as u64;
        let ttl = TTL.as_millis() as u64;
        if seal.expires_ms.saturating_add(skew) < now_ms
            || seal.expires_ms > now_ms.saturating_add(ttl + skew)
        {
            return Err(Refusal::Expired);
        }
        match (&self.key, seal.mac) {
            (None, None) => {}
            (None, Some(_)) => return Err(Refusal::SignedWithoutKey),
            (Some(_), None) => return Err(Refusal::Unsigned),
            (Some(key), Some(mac)) => {
                let tag = unhex(mac).ok_or(Refusal::BadMac)?;
                let input = mac_input(
                    subject,
                    seal.run,
                    seal.from_text,
                    seal.seq,
                    seal.expires_ms,
                    payload,
                );
                // Constant time, by ring.
                if hmac::verify(key, &input, &tag).is_err() {
                    return Err(Refusal::BadMac);
                }
            }
        }
        let last = self
            .last
            .get(&(seal.from, subject.to_owned()))
            .copied()
            .unwrap_or(0);
        if seal.seq <= last {
            return Err(Refusal::Replayed {
                seq: seal.seq,
                last,
            });
        }
        Ok(Sealed {
            from: seal.from,
            seq: seal.seq,
        })
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A new control token: 32 random bytes, hex (for the message that asks
/// for one).
pub fn generate_token() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // No system randomness: a v4 UUID's is still unpredictable enough
        // for a suggestion the user can replace.
        return uuid::Uuid::new_v4().simple().to_string();
    }
    hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn sealed(
        run: &str,
        from: Party,
        token: Option<&str>,
        subject: &str,
        body: &[u8],
    ) -> HeaderMap {
        Sealer::new(run, from, token).seal_at(subject, body, NOW)
    }

    #[test]
    fn a_sealed_message_opens_once_and_only_for_its_run_subject_and_body() {
        let h = sealed("r1", Party::Worker(1), Some("tok"), "s.done", b"body");
        let mut o = Opener::for_coordinator("r1", Some("tok"), 2);
        assert_eq!(
            o.open_at("s.done", Some(&h), b"body", NOW),
            Ok(Sealed {
                from: Party::Worker(1),
                seq: 1
            })
        );
        assert!(matches!(
            o.open_at("s.done", Some(&h), b"body", NOW),
            Err(Refusal::Replayed { seq: 1, last: 1 })
        ));
        let fresh = || Opener::for_coordinator("r1", Some("tok"), 2);
        assert_eq!(
            fresh().open_at("s.other", Some(&h), b"body", NOW),
            Err(Refusal::BadMac)
        );
        assert_eq!(
            fresh().open_at("s.done", Some(&h), b"bodY", NOW),
            Err(Refusal::BadMac)
        );
        let mut other_run = Opener::for_coordinator("r2", Some("tok"), 2);
        assert_eq!(
            other_run.open_at("s.done", Some(&h), b"body", NOW),
            Err(Refusal::OtherRun)
        );
        let mut other_token = Opener::for_coordinator("r1", Some("tok2"), 2);
        assert_eq!(
            other_token.open_at("s.done", Some(&h), b"body", NOW),
            Err(Refusal::BadMac)
        );
    }

    #[test]
    fn every_sealed_field_is_covered_by_the_mac() {
        let h = sealed("r1", Party::Worker(0), Some("tok"), "s", b"x");
        for (name, value) in [
            (FROM, "worker.1"),
            (SEQ, "2"),
            (EXPIRES, &(NOW + 1).to_string()),
        ] {
            let mut forged = h.clone();
            forged.insert(name, value);
            let mut o = Opener::for_coordinator("r1", Some("tok"), 2);
            assert_eq!(
                o.open_at("s", Some(&forged), b"x", NOW),
                Err(Refusal::BadMac),
                "{name}"
            );
        }
    }

    #[test]
    fn strangers_the_unsigned_and_the_expired_are_refused() {
        let mut o = Opener::for_coordinator("r1", Some("tok"), 2);
        let outsider = sealed("r1", Party::Worker(2), Some("tok"), "s", b"");
        assert!(matches!(
            o.open_at("s", Some(&outsider), b"", NOW),
            Err(Refusal::Stranger(_))
        ));
        let coordinator = sealed("r1", Party::Coordinator, Some("tok"), "s", b"");
        assert!(matches!(
            o.open_at("s", Some(&coordinator), b"", NOW),
            Err(Refusal::Stranger(_))
        ));
        let unsigned = sealed("r1", Party::Worker(0), None, "s", b"");
        assert_eq!(
            o.open_at("s", Some(&unsigned), b"", NOW),
            Err(Refusal::Unsigned)
        );
        assert!(matches!(
            o.open_at("s", None, b"", NOW),
            Err(Refusal::Unsealed(_))
        ));
        let h = sealed("r1", Party::Worker(0), Some("tok"), "s", b"");
        let late = NOW + (TTL + SKEW).as_millis() as u64 + 1;
        assert_eq!(o.open_at("s", Some(&h), b"", late), Err(Refusal::Expired));
        let early = NOW - SKEW.as_millis() as u64 - 1;
        assert_eq!(o.open_at("s", Some(&h), b"", early), Err(Refusal::Expired));
        // None of the refusals spent the sequence number.
        assert!(o.open_at("s", Some(&h), b"", NOW).is_ok());
        let mut keyless = Opener::for_worker("r1", None);
        let signed = sealed("r1", Party::Coordinator, Some("tok"), "s", b"");
        assert_eq!(
            keyless.open_at("s", Some(&signed), b"", NOW),
            Err(Refusal::SignedWithoutKey)
        );
        let big = vec![0u8; MAX_MESSAGE + 1];
        assert!(matches!(
            keyless.open_at("s", None, &big, NOW),
            Err(Refusal::TooLarge(_))
        ));
    }

    #[test]
    fn senders_have_one_spelling() {
        assert_eq!(Party::parse("worker.12"), Some(Party::Worker(12)));
        assert_eq!(Party::parse("coordinator"), Some(Party::Coordinator));
        for bad in [
            "worker.+1",
            "worker. 1",
            "worker.",
            "worker.99999999999",
            "Coordinator",
            "",
        ] {
            assert_eq!(Party::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn generated_tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
