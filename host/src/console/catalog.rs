//! The catalog pages: the inventory (filtered by tags), the records of a collection, and a
//! record with its version history and a diff between any two versions (unified or side by
//! side, by the `similar` crate), e.g. R1's golden configuration v1 against v2.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{Chrome, PageError, User, page, pretty};
use crate::service::{Core, blocking};
use crate::store::{DeviceRow, RecordRow};

/// `?tag=KEY=VALUE` (repeatable as `tag=a=1,b=2`).
#[derive(Debug, Default, Deserialize)]
pub struct InventoryQuery {
    tag: Option<String>,
}

#[derive(Template)]
#[template(path = "console/inventory.html")]
struct InventoryPage {
    chrome: Chrome,
    devices: Vec<DeviceRow>,
    total: usize,
    tag: String,
    collections: Vec<(String, usize)>,
}

fn tag_filter(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|t| t.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `GET /catalog`: the inventory and the record collections.
pub async fn inventory(
    State(core): State<Arc<Core>>,
    user: User,
    Query(q): Query<InventoryQuery>,
) -> Result<Response, PageError> {
    let (devices, keys) = blocking(|| -> anyhow::Result<_> {
        Ok((core.store().devices()?, core.store().record_keys(None, "")?))
    })
    .map_err(|e| PageError::internal(&e))?;
    let total = devices.len();
    let tag = q.tag.unwrap_or_default();
    let wanted = tag_filter(&tag);
    let devices = devices
        .into_iter()
        .filter(|d| wanted.iter().all(|(k, v)| d.tags.get(k) == Some(v)))
        .collect();
    let mut collections: BTreeMap<String, usize> = BTreeMap::new();
    for (collection, _) in keys {
        *collections.entry(collection).or_default() += 1;
    }
    page(&InventoryPage {
        chrome: user.chrome("catalog", "Catalog"),
        devices,
        total,
        tag,
        collections: collections.into_iter().collect(),
    })
}

/// A key of a collection.
pub struct KeyItem {
    /// Key.
    pub key: String,
    /// Latest version.
    pub version: u64,
    /// When written.
    pub written_at: String,
}

#[derive(Template)]
#[template(path = "console/collection.html")]
struct CollectionPage {
    chrome: Chrome,
    collection: String,
    keys: Vec<KeyItem>,
}

/// `GET /catalog/{collection}`.
pub async fn collection(
    State(core): State<Arc<Core>>,
    user: User,
    Path(collection): Path<String>,
) -> Result<Response, PageError> {
    let keys = blocking(|| core.store().record_keys(Some(&collection), ""))
        .map_err(|e| PageError::internal(&e))?;
    let keys = keys
        .into_iter()
        .map(|(_, k)| KeyItem {
            key: k.key,
            version: k.version,
            written_at: k.written_at,
        })
        .collect();
    page(&CollectionPage {
        chrome: user.chrome("catalog", format!("Collection {collection}")),
        collection,
        keys,
    })
}

/// `?version=N`, and `?a=N&b=M&view=split|unified` for a diff.
#[derive(Debug, Default, Deserialize)]
pub struct RecordQuery {
    version: Option<u64>,
    a: Option<u64>,
    b: Option<u64>,
    view: Option<String>,
}

/// One line of a diff.
pub struct DiffLine {
    /// `+`, `-` or ` `.
    pub sign: char,
    /// The text.
    pub text: String,
    /// Line number in the old version.
    pub old: Option<usize>,
    /// Line number in the new version.
    pub new: Option<usize>,
}

/// One row of a side-by-side diff: the old line and the new line (either may be missing).
pub struct SplitRow {
    /// Old side.
    pub left: Option<DiffLine>,
    /// New side.
    pub right: Option<DiffLine>,
}

#[derive(Template)]
#[template(path = "console/record.html")]
struct RecordPage {
    chrome: Chrome,
    collection: String,
    key: String,
    versions: Vec<RecordRow>,
    shown: Option<RecordRow>,
    shown_text: String,
    a: u64,
    b: u64,
    split: bool,
    unified: Vec<DiffLine>,
    rows: Vec<SplitRow>,
    changes: usize,
}

/// A record's text for a diff: a string as it is (a configuration), anything else as pretty
/// JSON; a `{"config": "..."}` or `{"text": "..."}` document by its text.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => match m
            .get("config")
            .or_else(|| m.get("text"))
            .and_then(Value::as_str)
        {
            Some(s) if m.len() <= 3 => s.to_owned(),
            _ => pretty(v),
        },
        other => pretty(other),
    }
}

/// The diff of `old` to `new`, line by line.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            sign: match c.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            },
            text: c.value().trim_end_matches('\n').to_owned(),
            old: c.old_index().map(|i| i + 1),
            new: c.new_index().map(|i| i + 1),
        })
        .collect()
}

/// The unified lines paired for two columns: a run of deletions beside the run of insertions
/// that follows it.
pub fn split(lines: Vec<DiffLine>) -> Vec<SplitRow> {
    let mut rows = Vec::new();
    let mut dels: Vec<DiffLine> = Vec::new();
    let mut ins: Vec<DiffLine> = Vec::new();
    let flush = |rows: &mut Vec<SplitRow>, dels: &mut Vec<DiffLine>, ins: &mut Vec<DiffLine>| {
        let n = dels.len().max(ins.len());
        let mut d = dels.drain(..);
        let mut i = ins.drain(..);
        for _ in 0..n {
            rows.push(SplitRow {
                left: d.next(),
                right: i.next(),
            });
        }
    };
    for line in lines {
        match line.sign {
            '-' => {
                if !ins.is_empty() {
                    flush(&mut rows, &mut dels, &mut ins);
                }
                dels.push(line);
            }
            '+' => ins.push(line),
            _ => {
                flush(&mut rows, &mut dels, &mut ins);
                let copy = DiffLine {
                    sign: ' ',
                    text: line.text.clone(),
                    old: line.old,
                    new: line.new,
                };
                rows.push(SplitRow {
                    left: Some(line),
                    right: Some(copy),
                });
            }
        }
    }
    flush(&mut rows, &mut dels, &mut ins);
    rows
}

/// `GET /catalog/{collection}/{key}`: a version, the history, and a diff of two versions.
pub async fn record(
    State(core): State<Arc<Core>>,
    user: User,
    Path((collection, key)): Path<(String, String)>,
    Query(q): Query<RecordQuery>,
) -> Result<Response, PageError> {
    let versions = blocking(|| core.store().record_history(&collection, &key))
        .map_err(|e| PageError::internal(&e))?;
    if versions.is_empty() {
        return Err(PageError {
            status: StatusCode::NOT_FOUND,
            message: format!("no record {collection}/{key}"),
        });
    }
    let latest = versions.iter().map(|v| v.version).max().unwrap_or(1);
    let pick = |n: u64| versions.iter().find(|v| v.version == n);
    let shown = q.version.and_then(pick).or_else(|| pick(latest)).cloned();
    let b = q.b.filter(|n| pick(*n).is_some()).unwrap_or(latest);
    let a =
        q.a.filter(|n| pick(*n).is_some())
            .unwrap_or_else(|| b.saturating_sub(1).max(1));
    let (unified, rows, changes) = match (pick(a), pick(b)) {
        (Some(old), Some(new)) if versions.len() > 1 => {
            let lines = diff_lines(&text_of(&old.value), &text_of(&new.value));
            let changes = lines.iter().filter(|l| l.sign != ' ').count();
            let split_view = q.view.as_deref() == Some("split");
            if split_view {
                (Vec::new(), split(lines), changes)
            } else {
                (lines, Vec::new(), changes)
            }
        }
        _ => (Vec::new(), Vec::new(), 0),
    };
    page(&RecordPage {
        chrome: user.chrome("catalog", format!("{collection}/{key}")),
        shown_text: shown
            .as_ref()
            .map(|r| text_of(&r.value))
            .unwrap_or_default(),
        split: q.view.as_deref() == Some("split"),
        collection,
        key,
        versions,
        shown,
        a,
        b,
        unified,
        rows,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_shows_as_removed_and_added_lines_side_by_side() {
        let old = "hostname R1\nntp server 10.0.0.1\nend\n";
        let new = "hostname R1\nntp server 10.0.0.2\nlogging host 1.2.3.4\nend\n";
        let lines = diff_lines(old, new);
        let signs: String = lines.iter().map(|l| l.sign).collect();
        assert_eq!(signs, " -++ ");
        let rows = split(lines);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1].left.as_ref().unwrap().text, "ntp server 10.0.0.1");
        assert_eq!(rows[1].right.as_ref().unwrap().text, "ntp server 10.0.0.2");
        assert!(rows[2].left.is_none());
        assert_eq!(rows[2].right.as_ref().unwrap().new, Some(3));
    }

    #[test]
    fn a_configuration_record_diffs_by_its_text() {
        let v = serde_json::json!({"config": "a\nb\n", "device": "R1"});
        assert_eq!(text_of(&v), "a\nb\n");
        assert!(text_of(&serde_json::json!({"x": 1})).contains("\"x\": 1"));
    }

    #[test]
    fn tags_filter_as_key_value_pairs() {
        assert_eq!(
            tag_filter("site=lon, role=core"),
            vec![
                ("site".into(), "lon".into()),
                ("role".into(), "core".into())
            ]
        );
    }
}
