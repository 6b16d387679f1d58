//! The scheduling priority of the engine's background threads (see
//! [`crate::Options::background_nice`]). Its only foreign calls are `gettid`,
//! `getpriority` and `setpriority`, each with its safety argument.

/// Raise the calling thread's nice value by `increment` (capped at 19), so the scheduler
/// prefers the threads that serve queries and writes. Best effort: on failure, or off
/// Linux, the thread keeps its priority.
pub(crate) fn lower_current_thread(increment: u8) {
    if increment == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    linux::renice_current_thread(i32::from(increment));
}

#[cfg(target_os = "linux")]
mod linux {
    /// Linux applies `setpriority(PRIO_PROCESS, tid, …)` to the one thread `tid`.
    pub(super) fn renice_current_thread(increment: i32) {
        // SAFETY: `gettid` has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        let Ok(who) = libc::id_t::try_from(tid) else {
            return;
        };
        // SAFETY: `getpriority` only reads the scheduling attributes of the thread `who`
        // (this thread, alive for the call); -1 is both an error and a valid nice value,
        // and either way the clamp below keeps the target in range.
        let current = unsafe { libc::getpriority(libc::PRIO_PROCESS, who) };
        let target = current.saturating_add(increment).clamp(-20, 19);
        // SAFETY: as above; a refusal (EPERM/EACCES) returns -1 and changes nothing.
        // The return value is deliberately ignored: priority is a hint.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, who, target) };
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        // SAFETY: see `linux::renice_current_thread`.
        let nice_of =
            |tid: libc::pid_t| unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
        // SAFETY: `gettid` has no preconditions.
        let main_tid = unsafe { libc::gettid() };
        let before = nice_of(main_tid);
        let (child_before, child_after) = std::thread::spawn(move || {
            // SAFETY: `gettid` has no preconditions.
            let me = unsafe { libc::gettid() };
            let b = nice_of(me);
            super::lower_current_thread(5);
            (b, nice_of(me))
        })
        .join()
        .expect("thread");
        assert_eq!(child_after, (child_before + 5).min(19));
        assert_eq!(
            nice_of(main_tid),
            before,
            "the caller's thread is untouched"
        );
    }
}
