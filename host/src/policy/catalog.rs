//! What the catalog may hold and what `orch catalog prune` removes: each collection's policy
//! (keep rules and a byte quota, its own or the `*` default's), the host-wide budget of one
//! invocation's writes, and the arithmetic of both.
//!
//! Pure (no I/O; the caller passes the time), so the store applies it inside its write and prune
//! transactions and tests give it tables of cases. Without these budgets a pack holding one
//! `catalog:` grant could write 1,000 values of 4 MiB per invocation, forever: the quota bounds
//! what a collection keeps, the invocation budget what one invocation adds.

use serde::Serialize;
use time::OffsetDateTime;

/// The name of the default policy, for collections without their own.
pub const DEFAULT: &str = "*";
/// Bytes a collection may hold when no policy sets a quota. Large enough for years of
/// configuration backups of a few hundred devices; small enough that one runaway collection
/// cannot fill a typical disk.
pub const BUILT_IN_COLLECTION_BYTES: u64 = 1 << 30;
/// Bytes one invocation (a pack's or a workflow step's) may write when the `*` policy sets no
/// budget. Four times a pack's output cap: room for a fleet's configurations in one call, and
/// one sixteenth of the built-in quota, so a single invocation cannot fill a collection alone.
pub const BUILT_IN_INVOCATION_BYTES: u64 = 64 << 20;
/// Bytes a version is counted beyond its texts: its version number, size and the row's header.
pub const VERSION_OVERHEAD: u64 = 32;

/// A policy as the operator set it. A collection's own policy overrides the `*` policy for what
/// it sets: its keep rules as a whole (when it sets any, or `keep_all`) and its quota; the rest
/// comes from `*`, then from the built-in defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Keep the newest N versions of each key.
    pub keep_last: Option<u32>,
    /// Keep the versions written in the last D days.
    pub keep_days: Option<u32>,
    /// Keep every version, whatever the `*` policy says.
    pub keep_all: bool,
    /// Bytes the collection may hold (for `*`: each collection without its own quota).
    pub max_bytes: Option<u64>,
    /// Bytes one invocation may write, over all collections (the `*` policy only).
    pub invocation_bytes: Option<u64>,
}

impl Policy {
    /// The keep rules this policy states, if it states any.
    pub fn keep(&self) -> Option<Keep> {
        if self.keep_all {
            Some(Keep::ALL)
        } else if self.keep_last.is_some() || self.keep_days.is_some() {
            Some(Keep {
                last: self.keep_last,
                days: self.keep_days,
            })
        } else {
            None
        }
    }

    /// Whether the policy sets nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which versions `prune` keeps besides the latest of every key: those among the newest `last`
/// or written in the last `days` days (either rule keeps a version); every version when neither
/// is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Keep {
    /// The newest N versions of each key.
    pub last: Option<u32>,
    /// Versions written in the last D days.
    pub days: Option<u32>,
}

impl Keep {
    /// Keep every version.
    pub const ALL: Keep = Keep {
        last: None,
        days: None,
    };

    /// Whether every version is kept.
    pub fn keeps_all(self) -> bool {
        self.last.is_none() && self.days.is_none()
    }

    /// The rules in words (`the last 10 versions of each key and any of the last 30 days`).
    pub fn describe(self) -> String {
        let last = |n: u32| {
            if n == 1 {
                "the latest version of each key".to_owned()
            } else {
                format!("the last {n} versions of each key")
            }
        };
        match (self.last, self.days) {
            (None, None) => "every version".to_owned(),
            (Some(n), None) => last(n),
            (None, Some(d)) => {
                format!("the versions of the last {d} days and the latest of each key")
            }
            (Some(n), Some(d)) => format!("{} and any of the last {d} days", last(n)),
        }
    }
}

/// Where a setting in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The collection's own policy.
    Own,
    /// The `*` policy.
    Default,
    /// The built-in default (no policy sets it).
    BuiltIn,
}

impl Source {
    /// `own`, `*` or `built-in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Default => DEFAULT,
            Self::BuiltIn => "built-in",
        }
    }
}

/// The policy in force for one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// The keep rules.
    pub keep: Keep,
    /// Where they come from.
    pub keep_from: Source,
    /// The quota in bytes.
    pub max_bytes: u64,
    /// Where it comes from.
    pub max_bytes_from: Source,
}

/// The policy in force for a collection whose own policy is `own` (none for `*` itself).
pub fn effective(own: Option<&Policy>, default: Option<&Policy>) -> Effective {
    let (keep, keep_from) = match (own.and_then(Policy::keep), default.and_then(Policy::keep)) {
        (Some(keep), _) => (keep, Source::Own),
        (None, Some(keep)) => (keep, Source::Default),
        (None, None) => (Keep::ALL, Source::BuiltIn),
    };
    let (max_bytes, max_bytes_from) = match (
        own.and_then(|p| p.max_bytes),
        default.and_then(|p| p.max_bytes),
    ) {
        (Some(bytes), _) => (bytes, Source::Own),
        (None, Some(bytes)) => (bytes, Source::Default),
        (None, None) => (BUILT_IN_COLLECTION_BYTES, Source::BuiltIn),
    };
    Effective {
        keep,
        keep_from,
        max_bytes,
        max_bytes_from,
    }
}

/// The budget of one invocation's writes, from the `*` policy or built in.
pub fn invocation_budget(default: Option<&Policy>) -> (u64, Source) {
    match default.and_then(|p| p.invocation_bytes) {
        Some(bytes) => (bytes, Source::Default),
        None => (BUILT_IN_INVOCATION_BYTES, Source::BuiltIn),
    }
}

/// Bytes a version counts for in the budgets: every text the store keeps for it (the value as
/// JSON, names, time, writer, step key) plus [`VERSION_OVERHEAD`]. Counting the names too
/// means a flood of tiny values under long keys is not free. `store::schema` computes the same
/// sum in SQL for versions written before sizes were recorded.
pub fn version_size(texts: &[&str]) -> u64 {
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    u64::try_from(bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(VERSION_OVERHEAD)
}

/// A size for people: `1.0 GiB`, `64.0 MiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// Parses a size given by the operator: `1GiB`, `64 MiB`, `500MB`, `1048576` (bytes).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text.trim().parse().map_err(|_| {
        format!("{text:?} is not a size; write it like 1GiB, 64MiB, 500MB or 1048576 (bytes)")
    })?;
    // The store keeps sizes as SQLite integers (i64).
    if size.as_u64() > i64::MAX.unsigned_abs() {
        return Err(format!("{text:?} is too large"));
    }
    Ok(size.as_u64())
}

/// A write refused by a byte budget. The message names the budget, the figures and the
/// operator's fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// The invocation has written its budget.
    #[error(
        "writing {collection}/{key} ({size}) would bring this invocation's catalog writes to \
         {total}, over the per-invocation budget of {budget} ({from}); the operator raises it \
         with: orch catalog policy set '*' --invocation-bytes SIZE",
        size = human_bytes(*size),
        total = human_bytes(written.saturating_add(*size)),
        budget = human_bytes(*budget),
        from = describe_source(*from),
    )]
    Invocation {
        /// Collection written to.
        collection: String,
        /// Key written.
        key: String,
        /// Bytes of the refused version.
        size: u64,
        /// Bytes the invocation wrote before.
        written: u64,
        /// Its budget.
        budget: u64,
        /// Where the budget comes from.
        from: Source,
    },
    /// The collection holds its quota.
    #[error(
        "writing {collection}/{key} ({size}) would bring collection {collection} to {total}, over \
         its quota of {quota} ({from}); the operator removes old versions with: orch catalog \
         prune {collection} (what its keep rules let go; see them with: orch catalog policy \
         list), or raises the quota with: orch catalog policy set {collection} --max-bytes SIZE",
        size = human_bytes(*size),
        total = human_bytes(used.saturating_add(*size)),
        quota = human_bytes(*quota),
        from = describe_source(*from),
    )]
    Collection {
        /// Collection written to.
        collection: String,
        /// Key written.
        key: String,
        /// Bytes of the refused version.
        size: u64,
        /// Bytes the collection holds.
        used: u64,
        /// Its quota.
        quota: u64,
        /// Where the quota comes from.
        from: Source,
    },
}

fn describe_source(source: Source) -> &'static str {
    match source {
        Source::Own => "its own policy",
        Source::Default => "the '*' policy",
        Source::BuiltIn => "built-in default",
    }
}

/// What an invocation has written and may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationUse {
    /// Bytes written so far.
    pub written: u64,
    /// The budget.
    pub budget: u64,
    /// Where the budget comes from.
    pub from: Source,
}

/// What a collection holds and may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionUse {
    /// Bytes held now.
    pub used: u64,
    /// The quota.
    pub quota: u64,
    /// Where the quota comes from.
    pub from: Source,
}

/// Whether a version of `size` bytes may be added to `collection`/`key`: within the invocation's
/// budget (when the writer is an invocation) and the collection's quota. A write that reaches a
/// budget exactly is allowed.
pub fn check_write(
    collection: &str,
    key: &str,
    size: u64,
    invocation: Option<InvocationUse>,
    held: CollectionUse,
) -> Result<(), QuotaExceeded> {
    let passes = |held: u64, budget: u64| held.checked_add(size).is_none_or(|sum| sum > budget);
    if let Some(inv) = invocation
        && passes(inv.written, inv.budget)
    {
        return Err(QuotaExceeded::Invocation {
            collection: collection.to_owned(),
            key: key.to_owned(),
            size,
            written: inv.written,
            budget: inv.budget,
            from: inv.from,
        });
    }
    if passes(held.used, held.quota) {
        return Err(QuotaExceeded::Collection {
            collection: collection.to_owned(),
            key: key.to_owned(),
            size,
            used: held.used,
            quota: held.quota,
            from: held.from,
        });
    }
    Ok(())
}

/// One version of a key as the keep rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aged {
    /// When it was written; `None` when the stored time cannot be read (such a version is kept).
    pub written_at: Option<OffsetDateTime>,
    /// Written by a workflow run that has not finished: a retry of its step must find it.
    pub held: bool,
}

/// Which versions of one key `keep` lets go, as indexes into `versions` (newest first). The
/// newest is always kept, and so is a held version or one whose time cannot be read. A version
/// exactly `days` days old, or older, is past the age rule.
pub fn prunable(keep: Keep, versions: &[Aged], now: OffsetDateTime) -> Vec<usize> {
    if keep.keeps_all() {
        return Vec::new();
    }
    let cutoff = keep
        .days
        .map(|days| now - time::Duration::days(i64::from(days)));
    versions
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(rank, version)| {
            let by_count = keep
                .last
                .is_some_and(|n| *rank < usize::try_from(n).unwrap_or(usize::MAX));
            let by_age = match (cutoff, version.written_at) {
                (Some(cutoff), Some(at)) => at > cutoff,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            !(by_count || by_age || version.held)
        })
        .map(|(rank, _)| rank)
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

    fn days_ago(days: i64) -> Aged {
        Aged {
            written_at: Some(NOW - time::Duration::days(days)),
            held: false,
        }
    }

    #[test]
    fn retention_keeps_what_either_rule_keeps_and_always_the_latest() {
        let held = Aged {
            held: true,
            ..days_ago(90)
        };
        let unreadable = Aged {
            written_at: None,
            held: false,
        };
        let five = [
            days_ago(1),
            days_ago(5),
            days_ago(10),
            days_ago(20),
            days_ago(40),
        ];
        #[rustfmt::skip]
        let cases: Vec<(&str, Keep, Vec<Aged>, Vec<usize>)> = vec![
            ("no rule keeps everything", Keep::ALL, five.to_vec(), vec![]),
            ("keep-last 2", Keep { last: Some(2), days: None }, five.to_vec(), vec![2, 3, 4]),
            ("keep-last 1 keeps only the latest", Keep { last: Some(1), days: None }, five.to_vec(), vec![1, 2, 3, 4]),
            ("keep-last beyond the history", Keep { last: Some(9), days: None }, five.to_vec(), vec![]),
            ("keep-days 7", Keep { last: None, days: Some(7) }, five.to_vec(), vec![2, 3, 4]),
            ("either rule keeps: last 2 or 15 days", Keep { last: Some(2), days: Some(15) }, five.to_vec(), vec![3, 4]),
            ("either rule keeps: last 4 or 7 days", Keep { last: Some(4), days: Some(7) }, five.to_vec(), vec![4]),
            ("the latest is kept however old", Keep { last: None, days: Some(1) }, vec![days_ago(400), days_ago(500)], vec![1]),
            ("a lone version is kept", Keep { last: Some(1), days: Some(1) }, vec![days_ago(400)], vec![]),
            ("exactly D days old is past the rule", Keep { last: None, days: Some(10) }, five.to_vec(), vec![2, 3, 4]),
            ("a held version is kept", Keep { last: Some(1), days: None }, vec![days_ago(1), held, days_ago(100)], vec![2]),
            ("an unreadable time is kept", Keep { last: Some(1), days: Some(1) }, vec![days_ago(1), unreadable, days_ago(3)], vec![2]),
            ("no versions", Keep { last: Some(1), days: None }, vec![], vec![]),
        ];
        for (name, keep, versions, expected) in cases {
            assert_eq!(prunable(keep, &versions, NOW), expected, "{name}");
        }
    }

    #[test]
    fn a_collections_policy_overrides_the_default_for_what_it_sets() {
        let default = Policy {
            keep_days: Some(30),
            max_bytes: Some(100 << 20),
            invocation_bytes: Some(8 << 20),
            ..Policy::default()
        };
        let quota_only = Policy {
            max_bytes: Some(2 << 30),
            ..Policy::default()
        };
        let keep_last = Policy {
            keep_last: Some(10),
            ..Policy::default()
        };
        let keep_all = Policy {
            keep_all: true,
            ..Policy::default()
        };
        let d = Some(&default);
        #[rustfmt::skip]
        let cases = [
            ("nothing set", None, None, Keep::ALL, Source::BuiltIn, BUILT_IN_COLLECTION_BYTES, Source::BuiltIn),
            ("only the default", None, d, Keep { last: None, days: Some(30) }, Source::Default, 100 << 20, Source::Default),
            ("own quota, default keep rules", Some(&quota_only), d, Keep { last: None, days: Some(30) }, Source::Default, 2 << 30, Source::Own),
            ("own keep rules replace the default's as a whole", Some(&keep_last), d, Keep { last: Some(10), days: None }, Source::Own, 100 << 20, Source::Default),
            ("keep-all opts out of the default's rules", Some(&keep_all), d, Keep::ALL, Source::Own, 100 << 20, Source::Default),
            ("own keep rules without a default", Some(&keep_last), None, Keep { last: Some(10), days: None }, Source::Own, BUILT_IN_COLLECTION_BYTES, Source::BuiltIn),
        ];
        for (name, own, default, keep, keep_from, max_bytes, max_bytes_from) in cases {
            let expected = Effective {
                keep,
                keep_from,
                max_bytes,
                max_bytes_from,
            };
            assert_eq!(effective(own, default), expected, "{name}");
        }
        assert_eq!(invocation_budget(d), (8 << 20, Source::Default));
        assert_eq!(
            invocation_budget(None),
            (BUILT_IN_INVOCATION_BYTES, Source::BuiltIn)
        );
    }

    #[test]
    fn a_write_may_reach_a_budget_but_not_pass_it() {
        let inv = |written, budget| {
            Some(InvocationUse {
                written,
                budget,
                from: Source::BuiltIn,
            })
        };
        let held = |used, quota| CollectionUse {
            used,
            quota,
            from: Source::Own,
        };
        #[rustfmt::skip]
        let cases = [
            ("room everywhere", 10, inv(0, 100), held(0, 100), None),
            ("reaches the invocation budget exactly", 10, inv(90, 100), held(0, 1000), None),
            ("passes the invocation budget", 11, inv(90, 100), held(0, 1000), Some("invocation")),
            ("reaches the quota exactly", 10, inv(0, 1000), held(90, 100), None),
            ("passes the quota", 11, inv(0, 1000), held(90, 100), Some("collection")),
            ("the invocation budget is checked first", 200, inv(0, 100), held(0, 100), Some("invocation")),
            ("no invocation budget for the operator", 50, None, held(90, 1000), None),
            ("the operator is held to the quota", 50, None, held(90, 100), Some("collection")),
            ("a collection already over its quota takes nothing", 1, None, held(150, 100), Some("collection")),
            ("a zero quota refuses everything", 1, None, held(0, 0), Some("collection")),
            ("no overflow near u64::MAX", u64::MAX, inv(u64::MAX, u64::MAX), held(0, u64::MAX), Some("invocation")),
        ];
        for (name, size, invocation, collection, expected) in cases {
            let outcome = check_write("loot", "k", size, invocation, collection);
            let got = match outcome {
                Ok(()) => None,
                Err(QuotaExceeded::Invocation { .. }) => Some("invocation"),
                Err(QuotaExceeded::Collection { .. }) => Some("collection"),
            };
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn refusals_name_the_budget_the_figures_and_the_fix() {
        let invocation = check_write(
            "loot",
            "big/3",
            4 << 20,
            Some(InvocationUse {
                written: 62 << 20,
                budget: 64 << 20,
                from: Source::BuiltIn,
            }),
            CollectionUse {
                used: 0,
                quota: 1 << 30,
                from: Source::BuiltIn,
            },
        )
        .expect_err("over the budget")
        .to_string();
        for part in [
            "loot/big/3 (4.0 MiB)",
            "66.0 MiB",
            "per-invocation budget of 64.0 MiB (built-in default)",
            "orch catalog policy set '*' --invocation-bytes SIZE",
        ] {
            assert!(invocation.contains(part), "{part:?} in {invocation}");
        }
        let collection = check_write(
            "configs",
            "R1",
            1 << 20,
            None,
            CollectionUse {
                used: 1 << 30,
                quota: 1 << 30,
                from: Source::Default,
            },
        )
        .expect_err("over the quota")
        .to_string();
        for part in [
            "collection configs to 1.0 GiB",
            "quota of 1.0 GiB (the '*' policy)",
            "orch catalog prune configs",
            "orch catalog policy set configs --max-bytes SIZE",
        ] {
            assert!(collection.contains(part), "{part:?} in {collection}");
        }
    }

    #[test]
    fn sizes_read_and_print_for_people() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("500MB"), Ok(500_000_000));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("9EiB").is_err());
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(version_size(&["ab", "cde"]), 5 + VERSION_OVERHEAD);
    }
}
