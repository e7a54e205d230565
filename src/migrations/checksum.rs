//! The checksum each framework stores in its tracking table, computed the way the tool computes
//! it, so that a tracking-table row can be tied to the exact git version that ran.
//!
//! - sqlx (`_sqlx_migrations.checksum`, BYTEA): SHA-384 of the file's text as read
//!   (`Migration::new` hashes `sql.as_bytes()`). Shown as lowercase hex.
//! - Prisma (`_prisma_migrations.checksum`, VARCHAR(64)): SHA-256 of `migration.sql`, lowercase hex.
//!   Prisma also accepts the script with CRLF turned into LF, so both are tried.
//! - Drizzle (`__drizzle_migrations.hash`): SHA-256 (hex) of the whole `.sql` file text.
//! - Flyway (`flyway_schema_history.checksum`, INT): CRC32 over the file's lines — read with
//!   `BufferedReader.readLine()` (so `\n`, `\r\n` and `\r` end a line and are not hashed), a BOM
//!   removed from the first line, each line's UTF-8 bytes fed in turn — stored as a signed 32-bit
//!   integer (`ChecksumCalculator`).
//!
//! Liquibase's `MD5SUM` (`8:…`/`9:…`) is an MD5 of the normalised change set, not of the file, and
//! Atlas's `hash` chains every earlier file; those rows are matched by version and time only.

use sha2::{Digest, Sha256, Sha384};

/// The checksum the framework would store for this version of the file, or `None` when the
/// framework stores none (or one that is not a function of this file alone).
pub fn for_framework(framework: &str, text: &str) -> Option<String> {
    match framework {
        "sqlx" => Some(hex::encode(Sha384::digest(text.as_bytes()))),
        "prisma" | "drizzle" => Some(hex::encode(Sha256::digest(text.as_bytes()))),
        "flyway" => Some(flyway_crc32(text).to_string()),
        _ => None,
    }
}

/// Other spellings of the same checksum the tool also accepts (Prisma's CRLF normalisation).
pub fn alternatives(framework: &str, text: &str) -> Vec<String> {
    match framework {
        "prisma" if text.contains("\r\n") => {
            vec![hex::encode(Sha256::digest(
                text.replace("\r\n", "\n").as_bytes(),
            ))]
        }
        _ => Vec::new(),
    }
}

/// Flyway's `ChecksumCalculator`: CRC32 of the lines without their terminators, BOM stripped.
pub fn flyway_crc32(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The lines fed one after another to a streaming CRC are the text without its line
    // terminators (`\n`, `\r\n`, `\r`): every CR and LF left out.
    let mut crc = crc32fast::Hasher::new();
    for piece in text.as_bytes().split(|b| matches!(b, b'\n' | b'\r')) {
        crc.update(piece);
    }
    crc.finalize() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyway_ignores_line_endings_but_not_content() {
        let a = flyway_crc32("CREATE TABLE a (id int);\nDROP TABLE b;\n");
        let b = flyway_crc32("CREATE TABLE a (id int);\r\nDROP TABLE b;");
        let c = flyway_crc32("\u{feff}CREATE TABLE a (id int);\rDROP TABLE b;\n");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, flyway_crc32("CREATE TABLE a (id int);\nDROP TABLE c;\n"));
        // The lines concatenated, as Flyway feeds them.
        let mut h = crc32fast::Hasher::new();
        h.update(b"CREATE TABLE a (id int);DROP TABLE b;");
        assert_eq!(a, h.finalize() as i32);
    }

    #[test]
    fn sqlx_is_sha384_hex() {
        let c = for_framework("sqlx", "x").unwrap_or_default();
        assert_eq!(c.len(), 96);
    }
}
