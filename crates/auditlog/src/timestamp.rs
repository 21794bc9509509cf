//! Trusted time stamps (RFC 3161) on checkpoints: the request the gateway sends, the checks of a
//! reply and of a stored token, and how a verifier turns the tokens into time bounds for entries.
//!
//! What is stamped (docs/audit-format.md 11): the message imprint is SHA-256 of the checkpoint's
//! note text, its three body lines with their final `\n`, the bytes the log's signature covers.
//! A token then proves that the tree of that size and root existed at the token's `genTime`, so
//! every entry below that size existed by then.
//!
//! A token is accepted only if its signer's certificate is one of the trusted certificates or
//! chains to one (each link's signature verified), the certificate is for time stamping and was
//! valid at `genTime`, the CMS signature over the signed attributes verifies with its key (RSA
//! PKCS #1 v1.5 or ECDSA P-256, SHA-256), the signed attributes name the TSTInfo content type,
//! carry its SHA-256 and name the signer's certificate (ESS), and the TSTInfo's imprint is the
//! checkpoint's. All ASN.1 is parsed and
//! written by RustCrypto's `der`, `cms`, `x509-cert` and `x509-tsp`.

use crate::cosign::note_text;
use crate::db::{StoredCheckpoint, StoredTimestamp};
use crate::failure::{Broken, Failure, StampProblem};
use crate::merkle::Hash;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, ObjectIdentifier, OctetString, Uint};
use der::{Any, Decode, Encode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};
use x509_cert::spki::AlgorithmIdentifier;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// Content type of a request body (RFC 3161 section 3.4).
pub const QUERY_CONTENT_TYPE: &str = "application/timestamp-query";
/// Content type of a reply body.
pub const REPLY_CONTENT_TYPE: &str = "application/timestamp-reply";

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ATTR_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ATTR_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ATTR_SIGNING_CERT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ATTR_SIGNING_CERT_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// Longest chain from the signer's certificate to a trusted one.
const MAX_CHAIN: usize = 4;

/// Why a reply or a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("not a well-formed {what}: {why}")]
    Malformed { what: &'static str, why: String },
    #[error("the TSA did not grant a time stamp (status {status}{detail})")]
    NotGranted { status: String, detail: String },
    #[error("the reply answers another request (nonce differs)")]
    NonceMismatch,
    #[error("the token stamps another message imprint than the checkpoint's SHA-256")]
    ImprintMismatch,
    #[error("unsupported algorithm {0}")]
    Unsupported(String),
    #[error("the signed attributes are wrong: {0}")]
    SignedAttributes(String),
    #[error("the token's signature does not verify with its certificate's key")]
    BadSignature,
    /// The signer's certificate is not a trusted one and does not chain to one: a token of
    /// another TSA (the verifier skips it), or a forged certificate.
    #[error("the signer's certificate ({0}) is not a given TSA certificate and does not chain to one")]
    Untrusted(String),
    #[error("the TSA certificate {subject} cannot stamp: {why}")]
    UnfitCertificate { subject: String, why: String },
}

impl TimestampError {
    fn malformed(what: &'static str, e: impl std::fmt::Display) -> TimestampError {
        TimestampError::Malformed { what, why: e.to_string() }
    }
}

/// A certificate the caller trusts: a TSA's own, or a CA that issued it.
#[derive(Debug, Clone)]
pub struct TrustedCert {
    cert: Certificate,
    der: Vec<u8>,
}

impl TrustedCert {
    /// Every certificate of a PEM file (one or more `CERTIFICATE` blocks).
    pub fn load_pem(pem: &[u8]) -> Result<Vec<TrustedCert>, TimestampError> {
        let certs = Certificate::load_pem_chain(pem).map_err(|e| TimestampError::malformed("PEM certificate", e))?;
        if certs.is_empty() {
            return Err(TimestampError::malformed("PEM certificate", "no CERTIFICATE block"));
        }
        certs.into_iter().map(TrustedCert::new).collect()
    }

    fn new(cert: Certificate) -> Result<TrustedCert, TimestampError> {
        let der = cert.to_der().map_err(|e| TimestampError::malformed("certificate", e))?;
        Ok(TrustedCert { cert, der })
    }

    /// The certificate's subject, for reports.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// Hex SHA-256 of the certificate's DER.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }
}

/// The message imprint of a checkpoint: SHA-256 of its note text (None if the note has none).
pub fn imprint_of(note: &str) -> Option<Hash> {
    note_text(note).map(|text| Sha256::digest(text.as_bytes()).into())
}

/// A time-stamp request for one imprint, with the nonce its reply must echo.
#[derive(Debug, Clone)]
pub struct Request {
    pub der: Vec<u8>,
    imprint: Hash,
    nonce: Int,
}

impl Request {
    /// A request with a random 64-bit nonce that asks for the TSA's certificate in the token.
    pub fn new(imprint: &Hash) -> Result<Request, TimestampError> {
        let nonce_bytes: [u8; 8] = rand::random();
        let nonce = Uint::new(&nonce_bytes).map(Int::from).map_err(|e| TimestampError::malformed("nonce", e))?;
        let req = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: sha256_imprint(imprint)?,
            req_policy: None,
            nonce: Some(nonce.clone()),
            cert_req: true,
            extensions: None,
        };
        let der = req.to_der().map_err(|e| TimestampError::malformed("TimeStampReq", e))?;
        Ok(Request { der, imprint: *imprint, nonce })
    }
}

fn sha256_imprint(imprint: &Hash) -> Result<MessageImprint, TimestampError> {
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifier { oid: SHA256, parameters: Some(Any::null()) },
        hashed_message: OctetString::new(imprint.to_vec()).map_err(|e| TimestampError::malformed("imprint", e))?,
    })
}

/// A token that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The TimeStampToken (a CMS ContentInfo), DER: what is stored.
    pub token: Vec<u8>,
    /// The token's genTime, POSIX seconds.
    pub gen_time: u64,
    /// The signer certificate's subject.
    pub signer: String,
}

/// Check a TSA's reply to `req`: granted, the nonce echoed, and a token that verifies
/// ([`verify_token`]). Only what passes may be stored.
pub fn check_reply(reply: &[u8], req: &Request, trusted: &[TrustedCert]) -> Result<Stamp, TimestampError> {
    let resp = TimeStampResp::from_der(reply).map_err(|e| TimestampError::malformed("TimeStampResp", e))?;
    use cmpv2::status::PkiStatus;
    if !matches!(resp.status.status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
        let text = resp.status.status_string.iter().flatten().map(|s| s.as_str()).collect::<Vec<_>>().join("; ");
        let fail = resp.status.fail_info.map(|f| format!(" {f:?}")).unwrap_or_default();
        let detail = if text.is_empty() { fail } else { format!("{fail}: {text}") };
        return Err(TimestampError::NotGranted { status: format!("{:?}", resp.status.status), detail });
    }
    let token =
        resp.time_stamp_token.ok_or_else(|| TimestampError::malformed("TimeStampResp", "granted without a token"))?;
    let token = token.to_der().map_err(|e| TimestampError::malformed("TimeStampToken", e))?;
    let (stamp, tst) = verify(&token, &req.imprint, trusted)?;
    if tst.nonce.as_ref() != Some(&req.nonce) {
        return Err(TimestampError::NonceMismatch);
    }
    Ok(stamp)
}

/// Check a stored token against the checkpoint imprint it is stored for.
pub fn verify_token(token: &[u8], imprint: &Hash, trusted: &[TrustedCert]) -> Result<Stamp, TimestampError> {
    verify(token, imprint, trusted).map(|(stamp, _)| stamp)
}

fn verify(token: &[u8], imprint: &Hash, trusted: &[TrustedCert]) -> Result<(Stamp, TstInfo), TimestampError> {
    let parts = Parts::parse(token)?;
    let gen_time = parts.tst.gen_time.to_unix_duration().as_secs();
    // Who signed, and is that someone the caller trusts?
    let cert = signer_cert(&parts.signer, &parts.embedded, trusted)?;
    chain_to_trusted(&cert, &parts.embedded, trusted)?;
    fit_to_stamp(&cert, gen_time)?;
    // What they signed: the signed attributes, which commit to the TSTInfo and the certificate.
    let signed = check_signed_attributes(&parts.signer, &parts.tst_der)?;
    check_signing_certificate(&parts.signer, &cert)?;
    if parts.signer.digest_alg.oid != SHA256 {
        return Err(TimestampError::Unsupported(format!("digest {}", parts.signer.digest_alg.oid)));
    }
    verify_signature(&cert, &parts.signer.signature_algorithm.oid, &signed, parts.signer.signature.as_bytes())?;
    let ours = sha256_imprint(imprint)?;
    let theirs = &parts.tst.message_imprint;
    if theirs.hash_algorithm.oid != SHA256 || theirs.hashed_message != ours.hashed_message {
        return Err(TimestampError::ImprintMismatch);
    }
    let signer = cert.tbs_certificate.subject.to_string();
    Ok((Stamp { token: token.to_vec(), gen_time, signer }, parts.tst))
}

/// A token taken apart: its one signer, the certificates it carries, the TSTInfo and its DER.
struct Parts {
    signer: SignerInfo,
    embedded: Vec<Certificate>,
    tst: TstInfo,
    tst_der: Vec<u8>,
}

impl Parts {
    fn parse(token: &[u8]) -> Result<Parts, TimestampError> {
        let info = ContentInfo::from_der(token).map_err(|e| TimestampError::malformed("TimeStampToken", e))?;
        if info.content_type != SIGNED_DATA {
            return Err(TimestampError::malformed("TimeStampToken", "its content is not CMS SignedData"));
        }
        let sd: SignedData = info.content.decode_as().map_err(|e| TimestampError::malformed("SignedData", e))?;
        if sd.encap_content_info.econtent_type != CT_TST_INFO {
            return Err(TimestampError::malformed("TimeStampToken", "its content is not a TSTInfo"));
        }
        let content = sd
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or_else(|| TimestampError::malformed("SignedData", "no content"))?;
        let tst_der = content
            .decode_as::<OctetString>()
            .map_err(|e| TimestampError::malformed("SignedData content", e))?
            .into_bytes();
        let tst = TstInfo::from_der(&tst_der).map_err(|e| TimestampError::malformed("TSTInfo", e))?;
        let [signer] = sd.signer_infos.0.as_slice() else {
            return Err(TimestampError::malformed("SignedData", "not exactly one signer"));
        };
        let embedded = sd
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| match c {
                cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        Ok(Parts { signer: signer.clone(), embedded, tst, tst_der })
    }
}

/// The certificate the signer identifier names, among the embedded and the trusted ones.
fn signer_cert(
    signer: &SignerInfo,
    embedded: &[Certificate],
    trusted: &[TrustedCert],
) -> Result<Certificate, TimestampError> {
    let names = |c: &Certificate| match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            c.tbs_certificate.issuer == id.issuer && c.tbs_certificate.serial_number == id.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => subject_key_id(c).as_deref() == Some(ski.0.as_bytes()),
    };
    embedded
        .iter()
        .chain(trusted.iter().map(|t| &t.cert))
        .find(|c| names(c))
        .cloned()
        .ok_or_else(|| TimestampError::malformed("TimeStampToken", "the signer's certificate is not in it (nor given)"))
}

fn subject_key_id(c: &Certificate) -> Option<Vec<u8>> {
    let ext = extension(c, &ObjectIdentifier::new_unwrap("2.5.29.14"))?;
    OctetString::from_der(ext.extn_value.as_bytes()).ok().map(|o| o.as_bytes().to_vec())
}

fn extension<'c>(c: &'c Certificate, oid: &ObjectIdentifier) -> Option<&'c x509_cert::ext::Extension> {
    c.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == *oid)
}

/// ESS `SigningCertificate` (RFC 2634 5.4): the certificate the signer meant, by its SHA-1.
#[derive(der::Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(der::Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// ESS `SigningCertificateV2` (RFC 5035 3): the same with a named hash, SHA-256 by default.
#[derive(der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(der::Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<x509_cert::spki::AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// RFC 3161 2.4.2 (with RFC 5816): the signed attributes name the signer's certificate, so
/// that another certificate for the same key cannot stand in for it.
fn check_signing_certificate(signer: &SignerInfo, cert: &Certificate) -> Result<(), TimestampError> {
    let bad = |why: &str| TimestampError::SignedAttributes(why.to_string());
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| bad("there are none"))?;
    let der = cert.to_der().map_err(|e| TimestampError::malformed("certificate", e))?;
    let value = |oid| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.get(0));
    let named = if let Some(v) = value(ATTR_SIGNING_CERT_V2) {
        let sc: SigningCertificateV2 = v.decode_as().map_err(|_| bad("the signing-certificate-v2 is malformed"))?;
        let first = sc.certs.first().ok_or_else(|| bad("the signing-certificate-v2 names no certificate"))?;
        if first.hash_algorithm.as_ref().is_some_and(|a| a.oid != SHA256) {
            return Err(TimestampError::Unsupported("a signing-certificate-v2 hash other than SHA-256".into()));
        }
        first.cert_hash.as_bytes() == Sha256::digest(&der).as_slice()
    } else if let Some(v) = value(ATTR_SIGNING_CERT) {
        let sc: SigningCertificate = v.decode_as().map_err(|_| bad("the signing-certificate is malformed"))?;
        let first = sc.certs.first().ok_or_else(|| bad("the signing-certificate names no certificate"))?;
        first.cert_hash.as_bytes() == <sha1::Sha1 as Digest>::digest(&der).as_slice()
    } else {
        return Err(bad("no signing-certificate attribute names the TSA's certificate"));
    };
    if !named {
        return Err(bad("the signing-certificate attribute names another certificate than the signer's"));
    }
    Ok(())
}

/// Walk from `cert` up through issuers (embedded or trusted) until a trusted certificate is
/// reached, verifying each link's signature. Issuers above the signer must be CAs.
fn chain_to_trusted(
    cert: &Certificate,
    embedded: &[Certificate],
    trusted: &[TrustedCert],
) -> Result<(), TimestampError> {
    let subject = cert.tbs_certificate.subject.to_string();
    let is_trusted = |c: &Certificate| c.to_der().is_ok_and(|d| trusted.iter().any(|t| t.der == d));
    let mut current = cert.clone();
    for _ in 0..MAX_CHAIN {
        if is_trusted(&current) {
            return Ok(());
        }
        let issuer = trusted
            .iter()
            .map(|t| &t.cert)
            .chain(embedded.iter())
            .filter(|i| i.tbs_certificate.subject == current.tbs_certificate.issuer && is_ca(i))
            .find(|i| signed_by(&current, i));
        match issuer {
            Some(i) => current = i.clone(),
            None => break,
        }
    }
    Err(TimestampError::Untrusted(subject))
}

fn is_ca(c: &Certificate) -> bool {
    extension(c, &BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|b| b.ca)
}

/// Whether `issuer`'s key verifies `cert`'s signature.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(tbs) = cert.tbs_certificate.to_der() else { return false };
    let Some(sig) = cert.signature.as_bytes() else { return false };
    verify_signature(issuer, &cert.signature_algorithm.oid, &tbs, sig).is_ok()
}

/// RFC 3161 2.3: the TSA's certificate is for time stamping only (critical extended key usage),
/// and it was valid when it stamped.
fn fit_to_stamp(cert: &Certificate, gen_time: u64) -> Result<(), TimestampError> {
    let unfit = |why: &str| TimestampError::UnfitCertificate {
        subject: cert.tbs_certificate.subject.to_string(),
        why: why.to_string(),
    };
    let eku = extension(cert, &EXT_KEY_USAGE).ok_or_else(|| unfit("it has no extended key usage"))?;
    let usage =
        ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).map_err(|_| unfit("its key usage is malformed"))?;
    if !eku.critical || usage.0 != [KP_TIME_STAMPING] {
        return Err(unfit("its extended key usage is not timeStamping alone, marked critical"));
    }
    let validity = &cert.tbs_certificate.validity;
    let (from, to) =
        (validity.not_before.to_unix_duration().as_secs(), validity.not_after.to_unix_duration().as_secs());
    if gen_time < from || gen_time > to {
        return Err(unfit("it was not valid at the token's genTime"));
    }
    Ok(())
}

/// RFC 5652 5.3 and 11: the signed attributes name the TSTInfo as content type and carry the
/// SHA-256 of the TSTInfo's DER. Returns the bytes the signature covers.
fn check_signed_attributes(signer: &SignerInfo, tst_der: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let bad = |why: &str| TimestampError::SignedAttributes(why.to_string());
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| bad("there are none"))?;
    let single = |oid: ObjectIdentifier| -> Result<&Any, TimestampError> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(a), None) if a.values.len() == 1 => Ok(a.values.get(0).expect("one value")),
            _ => Err(bad(&format!("attribute {oid} is not present exactly once with one value"))),
        }
    };
    let content_type: ObjectIdentifier =
        single(ATTR_CONTENT_TYPE)?.decode_as().map_err(|_| bad("the content type is not an OID"))?;
    if content_type != CT_TST_INFO {
        return Err(bad("the content type is not id-ct-TSTInfo"));
    }
    let digest: OctetString =
        single(ATTR_MESSAGE_DIGEST)?.decode_as().map_err(|_| bad("the message digest is not an OCTET STRING"))?;
    if digest.as_bytes() != Sha256::digest(tst_der).as_slice() {
        return Err(bad("the message digest is not the SHA-256 of the TSTInfo"));
    }
    // What the signature covers: the attributes' DER as a SET OF (RFC 5652 5.4), not [0].
    attrs.to_der().map_err(|e| TimestampError::malformed("signed attributes", e))
}

/// Verify `sig` over `msg` with the key of `cert`: RSA PKCS #1 v1.5 or ECDSA P-256, SHA-256.
fn verify_signature(cert: &Certificate, alg: &ObjectIdentifier, msg: &[u8], sig: &[u8]) -> Result<(), TimestampError> {
    use signature::Verifier;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(|e| TimestampError::malformed("public key", e))?;
    match (spki.algorithm.oid, *alg) {
        (RSA_ENCRYPTION, RSA_ENCRYPTION | SHA256_WITH_RSA) => {
            use rsa::pkcs8::DecodePublicKey;
            let key = rsa::RsaPublicKey::from_public_key_der(&spki_der)
                .map_err(|e| TimestampError::malformed("RSA public key", e))?;
            let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| TimestampError::BadSignature)?;
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(msg, &sig).map_err(|_| TimestampError::BadSignature)
        }
        (EC_PUBLIC_KEY, ECDSA_WITH_SHA256) => {
            use p256::pkcs8::DecodePublicKey;
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                .map_err(|_| TimestampError::Unsupported("an elliptic curve other than P-256".into()))?;
            let sig = p256::ecdsa::Signature::from_der(sig).map_err(|_| TimestampError::BadSignature)?;
            key.verify(msg, &sig).map_err(|_| TimestampError::BadSignature)
        }
        (key, alg) => Err(TimestampError::Unsupported(format!("signature {alg} with a key of type {key}"))),
    }
}

/// Entries `from..=to` existed by `time`, shown by the stamp on the checkpoint of `tree_size`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TimeBound {
    pub from: u64,
    pub to: u64,
    /// RFC 3339, UTC.
    pub existed_by: String,
    pub tree_size: u64,
    pub tsa: String,
}

/// What the stored tokens show.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TimestampSummary {
    /// The given certificates' subjects.
    pub certificates: Vec<String>,
    pub tokens_verified: u64,
    /// Tokens of TSAs that do not chain to a given certificate: not counted.
    pub tokens_other: u64,
    /// Largest checkpoint size with a verified token (0: none).
    pub stamped_size: u64,
    /// The earliest time each entry is proven to have existed by, as compact ranges.
    pub bounds: Vec<TimeBound>,
}

/// Check every stored token against the stored checkpoint of its size (already verified by the
/// log's key) and derive the time bounds. A token whose certificate chains to a trusted one but
/// that does not check out fails the log at the checkpoint it names; tokens of other TSAs are
/// skipped and counted.
pub fn assess(
    trusted: &[TrustedCert],
    checkpoints: &[StoredCheckpoint],
    rows: &[StoredTimestamp],
) -> Result<TimestampSummary, Failure> {
    let by_size: BTreeMap<u64, &StoredCheckpoint> = checkpoints.iter().map(|c| (c.size, c)).collect();
    let fail = |row: &StoredTimestamp, problem: StampProblem| {
        let (tsa, size) = (row.tsa.clone(), row.size);
        Failure::new(size.saturating_sub(1), Broken::Timestamp { tsa, size, problem })
    };
    // Earliest verified genTime per checkpoint size.
    let mut stamped: BTreeMap<u64, (u64, &str)> = BTreeMap::new();
    let (mut verified, mut other) = (0, 0);
    for row in rows {
        let imprint = by_size
            .get(&row.size)
            .and_then(|c| imprint_of(&c.note))
            .ok_or_else(|| fail(row, StampProblem::NoCheckpoint))?;
        match verify_token(&row.token, &imprint, trusted) {
            Ok(stamp) => {
                if format_gen_time(stamp.gen_time) != row.gen_time {
                    return Err(fail(row, StampProblem::GenTimeMismatch { stored: row.gen_time.clone() }));
                }
                verified += 1;
                let best = stamped.entry(row.size).or_insert((stamp.gen_time, &row.tsa));
                if stamp.gen_time < best.0 {
                    *best = (stamp.gen_time, &row.tsa);
                }
            }
            Err(TimestampError::Untrusted(_)) => other += 1,
            Err(e) => return Err(fail(row, StampProblem::Invalid(e))),
        }
    }
    Ok(TimestampSummary {
        certificates: trusted.iter().map(TrustedCert::subject).collect(),
        tokens_verified: verified,
        tokens_other: other,
        stamped_size: stamped.keys().next_back().copied().unwrap_or(0),
        bounds: bounds(&stamped),
    })
}

/// Entry `n` existed by the earliest genTime of any stamped checkpoint of size greater than `n`:
/// walking sizes downwards, the running minimum is each range's bound; equal neighbours merge.
fn bounds(stamped: &BTreeMap<u64, (u64, &str)>) -> Vec<TimeBound> {
    let sizes: Vec<u64> = stamped.keys().copied().collect();
    let mut out: Vec<TimeBound> = Vec::new();
    let mut best: Option<(u64, u64, &str)> = None;
    for (i, size) in sizes.iter().enumerate().rev() {
        let (time, tsa) = stamped[size];
        if best.is_none_or(|(t, ..)| time < t) {
            best = Some((time, *size, tsa));
        }
        let (time, tree_size, tsa) = best.expect("set above");
        let from = if i == 0 { 0 } else { sizes[i - 1] };
        let bound =
            TimeBound { from, to: size - 1, existed_by: format_gen_time(time), tree_size, tsa: tsa.to_string() };
        match out.last_mut() {
            Some(next) if next.tree_size == tree_size => next.from = from,
            _ => out.push(bound),
        }
    }
    out.reverse();
    out
}

/// A genTime as stored and reported: RFC 3339, UTC, whole seconds.
pub fn format_gen_time(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(list: &[(u64, u64)]) -> BTreeMap<u64, (u64, &'static str)> {
        list.iter().map(|(size, time)| (*size, (*time, "tsa"))).collect()
    }

    fn ranges(b: &[TimeBound]) -> Vec<(u64, u64, u64)> {
        b.iter().map(|b| (b.from, b.to, b.tree_size)).collect()
    }

    #[test]
    fn each_entry_gets_the_earliest_stamp_of_a_larger_tree() {
        // Sizes 10, 20, 30 stamped in time order: three ranges.
        let b = bounds(&stamped(&[(10, 100), (20, 200), (30, 300)]));
        assert_eq!(ranges(&b), vec![(0, 9, 10), (10, 19, 20), (20, 29, 30)]);
        assert_eq!(b[0].existed_by, "1970-01-01T00:01:40Z");
        // A later tree stamped earlier (another TSA's clock) bounds the smaller ones too.
        let b = bounds(&stamped(&[(10, 500), (20, 200), (30, 300)]));
        assert_eq!(ranges(&b), vec![(0, 19, 20), (20, 29, 30)]);
        assert!(bounds(&stamped(&[])).is_empty());
    }

    #[test]
    fn requests_carry_the_imprint_and_a_nonce() {
        let imprint = [7u8; 32];
        let a = Request::new(&imprint).unwrap();
        let b = Request::new(&imprint).unwrap();
        let parsed = TimeStampReq::from_der(&a.der).unwrap();
        assert_eq!(parsed.message_imprint.hashed_message.as_bytes(), &imprint);
        assert_eq!(parsed.message_imprint.hash_algorithm.oid, SHA256);
        assert!(parsed.cert_req);
        assert_ne!(a.nonce, b.nonce, "a fresh nonce per request");
        assert_eq!(imprint_of("o\n1\nroot\n\n\u{2014} o sig\n"), Some(Sha256::digest(b"o\n1\nroot\n").into()));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let req = Request::new(&[0; 32]).unwrap();
        assert!(matches!(check_reply(b"\x30\x03\x02\x01\x00", &req, &[]), Err(TimestampError::Malformed { .. })));
        assert!(matches!(verify_token(b"nonsense", &[0; 32], &[]), Err(TimestampError::Malformed { .. })));
        assert!(TrustedCert::load_pem(b"not pem").is_err());
    }
}
