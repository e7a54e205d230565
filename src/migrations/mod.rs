//! Migration history: finds migration files of the common frameworks in git, every version of
//! each, what each version would destroy, and (with a database) which version actually ran.
//! Only `history.rs` speaks git2.
