//! The `netdev` pack: read the running config of a network device, run commands on it, push
//! config to it (merge or replace, with a dry run), and read its normalised facts ([`facts`]:
//! show output parsed by TextFSM templates kept in the catalog). Devices are named by their inventory name:
//! the pack reads the platform from the catalog and connects with an inventory SSH target, so the
//! host supplies address, port and credential and the pack never sees a secret (the host's
//! `elevate` types `enable` and the enable secret itself).
//!
//! Platforms: `cisco_ios`, `arista_eos`, `cisco_nxos`, `cisco_xr`, `cisco_asa`, `huawei_vrp` and
//! `juniper_junos` through an interactive CLI ([`profile`]; their config syntax and remediation
//! rules are `netcfg`'s), `linux` through exec (the config is the file named by the device var
//! `config_path`).

mod actions;
mod cli;
pub mod config;
pub mod facts;
pub mod profile;

use orch_sdk::{Action, DestinationKind, Pack, PackDef};

/// The `netdev` pack.
pub struct Netdev;

impl Pack for Netdev {
    fn define() -> PackDef {
        PackDef::new("netdev", env!("CARGO_PKG_VERSION"))
            .vendor("orch")
            .description(
                "Reads running configs, runs commands and pushes config (merge or replace, with a \
                 dry run, commit and confirmed commit where the platform has them) on network \
                 devices of the inventory (cisco_ios, arista_eos, cisco_nxos, cisco_xr, \
                 cisco_asa, huawei_vrp, juniper_junos over an interactive CLI; linux over exec), \
                 with credentials the host supplies.",
            )
            .destination(
                DestinationKind::Ssh,
                "inventory",
                "the devices of the inventory",
            )
            .destination(
                DestinationKind::Catalog,
                "inventory",
                "device platforms and credentials",
            )
            .destination(
                DestinationKind::Catalog,
                "templates",
                "TextFSM templates (ntc-templates) that parse show output into facts",
            )
            .action(Action::new(
                "get_running_config",
                "Read a device's running config, normalised (no banners or size lines, no \
                 trailing spaces, \\n line ends).",
                actions::get_running_config,
            ))
            // Not idempotent: the pack cannot tell a harmless `show` from `reload`, `clear` or
            // `write erase` in a free list of commands, so an interrupted run asks a person.
            .action(
                Action::new(
                    "run_commands",
                    "Run commands in privileged mode (one exec each on linux) and return each \
                     one's output.",
                    actions::run_commands,
                )
                .non_idempotent(),
            )
            // Not idempotent: an interrupted push may have left the device half changed, and
            // someone may have changed it since; re-sending is an operator's call.
            .action(
                Action::new(
                    "push_config",
                    "Apply config lines in config mode (merge), or make the running config equal \
                     the given one (replace: lines the device has beyond it get `no`); dry_run \
                     returns the lines without entering config mode; save writes memory. A \
                     line the device refuses fails with `rejected` and stops the push.",
                    actions::push_config,
                )
                .non_idempotent(),
            )
            .action(Action::new(
                "facts",
                "Read a device's normalised facts (hostname, vendor, model, OS version, serial, \
                 uptime, interfaces with state and addresses) from its show output, parsed by \
                 TextFSM templates of the catalog's templates collection (ntc-templates, loaded \
                 by scripts/load-templates); output a template does not recognise is an error \
                 naming the command and the template.",
                actions::facts,
            ))
    }
}

orch_sdk::export_pack!(Netdev);

#[cfg(test)]
mod tests {
    use super::*;
    use orch_sdk::catalog::Device;
    use orch_sdk::ssh::{Elevation, Target};
    use orch_sdk::testing::TestHost;
    use orch_sdk::{Context, ErrorCode};

    #[test]
    fn the_definition_passes_the_hosts_pack_add_rules() {
        assert_eq!(Netdev::define().validate(), Ok(()));
    }

    /// An IOS router of the inventory, logging in unprivileged, with its enable credential.
    fn ios_router(host: &TestHost) {
        host.catalog().add_device(
            Device::new("R1", "10.0.0.1", "cisco_ios")
                .with_vars(serde_json::json!({ "enable_credential": "r1-enable" })),
        );
        let ssh = host.ssh();
        ssh.prompt("R1>");
        ssh.on_line("terminal length 0").reply("");
        ssh.on_line("terminal width 511").reply("");
    }

    #[test]
    fn running_config_of_an_ios_device_enables_pages_off_and_cleans_the_show() {
        let host = TestHost::new();
        ios_router(&host);
        host.ssh()
            .on_elevate(Elevation::Enable)
            .reply("Password: ", "R1#");
        host.ssh().on_line("show running-config").reply(
            "Building configuration...\r\n\r\nCurrent configuration : 64 bytes\r\n!\r\n\
             hostname R1   \r\n!\r\ninterface Gi0/1\r\n ip address 10.0.0.1 255.255.255.0\r\nend",
        );
        let out = Netdev::define()
            .call("get_running_config", r#"{"device":"R1"}"#, &host.context())
            .expect("config read");
        let out: serde_json::Value = serde_json::from_str(&out).expect("json");
        let config = out["config"].as_str().expect("config text");
        // Banner and size lines gone, trailing spaces trimmed, `\n` line ends.
        assert_eq!(
            config,
            "!\nhostname R1\n!\ninterface Gi0/1\n ip address 10.0.0.1 255.255.255.0\nend\n"
        );
        assert_eq!(out["platform"], "cisco_ios");

        assert_eq!(
            host.ssh().commands(),
            [
                "terminal length 0",
                "terminal width 511",
                "show running-config"
            ]
        );
        let secrets = host.ssh().secrets();
        assert_eq!(secrets.len(), 1);
        assert_eq!(
            (secrets[0].elevation(), secrets[0].credential()),
            (Some(Elevation::Enable), Some("r1-enable"))
        );
        assert_eq!(
            host.ssh().connections()[0].target(),
            &Target::inventory("R1")
        );
    }

    #[test]
    fn a_refused_enable_secret_is_enable_failed_and_nothing_is_typed() {
        let host = TestHost::new();
        ios_router(&host);
        host.ssh()
            .on_elevate(Elevation::Enable)
            .fail(ErrorCode::AuthFailed, "% Bad secrets");
        let err = Netdev::define()
            .call("get_running_config", r#"{"device":"R1"}"#, &host.context())
            .expect_err("enable refused");
        assert_eq!(err.code(), "enable_failed");
        assert!(err.message().contains("% Bad secrets"), "{err}");
        assert!(
            err.message().contains("check the enable credential"),
            "{err}"
        );
        assert!(host.ssh().commands().is_empty());
    }

    #[test]
    fn running_config_of_a_linux_device_is_its_config_file_by_exec() {
        let host = TestHost::new();
        host.catalog().add_device(
            Device::new("srv1", "10.0.0.9", "linux")
                .with_vars(serde_json::json!({ "config_path": "/etc/frr/frr.conf" })),
        );
        host.ssh()
            .on_exec("cat -- '/etc/frr/frr.conf'")
            .reply("hostname srv1\nrouter bgp 65001\n");
        let out = Netdev::define()
            .call(
                "get_running_config",
                r#"{"device":"srv1"}"#,
                &Context::for_tests(),
            )
            .expect("config read");
        assert!(
            out.contains(r#""config":"hostname srv1\nrouter bgp 65001\n""#),
            "{out}"
        );
        assert_eq!(host.ssh().commands(), ["cat -- '/etc/frr/frr.conf'"]);
    }

    #[test]
    fn describes_its_actions_and_destinations() {
        let def = Netdev::define();
        assert_eq!(def.name(), "netdev");
        let actions: Vec<(&str, bool)> = def
            .actions()
            .iter()
            .map(|a| (a.name(), a.is_idempotent()))
            .collect();
        assert_eq!(
            actions,
            [
                ("get_running_config", true),
                ("run_commands", false),
                ("push_config", false),
                ("facts", true)
            ]
        );
        let destinations: Vec<(&str, &str)> = def
            .destinations()
            .iter()
            .map(|d| (d.kind().as_str(), d.pattern()))
            .collect();
        assert_eq!(
            destinations,
            [
                ("ssh", "inventory"),
                ("catalog", "inventory"),
                ("catalog", "templates")
            ]
        );
    }

    #[test]
    fn push_config_takes_text_or_lines() {
        let schema = Netdev::define()
            .actions()
            .iter()
            .find(|a| a.name() == "push_config")
            .map(|a| a.input_schema().to_value())
            .expect("push_config");
        let config = schema["$defs"]["ConfigInput"].to_string();
        assert!(
            config.contains("string") && config.contains("array"),
            "{config}"
        );
    }

    #[test]
    fn bad_inputs_fail_before_any_host_call() {
        let ctx = Context::for_tests();
        let def = Netdev::define();
        for (action, input, mentions) in [
            ("get_running_config", r#"{"device":" "}"#, "device"),
            (
                "run_commands",
                r#"{"device":"R1","commands":[]}"#,
                "commands",
            ),
            (
                "run_commands",
                r#"{"device":"R1","commands":["show version\nreload"]}"#,
                "spans lines",
            ),
            (
                "push_config",
                r#"{"device":"R1","config":"!\nend\n"}"#,
                "no config lines",
            ),
            (
                "push_config",
                r#"{"device":"R1","config":"x","mode":"replace"}"#,
                "mode",
            ),
        ] {
            let err = def.call(action, input, &ctx).expect_err(input);
            assert_eq!(err.code(), "invalid_input", "{input}: {err}");
            assert!(err.message().contains(mentions), "{input}: {err}");
        }
    }
}
