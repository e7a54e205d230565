//! From evidence to ranked findings. Pure functions over `evidence::Evidence`: no SQL, no files,
//! no git. One hypothesis per file under `hypotheses/`.

pub mod hypotheses;
pub mod status;
