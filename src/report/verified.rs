//! `pgtriage report … --verify VERIFY.json`: the result of `pgtriage verify --format json` run
//! after recovery, read back into the postmortem's "Recovery verified" section so the document
//! closes the loop — what passed, what still fails. Reads verify's JSON contract
//! (`pgtriage-verify/1`); decides nothing of its own.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::UserError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryVerified {
    /// The file as given on the command line.
    pub file: String,
    pub passed: bool,
    pub failures: u64,
    /// When the baseline was taken and when the database was checked (RFC 3339, as verify
    /// wrote them).
    pub baseline_at: String,
    pub checked_at: String,
    /// Checks that passed, one line each (tables with their rows, foreign keys, sequences).
    pub passed_checks: Vec<String>,
    /// Checks that failed or could not be verified, with verify's note.
    pub still_failing: Vec<String>,
}

fn rows(v: &Value) -> String {
    v.as_i64()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "?".into())
}

/// A field of a JSON object, null when absent or when the value is not an object.
fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// Reads verify's JSON output. A file that is not one is a one-line error naming it.
pub fn read(path: &Path) -> Result<RecoveryVerified, UserError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UserError::new(format!(
            "--verify {}: cannot read it: {e}; give the output of `pgtriage verify --format json`",
            path.display()
        ))
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        UserError::new(format!(
            "--verify {}: not JSON ({e}); give the output of `pgtriage verify --format json`",
            path.display()
        ))
    })?;
    if field(&v, "format").as_str() != Some(crate::checks::verify::VERIFY_FORMAT) {
        return Err(UserError::new(format!(
            "--verify {}: not a verify result (format is {}, want {}); give the output of `pgtriage verify --format json`",
            path.display(),
            field(&v, "format"),
            crate::checks::verify::VERIFY_FORMAT
        )));
    }
    let mut passed_checks = Vec::new();
    let mut still_failing = Vec::new();
    for t in field(&v, "tables").as_array().into_iter().flatten() {
        let name = format!(
            "{}.{}",
            field(t, "schema").as_str().unwrap_or("?"),
            field(t, "name").as_str().unwrap_or("?")
        );
        let line = format!(
            "table {name}: {} rows now, {} in the baseline",
            rows(field(t, "rows")),
            rows(field(t, "baseline_rows"))
        );
        match field(t, "status").as_str() {
            Some("pass") => passed_checks.push(line),
            Some(status) => still_failing.push(format!(
                "{line} — {status}{}",
                field(t, "note")
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )),
            None => {}
        }
    }
    for f in field(&v, "foreign_keys").as_array().into_iter().flatten() {
        let line = format!(
            "foreign key {} ({} → {})",
            field(f, "name").as_str().unwrap_or("?"),
            field(f, "child").as_str().unwrap_or("?"),
            field(f, "parent").as_str().unwrap_or("?")
        );
        match field(f, "status").as_str() {
            Some("pass") => passed_checks.push(line),
            Some(status) => still_failing.push(format!(
                "{line} — {status}{}{}",
                field(f, "orphans")
                    .as_u64()
                    .map(|n| format!(", {n} orphan rows"))
                    .unwrap_or_default(),
                field(f, "note")
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            )),
            None => {}
        }
    }
    for s in field(&v, "sequences").as_array().into_iter().flatten() {
        let line = format!(
            "sequence {} of {}",
            field(s, "sequence").as_str().unwrap_or("?"),
            field(s, "column").as_str().unwrap_or("?")
        );
        match field(s, "status").as_str() {
            Some("pass") => passed_checks.push(line),
            Some(status) => still_failing.push(format!(
                "{line} — {status}{}",
                field(s, "fix")
                    .as_str()
                    .map(|f| format!("; fix: {f}"))
                    .unwrap_or_default()
            )),
            None => {}
        }
    }
    Ok(RecoveryVerified {
        file: path.display().to_string(),
        passed: field(&v, "passed").as_bool().unwrap_or(false),
        failures: field(&v, "failures")
            .as_u64()
            .unwrap_or(still_failing.len() as u64),
        baseline_at: v
            .pointer("/baseline/taken_at")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or("?")
            .into(),
        checked_at: v
            .pointer("/current/taken_at")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or("?")
            .into(),
        passed_checks,
        still_failing,
    })
}
