//! The only module that speaks minijinja and comfy-table: Markdown reports from templates,
//! JSON, and terminal tables for every command.

pub mod audit_view;
pub mod markdown;
pub mod migrations_view;
pub mod model;
pub mod redact;
pub mod summary_view;
pub mod tables_view;
pub mod term;
pub mod timeline_view;
pub mod verified;
pub mod verify_view;
