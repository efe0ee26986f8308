//! `render_intended`: a device's intended config from a Jinja template.
//!
//! The template sees `device` (name, platform, address, port, tags), `vars` (the device's
//! inventory vars, overlaid by the input's `vars`), `facts` (the latest `facts/<device>` record,
//! or null) and each var by its own name. Undefined names are errors (strict), so a typo never
//! renders as an empty line; an error names the template, its line and that line's text.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use orch_sdk::{ActionError, Context, catalog};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much work one rendering may do (minijinja's fuel): generous for a config, bounded for a
/// template that loops on purpose.
const FUEL: u64 = 5_000_000;

/// Input of `render_intended`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderInput {
    /// Inventory name of the device.
    device: String,
    /// The template text (Jinja).
    #[serde(default)]
    template: Option<String>,
    /// Or the key of the template in the `templates` collection (`ios-base`).
    #[serde(default)]
    template_key: Option<String>,
    /// Vars laid over the device's inventory vars.
    #[serde(default)]
    vars: serde_json::Map<String, serde_json::Value>,
}

/// Output of `render_intended`.
#[derive(Serialize, JsonSchema)]
pub struct RenderOutput {
    /// The device.
    device: String,
    /// Its platform.
    platform: String,
    /// The rendered config: `\n` line ends, no trailing spaces, ending in one `\n`.
    config: String,
    /// The template's name (its key, or `inline`).
    template: String,
    /// Version of the facts record used, if any.
    facts_version: Option<u64>,
}

pub fn render_intended(input: RenderInput, ctx: &Context) -> Result<RenderOutput, ActionError> {
    let (name, source) = match (&input.template, &input.template_key) {
        (Some(text), None) => ("inline".to_owned(), text.clone()),
        (None, Some(key)) => {
            let entry = catalog::get("templates", key)?.ok_or_else(|| {
                ActionError::new(
                    "not_found",
                    format!(
                        "no template {key:?} in the templates collection; store it with: orch catalog put templates {key} --text-file FILE"
                    ),
                )
            })?;
            let text = entry.value.as_str().map(str::to_owned).ok_or_else(|| {
                ActionError::invalid_input(format!(
                    "templates/{key} is not text; store the template with --text-file"
                ))
            })?;
            (key.clone(), text)
        }
        _ => {
            return Err(ActionError::invalid_input(
                "give exactly one of template (the text) and template_key (a key of the templates collection)",
            ));
        }
    };
    let device = catalog::device(&input.device)?;
    let facts = catalog::get("facts", &device.name)?;
    let mut vars = match &device.vars {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    vars.extend(input.vars);
    let context = Template {
        device: DeviceView {
            name: &device.name,
            platform: &device.platform,
            address: &device.address,
            port: device.port,
            tags: &device.tags,
        },
        facts: facts.as_ref().map(|f| &f.value),
        vars: &vars,
    };
    let config = render(&name, &source, &context)?;
    ctx.info(&format!(
        "rendered {} lines for {} from template {name}",
        config.lines().count(),
        device.name
    ));
    Ok(RenderOutput {
        device: device.name.clone(),
        platform: device.platform.clone(),
        config,
        template: name,
        facts_version: facts.map(|f| f.version),
    })
}

#[derive(Serialize)]
struct DeviceView<'a> {
    name: &'a str,
    platform: &'a str,
    address: &'a str,
    port: u16,
    tags: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Template<'a> {
    device: DeviceView<'a>,
    facts: Option<&'a serde_json::Value>,
    vars: &'a serde_json::Map<String, serde_json::Value>,
}

/// Renders `source` (named `name`) with `context`'s fields and each var at the top level.
pub fn render(name: &str, source: &str, context: &impl Serialize) -> Result<String, ActionError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let failed = |err: minijinja::Error| template_error(name, source, &err);
    env.add_template(name, source).map_err(failed)?;
    let template = env.get_template(name).map_err(failed)?;
    let mut value = serde_json::to_value(context).unwrap_or_default();
    // Vars also at the top level: `{{ ntp_servers }}` as well as `{{ vars.ntp_servers }}`.
    if let Some(vars) = value.get("vars").cloned()
        && let (Some(top), Some(vars)) = (value.as_object_mut(), vars.as_object())
    {
        for (k, v) in vars {
            top.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let text = template
        .render(minijinja::Value::from(minijinja::value::Serde(&value)))
        .map_err(failed)?;
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    let mut config = lines[start..end].join("\n");
    if !config.is_empty() {
        config.push('\n');
    }
    Ok(config)
}

fn template_error(name: &str, source: &str, err: &minijinja::Error) -> ActionError {
    let line = err.line();
    let text = line
        .and_then(|n| source.lines().nth(n.saturating_sub(1)))
        .map(|l| format!(": `{}`", l.trim()))
        .unwrap_or_default();
    let detail = err.detail().map(|d| format!(" ({d})")).unwrap_or_default();
    let at = line.map(|n| format!(" line {n}")).unwrap_or_default();
    ActionError::new(
        "template_error",
        format!("template {name:?}{at}{text}: {}{detail}", err.kind()),
    )
    .with_details(serde_json::json!({ "template": name, "line": line }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_vars_facts_and_device_fields() {
        let context = serde_json::json!({
            "device": { "name": "R1", "platform": "cisco_ios" },
            "facts": { "os_version": "15.9(3)M4" },
            "vars": { "ntp_servers": ["192.0.2.1", "192.0.2.2"] },
        });
        let source = "hostname {{ device.name }}\n! os {{ facts.os_version }}\n{% for s in ntp_servers %}\nntp server {{ s }}\n{% endfor %}\n";
        assert_eq!(
            render("t", source, &context).expect("renders"),
            "hostname R1\n! os 15.9(3)M4\nntp server 192.0.2.1\nntp server 192.0.2.2\n"
        );
    }

    #[test]
    fn a_failing_template_names_its_line() {
        let context = serde_json::json!({ "device": { "name": "R1" }, "vars": {} });
        let source = "hostname {{ device.name }}\n!\nlogging host {{ syslog_server }}\n";
        let err = render("ios-base", source, &context).expect_err("error");
        assert_eq!(err.code(), "template_error");
        assert!(err.message().contains("\"ios-base\" line 3"), "{err}");
        assert!(
            err.message().contains("logging host {{ syslog_server }}"),
            "{err}"
        );
        let err = render("broken", "a\n{% for x in %}\n", &context).expect_err("error");
        assert!(err.message().contains("line 2"), "{err}");
    }
}
