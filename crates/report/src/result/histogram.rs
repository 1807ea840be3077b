//! A latency histogram as `result.json` carries it: HdrHistogram's V2
//! encoding in base64, so percentiles can be read exactly later (a diff of
//! two runs, the history) and any HdrHistogram library can decode it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cliffload_metrics::LatencyHistogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A [`LatencyHistogram`] that serialises as a base64 string.
#[derive(Debug, Clone, Default)]
pub struct EncodedHistogram(pub LatencyHistogram);

impl PartialEq for EncodedHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bytes() == other.0.to_bytes()
    }
}

impl Serialize for EncodedHistogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(self.0.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for EncodedHistogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|e| D::Error::custom(format!("a latency histogram is not base64: {e}")))?;
        LatencyHistogram::from_bytes(&bytes)
            .map(Self)
            .ok_or_else(|| D::Error::custom("not an HdrHistogram V2 encoding within 1 µs–60 s"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_round_trip_and_garbage_is_named() {
        let mut h = LatencyHistogram::new();
        for us in [120, 250, 250, 900, 40_000] {
            h.record_us(us);
        }
        let json = serde_json::to_string(&EncodedHistogram(h.clone())).expect("encodes");
        assert!(
            json.starts_with('"'),
            "a string, not a list of numbers: {json}"
        );
        let back: EncodedHistogram = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back.0.count(), 5);
        assert_eq!(back.0.quantile_us(0.99), h.quantile_us(0.99));
        let err = serde_json::from_str::<EncodedHistogram>("\"bm90IGEgaGlzdG9ncmFt\"")
            .expect_err("not a histogram");
        assert!(err.to_string().contains("HdrHistogram"), "{err}");
        let err = serde_json::from_str::<EncodedHistogram>("\"%%%\"").expect_err("not base64");
        assert!(err.to_string().contains("base64"), "{err}");
    }
}
