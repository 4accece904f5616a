//! Which share of the audit table one fleet step reads: DynamoDB parallel-Scan segments.
//!
//! The audit-digest and audit-integrity state machines split the audit table into
//! `total` segments and give each to one child workflow of a Distributed Map. DynamoDB assigns
//! every item to a segment by its partition key, so one chain (one `stream`) is always read whole
//! by exactly one segment, and the segments together read every chain once. The in-memory twins
//! assign streams by a hash of the key ([`memory_segment_of`]) with the same two properties.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// At most this many segments (DynamoDB allows a million; 1,000 keeps the map's payloads small).
pub const MAX_SEGMENTS: u32 = 1000;
/// At most this many digest segments: every segment's page hashes travel back through the map's
/// results into the sign step's input (Step Functions' 256 KB), ~100 bytes a segment plus 67 a
/// page, so 200 segments leave room for ~3,000 pages (~3 million chains).
pub const MAX_DIGEST_SEGMENTS: u32 = 200;
/// Chain heads one digest child is sized for. It keeps only heads in memory (a Scan projected to
/// three attributes), so its share is bound by Scan time: DynamoDB reads tens of MB a second per
/// segment, minutes for millions of records.
pub const HEADS_PER_DIGEST_SEGMENT: u64 = 5000;
/// Records one verifying child is sized for: it holds its chains in memory (~1 KB a record), well
/// inside the function's 256 MB.
pub const RECORDS_PER_VERIFY_SEGMENT: u64 = 50_000;

/// Segment `index` of `total` (0 ≤ `index` < `total` ≤ [`MAX_SEGMENTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawSegment", into = "RawSegment")]
pub struct Segment {
    index: u32,
    total: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    index: u32,
    total: u32,
}

impl TryFrom<RawSegment> for Segment {
    type Error = SegmentError;
    fn try_from(r: RawSegment) -> Result<Self, SegmentError> {
        Segment::new(r.index, r.total)
    }
}

impl From<Segment> for RawSegment {
    fn from(s: Segment) -> Self {
        RawSegment {
            index: s.index,
            total: s.total,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("segment total {0} is outside 1..={MAX_SEGMENTS}")]
    Total(u32),
    #[error("segment index {index} is not below its total {total}")]
    Index { index: u32, total: u32 },
}

impl Segment {
    pub fn new(index: u32, total: u32) -> Result<Self, SegmentError> {
        if total == 0 || total > MAX_SEGMENTS {
            return Err(SegmentError::Total(total));
        }
        if index >= total {
            return Err(SegmentError::Index { index, total });
        }
        Ok(Self { index, total })
    }

    /// Every segment of `total`, in order.
    pub fn all(total: u32) -> Result<Vec<Segment>, SegmentError> {
        Segment::new(0, total)?;
        Ok((0..total).map(|index| Segment { index, total }).collect())
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn total(self) -> u32 {
        self.total
    }

    /// Whether the in-memory twins put `stream` in this segment.
    pub fn holds_in_memory(self, stream: &str) -> bool {
        memory_segment_of(stream, self.total) == self.index
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "segment {} of {}", self.index + 1, self.total)
    }
}

/// How many segments suit `n` items when one child is sized for `per_segment`: at least 1, at
/// most [`MAX_SEGMENTS`].
pub fn segments_for(n: u64, per_segment: u64) -> u32 {
    n.div_ceil(per_segment.max(1))
        .clamp(1, u64::from(MAX_SEGMENTS)) as u32
}

/// The segment the in-memory twins give `stream` among `total` (a stable hash of the key, as
/// DynamoDB's segments follow the partition key's hash).
pub fn memory_segment_of(stream: &str, total: u32) -> u32 {
    let h = Sha256::digest(stream.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % total.max(1)
}

/// Checks that `got` holds every segment of `total` exactly once; returns them sorted.
pub fn complete<T>(
    total: u32,
    mut got: Vec<T>,
    segment: impl Fn(&T) -> Segment,
) -> Result<Vec<T>, String> {
    got.sort_by_key(|t| segment(t));
    if let Some(bad) = got.iter().map(&segment).find(|s| s.total != total) {
        return Err(format!(
            "{bad} does not belong to a run of {total} segments"
        ));
    }
    for (want, t) in (0..total).zip(&got) {
        let s = segment(t);
        if s.index != want {
            return Err(if s.index > want {
                format!("segment {} of {total} has no result", want + 1)
            } else {
                format!("{s} has more than one result")
            });
        }
    }
    if got.len() != total as usize {
        return Err(match got.len() < total as usize {
            true => format!("segment {} of {total} has no result", got.len() + 1),
            false => format!("{} has more than one result", segment(&got[total as usize])),
        });
    }
    Ok(got)
}

/// One child's result as the map hands it on: what the step returned, or (its `Catch`, reshaped
/// by a `Pass` state) which segment failed and with what error, after every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SegmentOutcome<T> {
    Done(T),
    Failed(FailedSegment),
}

/// A segment whose step failed after every retry: `failed` is the step's error name
/// (`error_type`), `cause` what Step Functions recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedSegment {
    pub segment: Segment,
    pub failed: String,
    pub cause: String,
}

impl std::fmt::Display for FailedSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cause: String = self.cause.chars().take(300).collect();
        write!(f, "{} failed: {}: {cause}", self.segment, self.failed)
    }
}

/// Checks every segment of `total` is there exactly once (done or failed), then splits them,
/// each sorted by segment.
pub fn settle<T>(
    total: u32,
    outcomes: Vec<SegmentOutcome<T>>,
    segment: impl Fn(&T) -> Segment,
) -> Result<(Vec<T>, Vec<FailedSegment>), String> {
    let outcomes = complete(total, outcomes, |o| match o {
        SegmentOutcome::Done(t) => segment(t),
        SegmentOutcome::Failed(f) => f.segment,
    })?;
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for o in outcomes {
        match o {
            SegmentOutcome::Done(t) => done.push(t),
            SegmentOutcome::Failed(f) => failed.push(f),
        }
    }
    Ok((done, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_validated_on_the_way_in() {
        assert!(Segment::new(0, 1).is_ok());
        assert_eq!(Segment::new(0, 0), Err(SegmentError::Total(0)));
        assert_eq!(Segment::new(0, 1001), Err(SegmentError::Total(1001)));
        assert_eq!(
            Segment::new(3, 3),
            Err(SegmentError::Index { index: 3, total: 3 })
        );
        for bad in [
            r#"{"index": 2, "total": 2}"#,
            r#"{"index": 0, "total": 0}"#,
            r#"{"index": -1, "total": 2}"#,
            r#"{"index": 0, "total": 2, "x": 1}"#,
            r#"{"index": 0}"#,
        ] {
            assert!(serde_json::from_str::<Segment>(bad).is_err(), "{bad}");
        }
        let s: Segment = serde_json::from_str(r#"{"index": 1, "total": 2}"#).unwrap();
        assert_eq!(
            (s.index(), s.total(), s.to_string()),
            (1, 2, "segment 2 of 2".into())
        );
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!({"index": 1, "total": 2})
        );
    }

    #[test]
    fn the_planner_sizes_segments() {
        assert_eq!(segments_for(0, 1000), 1);
        assert_eq!(segments_for(1000, 1000), 1);
        assert_eq!(segments_for(1001, 1000), 2);
        assert_eq!(segments_for(10_000, 1000), 10);
        assert_eq!(segments_for(u64::MAX, 1000), MAX_SEGMENTS);
        assert_eq!(segments_for(5, 0), MAX_SEGMENTS.min(5));
    }

    #[test]
    fn memory_segments_partition_the_streams() {
        let streams: Vec<String> = (0..500).map(|i| format!("account/{i:012}")).collect();
        let all = Segment::all(7).unwrap();
        let mut seen = 0;
        for s in &all {
            let held = streams.iter().filter(|k| s.holds_in_memory(k)).count();
            assert!(held > 0, "{s} holds nothing of 500");
            seen += held;
        }
        assert_eq!(seen, 500, "each stream in exactly one segment");
    }

    #[test]
    fn complete_wants_every_segment_once() {
        let seg = |i| Segment::new(i, 3).unwrap();
        let id = |s: &Segment| *s;
        assert_eq!(
            complete(3, vec![seg(2), seg(0), seg(1)], id).unwrap(),
            vec![seg(0), seg(1), seg(2)]
        );
        assert_eq!(
            complete(3, vec![seg(2), seg(0)], id).unwrap_err(),
            "segment 2 of 3 has no result"
        );
        assert_eq!(
            complete(3, vec![seg(0), seg(1)], id).unwrap_err(),
            "segment 3 of 3 has no result"
        );
        assert_eq!(
            complete(3, vec![seg(0), seg(1), seg(1), seg(2)], id).unwrap_err(),
            "segment 2 of 3 has more than one result"
        );
        assert_eq!(
            complete(3, vec![seg(0), seg(1), seg(2), seg(2)], id).unwrap_err(),
            "segment 3 of 3 has more than one result"
        );
        assert_eq!(
            complete(3, vec![seg(0), seg(1), Segment::new(2, 4).unwrap()], id).unwrap_err(),
            "segment 3 of 4 does not belong to a run of 3 segments"
        );
    }

    #[test]
    fn settle_splits_done_from_failed_as_the_map_hands_them_on() {
        let outcomes: Vec<SegmentOutcome<Segment>> = serde_json::from_value(serde_json::json!([
            {"index": 1, "total": 2},
            {"segment": {"index": 0, "total": 2}, "failed": "TransientAwsError", "cause": "x"}
        ]))
        .unwrap();
        let (done, failed) = settle(2, outcomes, |s| *s).unwrap();
        assert_eq!(done, vec![Segment::new(1, 2).unwrap()]);
        assert_eq!(
            failed[0].to_string(),
            "segment 1 of 2 failed: TransientAwsError: x"
        );
        let one: Vec<SegmentOutcome<Segment>> =
            serde_json::from_value(serde_json::json!([{"index": 1, "total": 2}])).unwrap();
        assert_eq!(
            settle(2, one, |s| *s).unwrap_err(),
            "segment 1 of 2 has no result"
        );
    }
}
