//! A rule's schedule: a cron expression (5 fields, or 6 with seconds first) in a time zone, and
//! what to do with slots missed while the server was down (`catch_up: once` fires one event for
//! them, `skip` records them as handled). Pure slot arithmetic on Unix milliseconds; the server's
//! loop (`service/schedule.rs`) sleeps, fires and records.

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Late slots fired one by one while the server runs before the rest count as missed.
const MAX_LATE_SLOTS: usize = 100;

/// What a schedule does with the slots it missed while the server was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// One event, for the latest missed slot, saying how many were missed.
    Once,
    /// No event; the missed slots are recorded as handled.
    Skip,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The cron expression as written.
    pub cron_text: String,
    /// The time zone's name.
    pub timezone: String,
    /// Missed slots.
    pub catch_up: CatchUp,
    cron: Cron,
    tz: TimeZone,
}

/// What the server does with a schedule when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnStart {
    /// Never seen: slots count from `mark` (now) on, none before.
    New {
        /// Record this as handled.
        mark: i64,
    },
    /// No slot passed while the server was down.
    UpToDate,
    /// Fire one event for `slot`, the latest of `missed` missed slots.
    CatchUp {
        /// The slot fired.
        slot: i64,
        /// How many slots were missed (at least 1; a bound when there were very many).
        missed: u64,
    },
    /// Record `slot` (the latest of `missed` missed slots) as handled, no event.
    Skip {
        /// The slot recorded.
        slot: i64,
        /// How many.
        missed: u64,
    },
}

impl Schedule {
    /// Parses `cron` in `timezone` (default UTC) with `catch_up` (default skip).
    pub fn parse(
        cron: &str,
        timezone: Option<&str>,
        catch_up: Option<&str>,
    ) -> Result<Self, String> {
        let parsed = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(cron)
            .map_err(|e| {
                format!(
                    "cron {cron:?} does not parse: {e}; write 5 fields (minute hour day month \
                     weekday, e.g. \"0 2 * * *\") or 6 with seconds first"
                )
            })?;
        let tz_name = timezone.unwrap_or("UTC");
        let tz = TimeZone::get(tz_name).map_err(|e| {
            format!("unknown time zone {tz_name:?} ({e}); use an IANA name such as Europe/Paris")
        })?;
        let catch_up = match catch_up {
            None | Some("skip") => CatchUp::Skip,
            Some("once") => CatchUp::Once,
            Some(other) => {
                return Err(format!("catch_up is `once` or `skip`, found {other:?}"));
            }
        };
        let schedule = Self {
            cron_text: cron.to_owned(),
            timezone: tz_name.to_owned(),
            catch_up,
            cron: parsed,
            tz,
        };
        if schedule.next_after(crate::store::now_ms()).is_none() {
            return Err(format!("cron {cron:?} never fires"));
        }
        Ok(schedule)
    }

    /// The first slot strictly after `after` (Unix ms).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        // Slots fall on whole seconds: start from the second `after` is in.
        let start = Timestamp::from_millisecond(after.div_euclid(1000) * 1000)
            .ok()?
            .to_zoned(self.tz.clone());
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(next.timestamp().as_millisecond())
    }

    /// Slots in (`after`, `now`], oldest first, at most `max` (then there are more).
    pub fn slots_between(&self, after: i64, now: i64, max: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut at = after;
        while out.len() < max {
            match self.next_after(at) {
                Some(slot) if slot <= now => {
                    out.push(slot);
                    at = slot;
                }
                _ => break,
            }
        }
        out
    }

    /// What to do at start-up, given the last slot handled (`None`: a new schedule).
    pub fn on_start(&self, handled: Option<i64>, now: i64) -> OnStart {
        let Some(handled) = handled else {
            return OnStart::New { mark: now };
        };
        // Count up to a bound: a per-second schedule down for a month is "very many".
        let missed = self.slots_between(handled, now, 10_000);
        let Some(&latest) = missed.last() else {
            return OnStart::UpToDate;
        };
        let latest = if missed.len() == 10_000 {
            // Very many: the latest is found directly, not by walking every slot.
            self.latest_at_or_before(now).unwrap_or(latest)
        } else {
            latest
        };
        let count = missed.len() as u64;
        match self.catch_up {
            CatchUp::Once => OnStart::CatchUp {
                slot: latest,
                missed: count,
            },
            CatchUp::Skip => OnStart::Skip {
                slot: latest,
                missed: count,
            },
        }
    }

    /// The slots to fire now while running, the last handled being `handled`: each due slot
    /// (a late wake-up fires them one by one), or, past [`MAX_LATE_SLOTS`], only the latest.
    pub fn due(&self, handled: i64, now: i64) -> Vec<i64> {
        let slots = self.slots_between(handled, now, MAX_LATE_SLOTS + 1);
        if slots.len() > MAX_LATE_SLOTS {
            return self.latest_at_or_before(now).into_iter().collect();
        }
        slots
    }

    fn latest_at_or_before(&self, now: i64) -> Option<i64> {
        let start = Timestamp::from_millisecond(now)
            .ok()?
            .to_zoned(self.tz.clone());
        let prev = self.cron.find_previous_occurrence(&start, true).ok()?;
        Some(prev.timestamp().as_millisecond())
    }

    /// A slot as RFC 3339 in the schedule's time zone.
    pub fn show(&self, slot: i64) -> String {
        Timestamp::from_millisecond(slot)
            .map(|t| {
                t.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_else(|_| slot.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn slots_follow_the_time_zone_and_its_daylight_saving_changes() {
        let s = Schedule::parse("0 2 * * *", Some("Europe/Paris"), None).unwrap();
        // 02:00 in Paris is 01:00 UTC in winter, 00:00 UTC in summer.
        assert_eq!(
            s.next_after(ms("2026-01-10T12:00:00Z")),
            Some(ms("2026-01-11T01:00:00Z"))
        );
        assert_eq!(
            s.next_after(ms("2026-07-10T12:00:00Z")),
            Some(ms("2026-07-11T00:00:00Z"))
        );
        assert_eq!(
            s.show(ms("2026-07-11T00:00:00Z")),
            "2026-07-11T02:00:00+02:00"
        );
        let every_second = Schedule::parse("* * * * * *", None, None).unwrap();
        let t = ms("2026-01-10T12:00:00Z");
        assert_eq!(every_second.next_after(t + 300), Some(t + 1000));
        assert_eq!(
            every_second.slots_between(t, t + 3500, 10),
            [t + 1000, t + 2000, t + 3000]
        );
    }

    #[test]
    fn a_restart_fires_missed_slots_once_or_skips_them_as_the_schedule_says() {
        let t = ms("2026-01-10T12:00:00Z");
        let once = Schedule::parse("* * * * * *", None, Some("once")).unwrap();
        let skip = Schedule::parse("* * * * * *", None, Some("skip")).unwrap();
        assert_eq!(once.on_start(None, t + 10), OnStart::New { mark: t + 10 });
        assert_eq!(once.on_start(Some(t), t + 999), OnStart::UpToDate);
        assert_eq!(
            once.on_start(Some(t), t + 5500),
            OnStart::CatchUp {
                slot: t + 5000,
                missed: 5
            }
        );
        assert_eq!(
            skip.on_start(Some(t), t + 5500),
            OnStart::Skip {
                slot: t + 5000,
                missed: 5
            }
        );
        // Down for a day: bounded work, and the slot is still the latest.
        let day = 86_400_000;
        match once.on_start(Some(t), t + day + 10) {
            OnStart::CatchUp { slot, missed } => {
                assert_eq!(slot, t + day);
                assert_eq!(missed, 10_000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn while_running_each_due_slot_fires_and_a_long_stall_fires_only_the_latest() {
        let t = ms("2026-01-10T12:00:00Z");
        let s = Schedule::parse("* * * * * *", None, None).unwrap();
        assert_eq!(s.due(t, t + 999), Vec::<i64>::new());
        assert_eq!(s.due(t, t + 2000), [t + 1000, t + 2000]);
        assert_eq!(s.due(t, t + 500_000), [t + 500_000]);
    }

    #[test]
    fn a_bad_schedule_is_refused_with_the_fix() {
        for (cron, tz, catch_up, why) in [
            ("0 25 * * *", None, None, "does not parse"),
            ("every night", None, None, "does not parse"),
            ("0 2 * * *", Some("Mars/Olympus"), None, "unknown time zone"),
            (
                "0 2 * * *",
                None,
                Some("always"),
                "catch_up is `once` or `skip`",
            ),
        ] {
            let err = Schedule::parse(cron, tz, catch_up).expect_err(cron);
            assert!(err.contains(why), "{cron}: {err}");
        }
    }
}
