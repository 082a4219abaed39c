//! Conversions between `time::OffsetDateTime`, protobuf timestamps and the microsecond integers
//! the stores keep (one representation for both backends, ordered and exact).

use time::OffsetDateTime;

pub fn now_micros() -> i64 {
    to_micros(OffsetDateTime::now_utc())
}

pub fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn micros_to_proto(us: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// Microseconds from a protobuf timestamp, or `None` when it is out of range.
pub fn proto_to_micros(ts: &prost_types::Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    // Years 1 to 9999, as google.protobuf.Timestamp allows.
    if !(-62_135_596_800..=253_402_300_799).contains(&ts.seconds) {
        return None;
    }
    Some(ts.seconds * 1_000_000 + i64::from(ts.nanos / 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_through_protobuf_timestamps() {
        for us in [0, 1, -1, 1_700_000_000_123_456, -62_135_596_800_000_000] {
            assert_eq!(proto_to_micros(&micros_to_proto(us)), Some(us));
        }
    }

    #[test]
    fn out_of_range_timestamps_are_refused() {
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -5,
        };
        assert_eq!(proto_to_micros(&bad), None);
        let far = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(proto_to_micros(&far), None);
    }
}
