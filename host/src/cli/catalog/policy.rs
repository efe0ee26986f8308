//! `orch catalog policy set|list|remove` and `orch catalog prune`: what collections may hold
//! (quotas, the per-invocation budget) and keep (keep rules), and removing what they let go.
//! The rules are in `policy::catalog`; this file parses and prints.

use std::io::Write;

use clap::{ArgGroup, Args, Subcommand};

use crate::catalog::{self, PolicyChange, PolicyView};
use crate::policy::catalog::{self as policy, Keep, Source, human_bytes};
use crate::store::{PruneReport, Store};

/// `orch catalog policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Set the keep rules and quota of COLLECTION, or of `*` (every collection without its own).
    /// The settings given replace those set before; the others stay.
    ///
    /// A version is kept by `prune` when either keep rule keeps it; the latest version of every
    /// key is always kept. Without keep rules (here or on `*`) every version is kept. Writes
    /// never prune: run `orch catalog prune` (from cron, say) to apply the rules.
    #[command(group(
        ArgGroup::new("setting")
            .required(true)
            .multiple(true)
            .args(["keep_last", "keep_days", "keep_all", "max_bytes", "invocation_bytes"])
    ))]
    Set {
        /// Collection, or '*' for the default policy (quote it for the shell).
        collection: String,
        /// Keep the newest N versions of each key.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep_last: Option<u32>,
        /// Keep the versions written in the last D days.
        #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..))]
        keep_days: Option<u32>,
        /// Keep every version, whatever the '*' policy says.
        #[arg(long, conflicts_with_all = ["keep_last", "keep_days"])]
        keep_all: bool,
        /// The most the collection may hold (e.g. 2GiB, 500MB) [built-in: 1 GiB].
        #[arg(long, value_name = "SIZE", value_parser = policy::parse_bytes)]
        max_bytes: Option<u64>,
        /// '*' only: the most one invocation (a pack's, a workflow step's) may write, over all
        /// collections [built-in: 64 MiB].
        #[arg(long, value_name = "SIZE", value_parser = policy::parse_bytes)]
        invocation_bytes: Option<u64>,
    },
    /// The policy in force for '*' and every collection with a policy or records: keep rules,
    /// quota and where each comes from (own, '*', built-in), with what each collection holds.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget the policy of COLLECTION (or '*'): the '*' policy, or the built-in, applies again.
    Remove {
        /// Collection, or '*'.
        collection: String,
    },
}

/// `orch catalog prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only this collection.
    pub collection: Option<String>,
    /// Report what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run_policy(
    store: &Store,
    command: PolicyCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Set {
            collection,
            keep_last,
            keep_days,
            keep_all,
            max_bytes,
            invocation_bytes,
        } => {
            let change = PolicyChange {
                keep_last,
                keep_days,
                keep_all,
                max_bytes,
                invocation_bytes,
            };
            let view = catalog::set_policy(store, &collection, change)?;
            writeln!(out, "{}", describe(&view))?;
            if view.collection == policy::DEFAULT {
                let (budget, from) = policy::invocation_budget(view.set.as_ref());
                writeln!(
                    out,
                    "per-invocation budget: {} ({})",
                    human_bytes(budget),
                    from.as_str()
                )?;
            }
            if view.over_quota() {
                eprintln!(
                    "note: {name} holds {held}, over its quota of {quota}: writes to it are \
                     refused until old versions are pruned (orch catalog prune {name}) or the \
                     quota is raised",
                    name = view.collection,
                    held = human_bytes(view.bytes.unwrap_or_default()),
                    quota = human_bytes(view.effective.max_bytes),
                );
            }
        }
        PolicyCommand::List { json } => {
            let policies = catalog::policies(store)?;
            if json {
                crate::cli::untrusted::write_json(&mut *out, &policies)?;
            } else {
                let rows: Vec<[String; 5]> = policies
                    .collections
                    .iter()
                    .map(|view| {
                        let effective = &view.effective;
                        [
                            view.collection.clone(),
                            format!(
                                "{} ({})",
                                keep_short(effective.keep),
                                effective.keep_from.as_str()
                            ),
                            format!(
                                "{} ({})",
                                human_bytes(effective.max_bytes),
                                effective.max_bytes_from.as_str()
                            ),
                            view.bytes.map_or_else(
                                || "-".to_owned(),
                                |b| {
                                    let over = if view.over_quota() { " OVER" } else { "" };
                                    format!("{}{over}", human_bytes(b))
                                },
                            ),
                            view.versions
                                .map_or_else(|| "-".to_owned(), |v| v.to_string()),
                        ]
                    })
                    .collect();
                let header = ["COLLECTION", "KEEP", "QUOTA", "HOLDS", "VERSIONS"];
                let width = |i: usize| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                };
                let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
                writeln!(
                    out,
                    "{:w0$}  {:w1$}  {:w2$}  {:>w3$}  {}",
                    header[0], header[1], header[2], header[3], header[4]
                )?;
                for [name, keep, quota, holds, versions] in &rows {
                    writeln!(
                        out,
                        "{name:w0$}  {keep:w1$}  {quota:w2$}  {holds:>w3$}  {versions:>8}"
                    )?;
                }
                writeln!(
                    out,
                    "per-invocation budget: {} ({}); change it with: orch catalog policy set '*' \
                     --invocation-bytes SIZE",
                    human_bytes(policies.invocation_bytes),
                    policies.invocation_bytes_from.as_str()
                )?;
            }
        }
        PolicyCommand::Remove { collection } => {
            catalog::remove_policy(store, &collection)?;
            let now = catalog::policies(store)?
                .collections
                .into_iter()
                .find(|view| view.collection == collection);
            match now {
                Some(view) => writeln!(
                    out,
                    "removed the policy of {collection}; now {}",
                    describe(&view)
                )?,
                None => writeln!(out, "removed the policy of {collection}")?,
            }
        }
    }
    Ok(())
}

pub fn run_prune(store: &Store, args: &PruneArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let reports = catalog::prune(store, args.collection.as_deref(), args.dry_run)?;
    let removed_versions: u64 = reports.iter().map(|r| r.removed_versions).sum();
    let removed_bytes: u64 = reports.iter().map(|r| r.removed_bytes).sum();
    if args.json {
        let body = serde_json::json!({
            "dry_run": args.dry_run,
            "removed_versions": removed_versions,
            "removed_bytes": removed_bytes,
            "collections": reports,
        });
        crate::cli::untrusted::write_json(&mut *out, &body)?;
        return Ok(());
    }
    if reports.is_empty() {
        writeln!(out, "no records to prune")?;
        return Ok(());
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let width = reports
        .iter()
        .map(|r| r.collection.len())
        .max()
        .unwrap_or(0);
    for report in &reports {
        writeln!(
            out,
            "{:width$}  {}",
            report.collection,
            prune_line(report, verb)
        )?;
    }
    writeln!(
        out,
        "total: {verb} {} ({}){}",
        versions(removed_versions),
        human_bytes(removed_bytes),
        if args.dry_run {
            "; dry run, nothing was removed"
        } else {
            ""
        }
    )?;
    Ok(())
}

/// `1 version`, `2 versions`.
fn versions(n: u64) -> String {
    if n == 1 {
        "1 version".to_owned()
    } else {
        format!("{n} versions")
    }
}

fn prune_line(report: &PruneReport, verb: &str) -> String {
    let holds = format!(
        "{} ({})",
        versions(report.kept_versions),
        human_bytes(report.kept_bytes)
    );
    if report.keep.keeps_all() {
        return format!("keeps every version (no keep rule): nothing to remove; holds {holds}");
    }
    let held = if report.held_versions > 0 {
        format!(
            ", {} of them only because their workflow run has not finished",
            report.held_versions
        )
    } else {
        String::new()
    };
    if report.removed_versions == 0 {
        return format!("nothing to remove; keeps {holds}{held}");
    }
    format!(
        "{verb} {} ({}); keeps {holds}{held}",
        versions(report.removed_versions),
        human_bytes(report.removed_bytes),
    )
}

/// `last 10`, `30 days`, `last 10 or 30 days`, `all`.
fn keep_short(keep: Keep) -> String {
    match (keep.last, keep.days) {
        (None, None) => "all".to_owned(),
        (Some(n), None) => format!("last {n}"),
        (None, Some(d)) => format!("{d} days"),
        (Some(n), Some(d)) => format!("last {n} or {d} days"),
    }
}

/// One line: what a collection keeps, its quota and what it holds.
fn describe(view: &PolicyView) -> String {
    let effective = &view.effective;
    let name = if view.collection == policy::DEFAULT {
        "* (collections without their own policy)".to_owned()
    } else {
        view.collection.clone()
    };
    let from = |source: Source| match source {
        Source::Own => "",
        Source::Default => " (from '*')",
        Source::BuiltIn => " (built-in)",
    };
    let holds = match (view.bytes, view.versions) {
        (Some(bytes), Some(versions)) => {
            format!(
                "; holds {} in {}",
                human_bytes(bytes),
                self::versions(versions)
            )
        }
        _ => String::new(),
    };
    format!(
        "{name}: keeps {}{}; quota {}{}{holds}",
        effective.keep.describe(),
        from(effective.keep_from),
        human_bytes(effective.max_bytes),
        from(effective.max_bytes_from),
    )
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use crate::cli::Cli;

    fn parses(args: &[&str]) -> bool {
        Cli::try_parse_from(std::iter::once("orch").chain(args.iter().copied())).is_ok()
    }

    #[test]
    fn policy_set_needs_a_setting_and_refuses_contradictions() {
        Cli::command().debug_assert();
        assert!(!parses(&["catalog", "policy", "set", "configs"]));
        assert!(!parses(&[
            "catalog",
            "policy",
            "set",
            "configs",
            "--keep-all",
            "--keep-last",
            "2"
        ]));
        assert!(!parses(&[
            "catalog",
            "policy",
            "set",
            "configs",
            "--keep-last",
            "0"
        ]));
        assert!(!parses(&[
            "catalog",
            "policy",
            "set",
            "c",
            "--max-bytes",
            "lots"
        ]));
        assert!(parses(&[
            "catalog",
            "policy",
            "set",
            "configs",
            "--keep-last",
            "10",
            "--keep-days",
            "30",
            "--max-bytes",
            "2GiB"
        ]));
        assert!(parses(&[
            "catalog",
            "policy",
            "set",
            "*",
            "--invocation-bytes",
            "128MiB"
        ]));
        assert!(parses(&["catalog", "policy", "list", "--json"]));
        assert!(parses(&[
            "catalog",
            "prune",
            "configs",
            "--dry-run",
            "--json"
        ]));
        assert!(parses(&["catalog", "prune"]));
    }
}
