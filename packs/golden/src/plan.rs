//! `plan`: a fleet grouped by a tag (the site), and the split of one concurrency limit into
//! groups at a time and devices per group.
//!
//! Orquesta's `with` knows one concurrency per fan-out, so a per-site limit is two nested
//! fan-outs: sites, then each site's devices. With `per_group = min(per_site, concurrency)` and
//! `group_concurrency = max(1, concurrency / per_group)`, at most `group_concurrency *
//! per_group <= concurrency` devices run at once and at most `per_site` in one site. The price:
//! a site that finishes early leaves its slots idle until the next site starts.

use std::collections::BTreeMap;

use orch_sdk::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A device as `core.inventory` lists it (only what the plan reads).
#[derive(Deserialize, JsonSchema)]
pub struct PlanDevice {
    /// Inventory name.
    name: String,
    /// Its tags.
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Input of `plan`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The devices (`core.inventory`'s `devices`).
    devices: Vec<PlanDevice>,
    /// The tag that groups them (default `site`); devices without it form the group `-`.
    #[serde(default = "site")]
    tag: String,
    /// How many devices at once in all.
    concurrency: u32,
    /// How many devices at once in one group.
    per_group: u32,
}

fn site() -> String {
    "site".to_owned()
}

/// One group.
#[derive(Serialize, JsonSchema)]
pub struct Group {
    /// The tag's value.
    group: String,
    /// Its devices' names, in inventory order.
    devices: Vec<String>,
}

/// Output of `plan`.
#[derive(Serialize, JsonSchema)]
pub struct PlanOutput {
    /// The groups, by name.
    groups: Vec<Group>,
    /// Groups at a time.
    group_concurrency: u32,
    /// Devices at a time within a group.
    per_group: u32,
}

pub fn plan(input: PlanInput, _ctx: &Context) -> Result<PlanOutput, ActionError> {
    if input.concurrency == 0 || input.per_group == 0 {
        return Err(ActionError::invalid_input(
            "concurrency and per_group must be at least 1",
        ));
    }
    let per_group = input.per_group.min(input.concurrency);
    let group_concurrency = (input.concurrency / per_group).max(1);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for device in input.devices {
        let key = device
            .tags
            .get(&input.tag)
            .cloned()
            .unwrap_or_else(|| "-".to_owned());
        groups.entry(key).or_default().push(device.name);
    }
    Ok(PlanOutput {
        groups: groups
            .into_iter()
            .map(|(group, devices)| Group { group, devices })
            .collect(),
        group_concurrency,
        per_group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_limit_is_passed() {
        let devices = |n: usize| -> Vec<PlanDevice> {
            (0..n)
                .map(|i| PlanDevice {
                    name: format!("R{i}"),
                    tags: BTreeMap::from([("site".to_owned(), format!("s{}", i % 3))]),
                })
                .collect()
        };
        let ctx = Context::for_tests();
        for (concurrency, per_group, groups_at_once, per) in [
            (32, 8, 4, 8),
            (32, 50, 1, 32),
            (10, 4, 2, 4),
            (1, 1, 1, 1),
            (5, 8, 1, 5),
        ] {
            let out = plan(
                PlanInput {
                    devices: devices(9),
                    tag: site(),
                    concurrency,
                    per_group,
                },
                &ctx,
            )
            .expect("plan");
            assert_eq!(
                (out.group_concurrency, out.per_group),
                (groups_at_once, per)
            );
            assert!(out.group_concurrency * out.per_group <= concurrency);
            assert_eq!(out.groups.len(), 3);
            assert_eq!(out.groups[0].devices, ["R0", "R3", "R6"]);
        }
        let untagged = plan(
            PlanInput {
                devices: vec![PlanDevice {
                    name: "X".into(),
                    tags: BTreeMap::new(),
                }],
                tag: site(),
                concurrency: 4,
                per_group: 2,
            },
            &ctx,
        )
        .expect("plan");
        assert_eq!(untagged.groups[0].group, "-");
    }
}
