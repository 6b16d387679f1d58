//! Crash points for the kill-point tests. With the `failpoints` feature, setting
//! `MNEMODB_FAILPOINT=<name>:<nth>` makes the process abort (as a power cut or `kill -9`
//! would stop it) the `nth` time execution reaches point `name`. Without the feature,
//! every point compiles to nothing.

/// Every crash point, in write-path order (the kill-point test sweeps them).
pub const POINTS: &[&str] = &[
    "write.after_wal",
    "seal.after_vec",
    "seal.after_index",
    "seal.after_checkpoint",
    "manifest.after_temp",
    "manifest.after_rename",
    "install.after_manifest",
    "cleanup.mid",
    "index.after_file",
    "compact.after_vec",
    "compact.after_index",
];

/// Abort here when this point is armed (feature `failpoints` only).
#[inline]
pub(crate) fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    armed::hit(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);

    pub(super) fn hit(name: &str) {
        let armed = ARMED.get_or_init(|| {
            let spec = std::env::var("MNEMODB_FAILPOINT").ok()?;
            let (point, nth) = spec.rsplit_once(':')?;
            Some((point.to_string(), nth.parse().ok()?))
        });
        if let Some((point, nth)) = armed
            && point == name
            && COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *nth
        {
            eprintln!("failpoint {name} reached: aborting");
            std::process::abort();
        }
    }
}
