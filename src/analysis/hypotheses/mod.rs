//! One module per hypothesis kind; each is a pure function from evidence to findings.
