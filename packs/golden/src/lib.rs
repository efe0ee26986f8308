//! The `golden` pack: what a device's configuration should be and how far it is from it. Pure
//! computation on configs (the `netcfg` crate holds the platform rules):
//! - `render_intended`: a device's intended config from a Jinja template (inline or in the
//!   catalog's `templates` collection) with its inventory vars and its facts (`facts/<device>`);
//! - `compliance`: per feature, from rules as data, whether running matches intended;
//! - `remediation`: the commands that make running compliant, and their rollback;
//! - `plan`: a fleet grouped by a tag (the site), with the concurrency each level may use;
//! - `report`: the fleet report (per device, per feature) and its Markdown summary.
//!
//! Only `render_intended` reads the catalog (inventory, facts, templates); nothing here reaches a
//! device or writes anything: workflows store the results.

mod check;
mod intended;
mod plan;
mod report;

use orch_sdk::{Action, DestinationKind, Pack, PackDef};

pub use check::{ComplianceInput, RemediationInput, compliance, remediation};
pub use report::{ReportInput, report};

/// The `golden` pack.
pub struct Golden;

impl Pack for Golden {
    fn define() -> PackDef {
        PackDef::new("golden", env!("CARGO_PKG_VERSION"))
            .vendor("orch")
            .description(
                "Renders intended configs from Jinja templates with inventory vars and facts, \
                 checks per-feature compliance from rules, computes remediation and rollback \
                 commands by each platform's rules, and writes the fleet report.",
            )
            .destination(
                DestinationKind::Catalog,
                "inventory",
                "device platforms and vars for templates",
            )
            .destination(
                DestinationKind::Catalog,
                "facts",
                "device facts for templates",
            )
            .destination(
                DestinationKind::Catalog,
                "templates",
                "intended-config templates",
            )
            .action(Action::new(
                "render_intended",
                "Render a device's intended config from a Jinja template (inline or a key of \
                 the templates collection) with its inventory record, vars and facts; a \
                 template that fails names its line.",
                intended::render_intended,
            ))
            .action(Action::new(
                "compliance",
                "Compare a running config with the intended one per feature, by rules that \
                 select top-level sections: compliant or not, missing and extra lines under \
                 their parents, rules that select nothing, config no rule covers.",
                check::compliance,
            ))
            .action(Action::new(
                "remediation",
                "The commands that turn a running config into the intended one (all of it, or \
                 the features of some rules) by the platform's rules, and the commands that \
                 roll them back.",
                check::remediation,
            ))
            .action(Action::new(
                "plan",
                "Group devices by a tag (the site) and split a concurrency limit into groups \
                 at a time and devices per group, so neither limit is passed.",
                plan::plan,
            ))
            .action(Action::new(
                "report",
                "The fleet compliance report (per device, per feature) and its Markdown \
                 summary, from per-device results; unreachable devices are listed.",
                report::report,
            ))
    }
}

orch_sdk::export_pack!(Golden);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_idempotent_actions_and_catalog_reads_only() {
        let def = Golden::define();
        let names: Vec<&str> = def.actions().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "render_intended",
                "compliance",
                "remediation",
                "plan",
                "report"
            ]
        );
        assert!(def.actions().iter().all(|a| a.is_idempotent()));
        let destinations: Vec<(&str, &str)> = def
            .destinations()
            .iter()
            .map(|d| (d.kind().as_str(), d.pattern()))
            .collect();
        assert_eq!(
            destinations,
            [
                ("catalog", "inventory"),
                ("catalog", "facts"),
                ("catalog", "templates")
            ]
        );
    }
}
