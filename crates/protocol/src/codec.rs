//! JSON and MsgPack bodies.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::headers;

/// How a body is encoded (a task's `encoding:`, `json` or `msgpack`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// JSON, `Content-Type: application/json` (the default).
    #[default]
    Json,
    /// MsgPack, `Content-Type: application/msgpack`.
    MsgPack,
}

/// A body that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// JSON failed.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// MsgPack decoding failed.
    #[error("invalid MsgPack: {0}")]
    MsgPackDecode(#[from] rmp_serde::decode::Error),
    /// A MsgPack value was followed by more bytes: not one MsgPack value.
    #[error("invalid MsgPack: {extra} bytes after the value")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
    /// MsgPack encoding failed.
    #[error("cannot encode MsgPack: {0}")]
    MsgPackEncode(#[from] rmp_serde::encode::Error),
}

impl std::fmt::Display for Codec {
    /// `JSON` or `MsgPack`, as a person writes them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Codec::Json => "JSON",
            Codec::MsgPack => "MsgPack",
        })
    }
}

impl Codec {
    /// The codec a `Content-Type` value names: `application/msgpack` (any case,
    /// parameters after `;` ignored) is MsgPack, anything else JSON.
    pub fn from_content_type(value: &str) -> Codec {
        let mime = value.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case(headers::MSGPACK) {
            Codec::MsgPack
        } else {
            Codec::Json
        }
    }

    /// Guesses the codec of a body with no `Content-Type`: JSON when it
    /// starts (after whitespace) with `{`, `[` or `"`, MsgPack otherwise.
    pub fn sniff(body: &[u8]) -> Codec {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            None | Some(b'{' | b'[' | b'"') => Codec::Json,
            Some(_) => Codec::MsgPack,
        }
    }

    /// The `Content-Type` value for this codec.
    pub fn mime(self) -> &'static str {
        match self {
            Codec::Json => headers::JSON,
            Codec::MsgPack => headers::MSGPACK,
        }
    }

    /// Encodes a value. MsgPack maps keep their field names (as Python's msgpack does).
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        Ok(match self {
            Codec::Json => serde_json::to_vec(value)?,
            Codec::MsgPack => rmp_serde::to_vec_named(value)?,
        })
    }

    /// Decodes a body holding exactly one value.
    pub fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, CodecError> {
        match self {
            Codec::Json => Ok(serde_json::from_slice(body)?),
            Codec::MsgPack => {
                let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(body));
                let value = T::deserialize(&mut de)?;
                let extra = body.len().saturating_sub(de.position() as usize);
                if extra > 0 {
                    return Err(CodecError::TrailingBytes { extra });
                }
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_type_is_case_insensitive_and_ignores_parameters() {
        assert_eq!(
            Codec::from_content_type("application/msgpack"),
            Codec::MsgPack
        );
        assert_eq!(
            Codec::from_content_type("Application/MsgPack; x=y"),
            Codec::MsgPack
        );
        assert_eq!(
            Codec::from_content_type("application/json; charset=utf-8"),
            Codec::Json
        );
        assert_eq!(Codec::from_content_type("text/plain"), Codec::Json);
    }

    #[test]
    fn sniffs_json_and_msgpack() {
        assert_eq!(Codec::sniff(b" {\"a\":1}"), Codec::Json);
        assert_eq!(Codec::sniff(b"\x81\xa7message\xa6packed"), Codec::MsgPack);
        assert_eq!(Codec::sniff(b""), Codec::Json);
    }

    #[test]
    fn msgpack_matches_the_captured_python_bytes() {
        let v = json!({"message": "packed"});
        assert_eq!(
            Codec::MsgPack.encode(&v).expect("encodes"),
            b"\x81\xa7message\xa6packed"
        );
        let back: serde_json::Value = Codec::MsgPack
            .decode(b"\x81\xa7message\xa6packed")
            .expect("decodes");
        assert_eq!(back, v);
    }

    #[test]
    fn msgpack_refuses_trailing_bytes() {
        // `{` is a MsgPack positive fixint: "{bad" is not one MsgPack value.
        let r: Result<serde_json::Value, _> = Codec::MsgPack.decode(b"{bad");
        assert!(
            matches!(r, Err(CodecError::TrailingBytes { extra: 3 })),
            "{r:?}"
        );
    }
}
