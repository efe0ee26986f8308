//! Resuming from the journal: what the store says about attempts and timers that were
//! outstanding, and the interrupted attempts of actions that are not idempotent, which a person
//! decides about (`--retry-interrupted`, `--fail-interrupted`).

use super::*;

impl Driver<'_, '_> {
    pub(super) fn load_resume_state(&mut self) -> anyhow::Result<()> {
        let store = self.engine.store;
        for row in store.attempts(&self.run.id)? {
            let id = AttemptId {
                exec: row.exec.clone(),
                item: row.item,
                attempt: row.attempt,
            };
            self.resume_rows.insert(id, row);
        }
        self.resume_timers = store.timers(&self.run.id)?.into_iter().collect();
        Ok(())
    }

    /// Interrupted attempts of non-idempotent pack actions: a person decides.
    pub(super) fn needs_attention(&mut self) -> anyhow::Result<Option<String>> {
        let settings = &self.engine.settings;
        if self.mode == Mode::Cancel || settings.retry_interrupted || settings.fail_interrupted {
            return Ok(None);
        }
        let mut found = Vec::new();
        for cmd in self.machine.outstanding() {
            let Command::StartAction {
                exec,
                item,
                attempt,
                action,
                ..
            } = cmd
            else {
                continue;
            };
            let key = Key {
                exec,
                item,
                attempt,
            };
            let Some(row) = self.resume_rows.get(&key.row()) else {
                continue;
            };
            if row.finished_at.is_some() {
                continue;
            }
            if let ActionKind::Pack { pack, action: name } = builtins::classify(&action)
                && let Ok(entry) = self.pack(&pack)
                && entry
                    .actions
                    .get(&name)
                    .is_some_and(|action| !action.spec.idempotent)
            {
                found.push(format!(
                    "task `{}` ({action}, attempt {}) was interrupted and {action} is not idempotent",
                    key.exec, key.attempt
                ));
            }
        }
        if found.is_empty() {
            return Ok(None);
        }
        let id = &self.run.id;
        Ok(Some(format!(
            "{}; it may or may not have taken effect. check the target system, then run \
             `orch runs resume {id} --retry-interrupted` to run it again, or \
             `orch runs resume {id} --fail-interrupted` to record it as failed",
            found.join("; ")
        )))
    }

    /// Whether an interrupted attempt of `kind` is recorded as failed rather than run again
    /// (`--fail-interrupted`, for pack actions that are not idempotent).
    pub(super) fn fails_interrupted(&mut self, kind: &ActionKind) -> bool {
        let ActionKind::Pack { pack, action } = kind else {
            return false;
        };
        self.engine.settings.fail_interrupted
            && self.pack(pack).ok().is_some_and(|e| {
                e.actions
                    .get(action)
                    .is_some_and(|action| !action.spec.idempotent)
            })
    }
}
