//! Server logs → forensic timeline. Owns reading (decompression, format and prefix inference,
//! multi-line entries) and classification into `evidence::LogEvent`s. Knows nothing of
//! databases, git or hypotheses.
