//! `compliance` and `remediation`: the `netcfg` computations behind the pack's input checks.

use netcfg::compliance::{Compliance, Rule};
use netcfg::{Syntax, tree};
use orch_sdk::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The syntax of `platform`, or an error naming the platforms there are.
pub fn syntax(platform: &str) -> Result<&'static Syntax, ActionError> {
    Syntax::for_platform(platform).ok_or_else(|| {
        ActionError::new(
            "unsupported_platform",
            format!(
                "platform {platform:?} has no config syntax here; supported: {}",
                netcfg::PLATFORMS
            ),
        )
    })
}

/// Input of `compliance`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceInput {
    /// The device (for the output and messages).
    #[serde(default)]
    pub device: Option<String>,
    /// Its platform (`cisco_ios`): the syntax and the rules that apply.
    pub platform: String,
    /// Its running config.
    pub running: String,
    /// Its intended config.
    pub intended: String,
    /// The rules; those of other platforms are ignored.
    pub rules: Vec<Rule>,
}

/// Output of `compliance`.
#[derive(Serialize, JsonSchema)]
pub struct ComplianceOutput {
    /// The device, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The comparison.
    #[serde(flatten)]
    pub compliance: Compliance,
}

pub fn compliance(input: ComplianceInput, ctx: &Context) -> Result<ComplianceOutput, ActionError> {
    let syntax = syntax(&input.platform)?;
    if !input.rules.iter().any(|r| r.applies_to(syntax)) {
        return Err(ActionError::new(
            "no_rules",
            format!(
                "no compliance rule applies to platform {}{}; add rules for it (a rule without \
                 platform applies to every platform)",
                syntax.platform,
                input
                    .device
                    .as_deref()
                    .map(|d| format!(" (device {d:?})"))
                    .unwrap_or_default()
            ),
        ));
    }
    if let Some(empty) = input.rules.iter().find(|r| r.prefixes.is_empty()) {
        return Err(ActionError::invalid_input(format!(
            "rule {:?} has no prefixes in match; give the top-level line prefixes it selects",
            empty.feature
        )));
    }
    let compliance = netcfg::compliance(syntax, &input.running, &input.intended, &input.rules);
    ctx.info(&format!(
        "{}: {} of {} features compliant",
        input.device.as_deref().unwrap_or(syntax.platform),
        compliance.features.iter().filter(|f| f.compliant).count(),
        compliance.features.len()
    ));
    Ok(ComplianceOutput {
        device: input.device,
        compliance,
    })
}

/// Input of `remediation`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediationInput {
    /// Platform of the configs (`cisco_ios`).
    pub platform: String,
    /// The running config.
    pub running: String,
    /// The config to reach (intended, or golden).
    pub intended: String,
    /// Only the features of these rules (what they select); default: the whole config.
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
    /// With `rules`: only these features of them.
    #[serde(default)]
    pub features: Option<Vec<String>>,
}

/// Output of `remediation`.
#[derive(Serialize, JsonSchema)]
pub struct RemediationOutput {
    /// Platform.
    pub platform: String,
    /// The commands, as config text (sections indented): what `netdev.push_config` merges.
    pub commands: String,
    /// The commands as typed in config mode (each section closed).
    pub lines: Vec<String>,
    /// The commands that undo them, as config text.
    pub rollback: String,
    /// The rollback as typed.
    pub rollback_lines: Vec<String>,
    /// Whether there is anything to do.
    pub changed: bool,
}

pub fn remediation(
    input: RemediationInput,
    _ctx: &Context,
) -> Result<RemediationOutput, ActionError> {
    let syntax = syntax(&input.platform)?;
    let rules = match (input.rules, input.features) {
        (Some(rules), Some(features)) => {
            if let Some(unknown) = features
                .iter()
                .find(|f| !rules.iter().any(|r| &r.feature == *f))
            {
                return Err(ActionError::invalid_input(format!(
                    "features: no rule is named {unknown:?}"
                )));
            }
            Some(
                rules
                    .into_iter()
                    .filter(|r| features.contains(&r.feature))
                    .collect::<Vec<_>>(),
            )
        }
        (Some(rules), None) => Some(rules),
        (None, Some(_)) => {
            return Err(ActionError::invalid_input(
                "features needs rules: pass the rules that name them",
            ));
        }
        (None, None) => None,
    };
    let r = netcfg::remediation(syntax, &input.running, &input.intended, rules.as_deref());
    Ok(RemediationOutput {
        platform: syntax.platform.to_owned(),
        commands: tree::render(syntax, &r.commands),
        lines: tree::typed_lines(syntax, &r.commands),
        rollback: tree::render(syntax, &r.rollback),
        rollback_lines: tree::typed_lines(syntax, &r.rollback),
        changed: !r.commands.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<Rule> {
        serde_json::from_str(
            r#"[{"platform": "cisco_ios", "feature": "ntp", "match": ["ntp "]},
                {"platform": "cisco_ios", "feature": "snmp", "match": ["snmp-server "]}]"#,
        )
        .expect("rules")
    }

    #[test]
    fn compliance_refuses_unknown_platforms_and_rule_sets_that_do_not_apply() {
        let ctx = Context::for_tests();
        let input = |platform: &str| ComplianceInput {
            device: Some("R1".into()),
            platform: platform.into(),
            running: "ntp server 192.0.2.1\n".into(),
            intended: "ntp server 192.0.2.1\n".into(),
            rules: rules(),
        };
        let err = compliance(input("mikrotik_routeros"), &ctx)
            .err()
            .expect("error");
        assert_eq!(err.code(), "unsupported_platform");
        assert!(err.message().contains("juniper_junos"), "{err}");
        let err = compliance(input("juniper_junos"), &ctx)
            .err()
            .expect("error");
        assert_eq!(err.code(), "no_rules");
        let ok = compliance(input("cisco_ios"), &ctx).expect("compliance");
        let value = serde_json::to_value(&ok).expect("json");
        assert_eq!(value["device"], "R1");
        assert_eq!(value["features"][0]["status"], "compliant");
        assert_eq!(value["features"][1]["status"], "no_match");
        assert_eq!(value["compliant"], false);
    }

    #[test]
    fn remediation_of_some_features_only() {
        let ctx = Context::for_tests();
        let out = remediation(
            RemediationInput {
                platform: "cisco_ios".into(),
                running: "hostname R1\nntp server 192.0.2.1\nsnmp-server community a RO\n".into(),
                intended: "hostname R2\nntp server 192.0.2.2\n".into(),
                rules: Some(rules()),
                features: Some(vec!["ntp".into()]),
            },
            &ctx,
        )
        .expect("remediation");
        assert_eq!(
            out.commands,
            "no ntp server 192.0.2.1\nntp server 192.0.2.2\n"
        );
        assert_eq!(
            out.rollback,
            "no ntp server 192.0.2.2\nntp server 192.0.2.1\n"
        );
        assert!(out.changed);
    }
}
