//! The only module that speaks minijinja and comfy-table: Markdown reports from templates,
//! JSON, and terminal tables for every command.

pub mod term;
pub mod timeline_view;
