//! (f.4) A real full disk: append until `ENOSPC` on a tiny tmpfs, then check the error,
//! that the writer survives, that every acknowledged record is there after reopening, and
//! that appends go on once space is freed. Ignored by default; run as root:
//!
//! ```sh
//! mkdir -p /tmp/mnemo-enospc && mount -t tmpfs -o size=2m tmpfs /tmp/mnemo-enospc && \
//!   MNEMODB_ENOSPC_DIR=/tmp/mnemo-enospc CARGO_TARGET_DIR=/work/target-wal \
//!   cargo test -p mnemodb-wal --test it -- --ignored enospc --nocapture; \
//!   umount /tmp/mnemo-enospc
//! ```
//!
//! (Without root: `unshare -rm sh -c 'mount -t tmpfs -o size=2m tmpfs "$D" && exec cargo test …'`.)
use std::path::PathBuf;
use std::sync::Arc;

use mnemodb_io::{Fs, StdFs};
use mnemodb_wal::{Lsn, Wal, WalOptions};

use crate::payload_for;

const MAX_PAYLOAD: usize = 8192;

#[test]
#[ignore = "needs a small tmpfs in MNEMODB_ENOSPC_DIR (see the module doc)"]
fn enospc_on_a_tiny_tmpfs() {
    let Ok(root) = std::env::var("MNEMODB_ENOSPC_DIR") else {
        println!("SKIP enospc: set MNEMODB_ENOSPC_DIR to a directory on a small tmpfs");
        return;
    };
    // Large files: the disk fills up inside a record write (a partial write to cut off).
    fill_and_recover(&PathBuf::from(&root), 64 << 20);
    // Small files: it fills up while a new file is being created.
    fill_and_recover(&PathBuf::from(&root), 256 << 10);
}

fn fill_and_recover(root: &std::path::Path, max_file_bytes: u64) {
    let wal_dir = root.join("wal");
    let filler = root.join("filler");
    let _ = std::fs::remove_dir_all(&wal_dir);
    let _ = std::fs::remove_file(&filler);
    std::fs::write(&filler, vec![7u8; 512 << 10]).unwrap();
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let opts = WalOptions {
        max_file_bytes,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(Arc::clone(&fs), &wal_dir, opts.clone()).unwrap();

    // Fill the disk.
    let mut acked: Lsn = 0;
    let err = loop {
        match wal.append(&payload_for(acked + 1, MAX_PAYLOAD)) {
            Ok(lsn) => {
                assert_eq!(lsn, acked + 1);
                acked = lsn;
            }
            Err(e) => break e,
        }
        assert!(acked < 1_000_000, "the disk never filled up");
    };
    println!("ENOSPC (files of {max_file_bytes} bytes) after {acked} records: {err}");
    assert!(err.is_no_space(), "expected ENOSPC (errno 28), got {err}");
    assert!(
        !wal.stats().poisoned,
        "a failed write must not poison: {:?}",
        wal.stats()
    );
    // Still full: still a clean error, still alive.
    assert!(
        wal.append(&payload_for(acked + 1, MAX_PAYLOAD))
            .unwrap_err()
            .is_no_space()
    );

    // Free space; the same writer goes on where it stopped.
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..20 {
        let lsn = wal.append(&payload_for(acked + 1, MAX_PAYLOAD)).unwrap();
        assert_eq!(lsn, acked + 1, "no LSN was lost to the failed appends");
        acked = lsn;
    }
    drop(wal);

    // Reopen: every acknowledged record is there, intact, and nothing else.
    let (wal, report) = Wal::open(Arc::clone(&fs), &wal_dir, opts).unwrap();
    assert_eq!(report.last_lsn, acked);
    assert_eq!(
        report.truncated_bytes, 0,
        "no garbage left by the failed writes"
    );
    let mut n = 0;
    wal.replay(0, |lsn, p| {
        assert_eq!(p, payload_for(lsn, MAX_PAYLOAD), "record {lsn}");
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, acked);
    println!("ENOSPC ok: {acked} records acknowledged and recovered, {report:?}");
    drop(wal);
    std::fs::remove_dir_all(&wal_dir).unwrap();
}
