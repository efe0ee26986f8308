//! `orch pack check FILE`: prints what [`crate::packs::check`] found, most serious first, and
//! exits 1 when the pack would be refused or an action breaks its own contract.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::super::session::Session;
use super::super::untrusted;
use crate::packs::check::{self, Severity};
use crate::runtime::Limits;

pub async fn run(session: &Session, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = session.runtime(Limits::DEFAULT.memory_bytes)?;
    let mut report = check::check(runtime, file).await?;
    let failed = report.has_errors();
    let mut out = std::io::stdout().lock();
    if json {
        untrusted::write_json(&mut out, &serde_json::to_value(&report)?)?;
    } else {
        // Everything below comes from the pack: escaped before it reaches the terminal.
        match &report.pack {
            Some(pack) => writeln!(
                out,
                "{} {} by {}: {} action{}",
                untrusted::line(&pack.name),
                untrusted::line(&pack.version),
                untrusted::line(if pack.vendor.is_empty() {
                    "(no vendor)"
                } else {
                    &pack.vendor
                }),
                pack.actions,
                if pack.actions == 1 { "" } else { "s" }
            )?,
            None => writeln!(out, "{}: not a usable pack", report.file)?,
        }
        writeln!(
            out,
            "size {:.1} KiB, compiled in {:.0} ms, {} import{}",
            report.size as f64 / 1024.0,
            report.compile_ms,
            report.imports.len(),
            if report.imports.len() == 1 { "" } else { "s" }
        )?;
        if report.examples_run > 0 {
            writeln!(
                out,
                "examples: {} run, {} returned an output matching its schema",
                report.examples_run, report.examples_matched
            )?;
        }
        report
            .findings
            .sort_by_key(|f| std::cmp::Reverse(f.severity));
        for finding in &report.findings {
            let label = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "note",
            };
            writeln!(
                out,
                "{label}: {}: {}",
                untrusted::line(&finding.subject),
                untrusted::block(&finding.message, "  ")
            )?;
        }
        let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
        writeln!(
            out,
            "{}: {} error(s), {} warning(s)",
            if failed { "FAILED" } else { "ok" },
            count(Severity::Error),
            count(Severity::Warning)
        )?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
