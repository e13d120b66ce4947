//! Planted bugs: deliberate mistakes that the loom models must catch.
//!
//! A model that passes on the real code proves little unless it would fail on the bug it
//! guards against. So each guarded protocol keeps its broken variant beside the correct
//! one, behind [`planted!`]:
//!
//! ```
//! # let validated_recently = true;
//! let needs_validation = if planted::planted!("commit_without_validation") {
//!     false // the bug: trust no validation at all
//! } else {
//!     !validated_recently
//! };
//! # assert!(!needs_validation);
//! ```
//!
//! Outside `cfg(loom)` the macro is the constant `false`, so the compiler drops the bug
//! and the check alike. Under `cfg(loom)` it asks [`is_planted`], which compares the name
//! with the `LOOM_PLANTED_BUG` environment variable: one loom build runs the models on
//! the real code and, run again with the variable set, on each bug (`scripts/loom.sh`),
//! instead of one build per bug.

use std::sync::OnceLock;

/// The environment variable that names the planted bug of a loom run.
pub const PLANTED_BUG_VAR: &str = "LOOM_PLANTED_BUG";

/// Whether the planted bug `name` is switched on: always `false` outside `cfg(loom)`;
/// under it, whether [`PLANTED_BUG_VAR`] names this bug.
#[macro_export]
macro_rules! planted {
    ($name:literal) => {
        cfg!(loom) && $crate::is_planted($name)
    };
}

/// Whether [`PLANTED_BUG_VAR`] names the bug `name` (read once per process).
pub fn is_planted(name: &str) -> bool {
    planted_bug() == Some(name)
}

/// The planted bug named by [`PLANTED_BUG_VAR`], if any (read once per process).
pub fn planted_bug() -> Option<&'static str> {
    static PLANTED: OnceLock<Option<String>> = OnceLock::new();
    PLANTED
        .get_or_init(|| {
            std::env::var(PLANTED_BUG_VAR)
                .ok()
                .filter(|name| !name.is_empty())
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    #[test]
    fn outside_loom_no_bug_is_ever_planted() {
        // Whatever the environment says: the switch is compiled out.
        assert!(!planted!("commit_without_validation"));
    }
}
