//! `facts`: normalised facts of a device (hostname, vendor, model, OS version, serial, uptime,
//! interfaces with state and addresses), parsed from its show output by TextFSM templates kept
//! as data.
//!
//! The templates are ntc-templates' (the `ntc-templates` package from PyPI, the one netmiko
//! uses), stored in the catalog's `templates` collection under `textfsm/<file name>` by
//! `scripts/load-templates`, which also lays our corrections of upstream templates
//! (`packs/netdev/templates/`) over them: updating a template is a data change, not a new pack.
//! They are read by `textfsm-rs`, whose records are checked against Python's textfsm on these
//! templates by `tests/facts_templates.rs` (and netmiko's own parsing in the e2e tests).
//!
//! Per platform, [`SPECS`] says which commands and templates give which fact: data about the
//! templates, kept beside the code that reads them. Output a template does not recognise (no
//! record, a state error, no OS version) is an error naming the command and the template, never
//! empty facts.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use orch_sdk::{ActionError, catalog};
use schemars::JsonSchema;
use serde::Serialize;
use textfsm_rs::{DataRecord, TextFSM, Value};

/// The catalog collection holding the templates.
pub const TEMPLATES: &str = "templates";

/// One command and the template that reads its output.
#[derive(Debug)]
pub struct Source {
    /// The command.
    pub command: &'static str,
    /// The template's file name in ntc-templates (key `textfsm/<name>` in `templates`).
    pub template: &'static str,
}

/// Where one fact is read: alternatives in order, each a source (0: the version command, 1…:
/// the extra commands in order) and a template field, or a pattern of `{FIELD}`s (empty when
/// one of its fields is). The first non-empty alternative wins.
pub type Pick = &'static [(usize, &'static str)];

/// Which fields of the interfaces template hold what.
#[derive(Debug)]
pub struct InterfaceFields {
    /// The operational (link) state, may say `administratively down`.
    pub link: &'static str,
    /// The second state: line protocol, or the administrative state (Junos, NX-OS).
    pub second: &'static str,
    /// The description.
    pub description: &'static str,
    /// The IPv4 address (maybe with `/len`).
    pub address: &'static str,
    /// The prefix length, where separate.
    pub prefix: Option<&'static str>,
    /// The netmask, where the device prints one (ASA).
    pub netmask: Option<&'static str>,
    /// The network with its length, where the device prints the address alone (Junos:
    /// `Destination: 10.0.0.0/24, Local: 10.0.0.1`).
    pub network: Option<&'static str>,
}

/// How one platform's facts are read.
#[derive(Debug)]
pub struct FactsSpec {
    /// Platform.
    pub platform: &'static str,
    /// Vendor name for the facts.
    pub vendor: &'static str,
    /// The version command.
    pub version: Source,
    /// More commands for facts the version output lacks (serial, uptime).
    pub extra: &'static [Source],
    /// Hostname (empty: taken from the prompt).
    pub hostname: Pick,
    /// Hardware model.
    pub model: Pick,
    /// OS version (required: output without it is not recognised).
    pub os_version: Pick,
    /// Serial number.
    pub serial: Pick,
    /// Uptime, as the device says it.
    pub uptime: Pick,
    /// The interfaces command.
    pub interfaces: Source,
    /// Its fields.
    pub fields: InterfaceFields,
}

const fn src(command: &'static str, template: &'static str) -> Source {
    Source { command, template }
}

/// Every platform's facts.
pub static SPECS: &[FactsSpec] = &[
    FactsSpec {
        platform: "cisco_ios",
        vendor: "Cisco",
        version: src("show version", "cisco_ios_show_version.textfsm"),
        extra: &[],
        hostname: &[(0, "HOSTNAME")],
        model: &[(0, "HARDWARE")],
        os_version: &[(0, "VERSION")],
        serial: &[(0, "SERIAL")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("show interfaces", "cisco_ios_show_interfaces.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "PROTOCOL_STATUS",
            description: "DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: Some("PREFIX_LENGTH"),
            netmask: None,
            network: None,
        },
    },
    FactsSpec {
        platform: "arista_eos",
        vendor: "Arista",
        version: src("show version", "arista_eos_show_version.textfsm"),
        extra: &[],
        hostname: &[],
        model: &[(0, "MODEL")],
        os_version: &[(0, "IMAGE")],
        serial: &[(0, "SERIAL_NUMBER")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("show interfaces", "arista_eos_show_interfaces.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "PROTOCOL_STATUS",
            description: "DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: None,
            netmask: None,
            network: None,
        },
    },
    FactsSpec {
        platform: "cisco_nxos",
        vendor: "Cisco",
        version: src("show version", "cisco_nxos_show_version.textfsm"),
        extra: &[],
        hostname: &[(0, "HOSTNAME")],
        model: &[(0, "PLATFORM")],
        os_version: &[(0, "OS")],
        serial: &[(0, "SERIAL")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("show interface", "cisco_nxos_show_interface.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "ADMIN_STATE",
            description: "DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: Some("PREFIX_LENGTH"),
            netmask: None,
            network: None,
        },
    },
    FactsSpec {
        platform: "cisco_xr",
        vendor: "Cisco",
        version: src("show version", "cisco_xr_show_version.textfsm"),
        // XR's version output has no serial; the chassis (first entry) of the inventory has.
        extra: &[src(
            "admin show inventory",
            "cisco_xr_admin_show_inventory.textfsm",
        )],
        hostname: &[],
        model: &[(0, "HARDWARE")],
        os_version: &[(0, "VERSION")],
        serial: &[(1, "SN")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("show interfaces", "cisco_xr_show_interfaces.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "ADMIN_STATE",
            description: "DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: None,
            netmask: None,
            network: None,
        },
    },
    FactsSpec {
        platform: "cisco_asa",
        vendor: "Cisco",
        version: src("show version", "cisco_asa_show_version.textfsm"),
        extra: &[],
        hostname: &[(0, "HOSTNAME")],
        model: &[(0, "HARDWARE"), (0, "MODEL")],
        os_version: &[(0, "VERSION")],
        serial: &[(0, "SERIAL")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("show interface", "cisco_asa_show_interface.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "PROTOCOL_STATUS",
            description: "DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: None,
            netmask: Some("NETMASK"),
            network: None,
        },
    },
    FactsSpec {
        platform: "huawei_vrp",
        vendor: "Huawei",
        version: src("display version", "huawei_vrp_display_version.textfsm"),
        // VRP's version output has no serial: the device's ESN is it.
        extra: &[src(
            "display sn license",
            "huawei_vrp_display_sn_license.textfsm",
        )],
        hostname: &[],
        model: &[(0, "MODEL")],
        os_version: &[(0, "VRP_VERSION")],
        serial: &[(1, "SERIAL_NUMBER")],
        uptime: &[(0, "UPTIME")],
        interfaces: src("display interface", "huawei_vrp_display_interface.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "PROTOCOL_STATUS",
            description: "INTERFACE_DESCRIPTION",
            address: "IP_ADDRESS",
            prefix: None,
            netmask: None,
            network: None,
        },
    },
    FactsSpec {
        platform: "juniper_junos",
        vendor: "Juniper",
        version: src("show version", "juniper_junos_show_version.textfsm"),
        // Junos's version output has neither serial (the chassis line of the hardware
        // inventory has it) nor uptime (the boot time of `show system uptime` stands for it).
        extra: &[
            src(
                "show chassis hardware",
                "juniper_junos_show_chassis_hardware.textfsm",
            ),
            src(
                "show system uptime",
                "juniper_junos_show_system_uptime.textfsm",
            ),
        ],
        hostname: &[(0, "HOSTNAME")],
        model: &[(0, "MODEL")],
        os_version: &[(0, "JUNOS_VERSION")],
        serial: &[(1, "CHASSIS_SERIAL_NUMBER")],
        uptime: &[(
            2,
            "since {BOOT_YEAR}-{BOOT_MONTH}-{BOOT_DAY} {BOOT_TIME} {BOOT_TIMEZONE}",
        )],
        interfaces: src("show interfaces", "juniper_junos_show_interfaces.textfsm"),
        fields: InterfaceFields {
            link: "LINK_STATUS",
            second: "ADMIN_STATE",
            description: "DESCRIPTION",
            address: "LOCAL",
            prefix: None,
            netmask: None,
            network: Some("DESTINATION"),
        },
    },
];

/// The facts spec of `platform`.
pub fn spec(platform: &str) -> Option<&'static FactsSpec> {
    SPECS.iter().find(|s| s.platform == platform)
}

impl FactsSpec {
    /// Every command read, in order: version, extras, interfaces.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        std::iter::once(&self.version)
            .chain(self.extra.iter())
            .chain(std::iter::once(&self.interfaces))
    }
}

/// An interface's facts.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Interface {
    /// Name as the device prints it (Junos logical units too: `ge-0/0/0.0`).
    pub name: String,
    /// `up`, `down` or `admin_down` (shut down by configuration).
    pub status: String,
    /// Description, empty when none.
    pub description: String,
    /// IPv4 addresses with their prefix length (`10.0.0.1/24`).
    pub addresses: Vec<String>,
}

/// A device's normalised facts.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Facts {
    /// Hostname (from the show output where it has one, else from the prompt).
    pub hostname: String,
    /// Vendor.
    pub vendor: String,
    /// Hardware model.
    pub model: String,
    /// Operating system version.
    pub os_version: String,
    /// Serial number (of the chassis).
    pub serial: String,
    /// Uptime as the device says it (Junos: `since` its boot time).
    pub uptime: String,
    /// Interfaces in the device's order.
    pub interfaces: Vec<Interface>,
}

/// Where facts came from: each command and the template that read it.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub command: String,
    /// The template (`textfsm/<name>` in `templates`).
    pub template: String,
    /// Records the template produced.
    pub records: usize,
}

/// The catalog key of a template.
pub fn template_key(template: &str) -> String {
    format!("textfsm/{template}")
}

/// Reads template `name` from the catalog.
pub fn load_template(name: &str) -> Result<String, ActionError> {
    let key = template_key(name);
    let entry = catalog::get(TEMPLATES, &key)?.ok_or_else(|| {
        ActionError::new(
            "not_found",
            format!(
                "no TextFSM template {key:?} in the {TEMPLATES} collection; load ntc-templates with scripts/load-templates (or: orch catalog put {TEMPLATES} {key} --text-file {name})"
            ),
        )
    })?;
    entry.value.as_str().map(str::to_owned).ok_or_else(|| {
        ActionError::invalid_input(format!(
            "{TEMPLATES}/{key} is not text; store the template with --text-file"
        ))
    })
}

fn unrecognised(source: &Source, output: &str, why: &str) -> ActionError {
    let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    ActionError::new(
        "unrecognised_output",
        format!(
            "the output of {:?} does not match template {}: {why}; its first line: {first:?}",
            source.command,
            template_key(source.template)
        ),
    )
    .with_details(serde_json::json!({
        "command": source.command,
        "template": template_key(source.template),
    }))
}

/// Parses `output` of `source.command` with `template` text; no record is an error naming both.
pub fn parse(
    source: &Source,
    template: &str,
    output: &str,
) -> Result<Vec<DataRecord>, ActionError> {
    let mut fsm = TextFSM::from_string(template).map_err(|err| {
        ActionError::new(
            "bad_template",
            format!(
                "template {} does not load: {err}; load it again with scripts/load-templates",
                template_key(source.template)
            ),
        )
    })?;
    let records = fsm
        .parse_string(output, None)
        .map_err(|err| unrecognised(source, output, &err.to_string()))?;
    if records.is_empty() {
        return Err(unrecognised(source, output, "no record"));
    }
    Ok(records)
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Single(s)) => s.trim().to_owned(),
        Some(Value::List(items)) => items
            .iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_owned(),
        None => String::new(),
    }
}

fn field(record: &DataRecord, name: &str) -> String {
    text(record.fields.get(name))
}

/// A field, or a pattern of `{FIELD}`s (empty when one of them is).
fn pick_one(record: &DataRecord, what: &str) -> String {
    if !what.contains('{') {
        return field(record, what);
    }
    let mut out = String::new();
    let mut rest = what;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let value = field(record, &rest[open + 1..open + close]);
        if value.is_empty() {
            return String::new();
        }
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn pick(records: &[&[DataRecord]], alternatives: Pick) -> String {
    alternatives
        .iter()
        .filter_map(|(source, what)| {
            let first = records.get(*source)?.first()?;
            Some(pick_one(first, what))
        })
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

fn prefix_of_netmask(mask: &str) -> Option<u32> {
    let mask: Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(mask);
    // A netmask is ones then zeros.
    (bits.leading_ones() + bits.trailing_zeros() == 32).then(|| bits.leading_ones())
}

/// `address/len` from the fields of one interface record, or None when it has no address
/// (IOS XR prints `Unknown`).
fn address(record: &DataRecord, fields: &InterfaceFields) -> Option<String> {
    let raw = field(record, fields.address);
    let (ip, len) = match raw.split_once('/') {
        Some((ip, len)) => (ip.to_owned(), len.parse::<u32>().ok()),
        None => (raw, None),
    };
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len = len
        .or_else(|| fields.prefix.and_then(|f| field(record, f).parse().ok()))
        .or_else(|| {
            fields
                .netmask
                .and_then(|f| prefix_of_netmask(&field(record, f)))
        })
        .or_else(|| {
            fields
                .network
                .and_then(|f| field(record, f).split_once('/')?.1.parse().ok())
        })
        .filter(|len| *len <= 32)?;
    Some(format!("{ip}/{len}"))
}

/// `up`, `down` or `admin_down` from the two states a device prints.
fn status(link: &str, second: &str) -> String {
    let link = link.to_ascii_lowercase();
    let second = second.to_ascii_lowercase();
    if link.contains("admin") || second.contains("admin") || second == "disabled" {
        return "admin_down".to_owned();
    }
    let up = |s: &str| s.starts_with("up") || s == "enabled";
    if up(&link) && (second.is_empty() || up(&second)) {
        "up".to_owned()
    } else {
        "down".to_owned()
    }
}

/// Normalised facts from the records of every source: `records` holds the version's, the
/// extras' (in order) and last the interfaces'.
pub fn normalise(
    spec: &FactsSpec,
    records: &[&[DataRecord]],
    prompt_hostname: &str,
) -> Result<Facts, ActionError> {
    let os_version = pick(records, spec.os_version);
    if os_version.is_empty() {
        return Err(ActionError::new(
            "unrecognised_output",
            format!(
                "template {} found no OS version in the output of {:?}",
                template_key(spec.version.template),
                spec.version.command
            ),
        ));
    }
    let hostname = Some(pick(records, spec.hostname))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| prompt_hostname.to_owned());
    let interface_records = records.last().copied().unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut list: Vec<Interface> = Vec::new();
    for record in interface_records {
        let name = field(record, "INTERFACE");
        if name.is_empty() {
            continue;
        }
        let interface = Interface {
            name: name.clone(),
            status: status(
                &field(record, spec.fields.link),
                &field(record, spec.fields.second),
            ),
            description: field(record, spec.fields.description),
            addresses: address(record, &spec.fields).into_iter().collect(),
        };
        // A template may give one interface several records (one per address).
        match seen.get(&name) {
            Some(&i) => {
                for a in interface.addresses {
                    if !list[i].addresses.contains(&a) {
                        list[i].addresses.push(a);
                    }
                }
            }
            None => {
                seen.insert(name, list.len());
                list.push(interface);
            }
        }
    }
    Ok(Facts {
        hostname,
        vendor: spec.vendor.to_owned(),
        // ASA prints its RAM and CPU after the model (`ASA5506, 4096 MB RAM, …`).
        model: pick(records, spec.model)
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        os_version,
        serial: pick(records, spec.serial),
        uptime: pick(records, spec.uptime),
        interfaces: list,
    })
}

/// The device name in a CLI prompt: `R1#`, `<HW1>`, `admin@J1> `, `RP/0/RP0/CPU0:X1#`.
pub fn prompt_hostname(prompt_text: &str) -> String {
    let last = prompt_text
        .trim_end()
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .trim();
    let last = last
        .trim_start_matches(['<', '['])
        .trim_end_matches(['>', '#', ']', ' ']);
    let last = last.rsplit(['@', ':']).next().unwrap_or(last);
    let last = last.split('(').next().unwrap_or(last);
    last.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSION_TEMPLATE: &str = r"Value HOSTNAME (\S+)
Value VERSION (\S+)
Value List SERIAL (\S+)

Start
  ^.*Version ${VERSION},
  ^${HOSTNAME} uptime is
  ^Processor board ID ${SERIAL}
  ^Configuration register -> Record
";

    fn record(fields: &[(&str, &str)]) -> DataRecord {
        let mut r = DataRecord::new();
        for (k, v) in fields {
            r.insert((*k).to_owned(), (*v).to_owned());
        }
        r
    }

    #[test]
    fn parses_and_normalises_and_names_what_it_cannot_read() {
        let spec = spec("cisco_ios").expect("spec");
        let out = "Cisco IOS Software, IOSv Software, Version 15.9(3)M4, RELEASE\nR1 uptime is 5 minutes\nProcessor board ID 9ABC\nConfiguration register is 0x0\n";
        let version = parse(&spec.version, VERSION_TEMPLATE, out).expect("parses");
        let interfaces = [record(&[
            ("INTERFACE", "Loopback0"),
            ("LINK_STATUS", "up"),
            ("PROTOCOL_STATUS", "up"),
            ("IP_ADDRESS", "10.0.0.1"),
            ("PREFIX_LENGTH", "32"),
        ])];
        let facts = normalise(spec, &[&version, &interfaces], "R9").expect("facts");
        assert_eq!(
            facts.hostname, "R1",
            "the output's name wins over the prompt's"
        );
        assert_eq!(facts.os_version, "15.9(3)M4");
        assert_eq!(facts.serial, "9ABC");
        assert_eq!(facts.vendor, "Cisco");
        assert_eq!(facts.interfaces[0].addresses, ["10.0.0.1/32"]);

        let err =
            parse(&spec.version, VERSION_TEMPLATE, "Unknown command\n").expect_err("no record");
        assert_eq!(err.code(), "unrecognised_output");
        assert!(err.message().contains("\"show version\""), "{err}");
        assert!(
            err.message()
                .contains("textfsm/cisco_ios_show_version.textfsm"),
            "{err}"
        );
        assert!(err.message().contains("Unknown command"), "{err}");

        let bad = parse(&spec.version, "Value X (\nStart\n", out).expect_err("bad template");
        assert_eq!(bad.code(), "bad_template");
    }

    #[test]
    fn no_os_version_is_not_recognised() {
        let spec = spec("cisco_ios").expect("spec");
        let version = [record(&[("HOSTNAME", "R1")])];
        let err = normalise(spec, &[&version, &[]], "R1").expect_err("no version");
        assert_eq!(err.code(), "unrecognised_output");
        assert!(err.message().contains("\"show version\""), "{err}");
    }

    #[test]
    fn facts_missing_from_the_version_come_from_the_extra_commands() {
        let junos = spec("juniper_junos").expect("spec");
        let version = [record(&[
            ("HOSTNAME", "J1"),
            ("MODEL", "mx104"),
            ("JUNOS_VERSION", "21.4R3.15"),
        ])];
        let hardware = [record(&[("CHASSIS_SERIAL_NUMBER", "JN1234")])];
        let uptime = [record(&[
            ("BOOT_YEAR", "2026"),
            ("BOOT_MONTH", "11"),
            ("BOOT_DAY", "30"),
            ("BOOT_TIME", "10:00:00"),
            ("BOOT_TIMEZONE", "UTC"),
        ])];
        let interfaces = [
            record(&[
                ("INTERFACE", "ge-0/0/0"),
                ("ADMIN_STATE", "Enabled"),
                ("LINK_STATUS", "Up"),
            ]),
            record(&[
                ("INTERFACE", "ge-0/0/0.0"),
                ("LINK_STATUS", "Up"),
                ("DESTINATION", "10.0.0.0/24"),
                ("LOCAL", "10.0.0.1"),
            ]),
            record(&[
                ("INTERFACE", "ge-0/0/1"),
                ("ADMIN_STATE", "Administratively down"),
                ("LINK_STATUS", "Down"),
            ]),
        ];
        let facts = normalise(
            junos,
            &[&version, &hardware, &uptime, &interfaces],
            "ignored",
        )
        .expect("facts");
        assert_eq!(facts.serial, "JN1234");
        assert_eq!(facts.uptime, "since 2026-11-30 10:00:00 UTC");
        let summary: Vec<(&str, &str, Vec<String>)> = facts
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i.status.as_str(), i.addresses.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("ge-0/0/0", "up", vec![]),
                ("ge-0/0/0.0", "up", vec!["10.0.0.1/24".to_owned()]),
                ("ge-0/0/1", "admin_down", vec![]),
            ]
        );

        // A pattern with a missing field gives nothing rather than half a date.
        let partial = [record(&[("BOOT_YEAR", "2026")])];
        let facts = normalise(
            junos,
            &[&version, &hardware, &partial, &interfaces],
            "ignored",
        )
        .expect("facts");
        assert_eq!(facts.uptime, "");
    }

    #[test]
    fn states_and_addresses_are_normalised() {
        assert_eq!(status("up", "up"), "up");
        assert_eq!(status("up", "up (connected)"), "up");
        assert_eq!(status("up", "down"), "down");
        assert_eq!(status("administratively down", "down"), "admin_down");
        assert_eq!(status("down (Administratively down)", "down"), "admin_down");
        assert_eq!(status("Administratively DOWN", "DOWN"), "admin_down");
        assert_eq!(status("Up", "Enabled"), "up");
        assert_eq!(status("Down", "Enabled"), "down");
        assert_eq!(status("Down", "Administratively down"), "admin_down");
        assert_eq!(status("UP", "UP"), "up");
        assert_eq!(prefix_of_netmask("255.255.255.0"), Some(24));
        assert_eq!(prefix_of_netmask("255.255.255.255"), Some(32));
        assert_eq!(prefix_of_netmask("255.0.255.0"), None);

        let ios = &spec("cisco_ios").expect("spec").fields;
        let xr = &spec("cisco_xr").expect("spec").fields;
        let asa = &spec("cisco_asa").expect("spec").fields;
        let with = |fields: &[(&str, &str)], f: &InterfaceFields| address(&record(fields), f);
        assert_eq!(
            with(&[("IP_ADDRESS", "10.1.1.1"), ("PREFIX_LENGTH", "30")], ios),
            Some("10.1.1.1/30".to_owned())
        );
        assert_eq!(with(&[("IP_ADDRESS", "Unknown")], xr), None);
        assert_eq!(
            with(&[("IP_ADDRESS", "192.0.2.1/24")], xr),
            Some("192.0.2.1/24".to_owned())
        );
        assert_eq!(
            with(
                &[("IP_ADDRESS", "192.0.2.1"), ("NETMASK", "255.255.255.0")],
                asa
            ),
            Some("192.0.2.1/24".to_owned())
        );
        assert_eq!(with(&[("IP_ADDRESS", "192.0.2.1")], asa), None);
    }

    #[test]
    fn hostnames_in_prompts() {
        for (prompt, name) in [
            ("\r\nR1#", "R1"),
            ("R1>", "R1"),
            ("R1(config)#", "R1"),
            ("<HW1>", "HW1"),
            ("admin@J1> ", "J1"),
            ("RP/0/RP0/CPU0:X1#", "X1"),
        ] {
            assert_eq!(prompt_hostname(prompt), name, "{prompt:?}");
        }
    }

    #[test]
    fn every_cli_platform_has_facts() {
        for profile in crate::profile::CLI_PROFILES {
            let spec = spec(profile.platform).expect(profile.platform);
            assert!(!spec.os_version.is_empty());
            assert!(!spec.serial.is_empty(), "{}", profile.platform);
            assert!(!spec.uptime.is_empty(), "{}", profile.platform);
            for source in spec.sources() {
                assert!(
                    source.template.starts_with(profile.platform),
                    "{}",
                    source.template
                );
            }
        }
    }
}
