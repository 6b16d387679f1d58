//! Any bytes as one WAL frame (the first 8 bytes are the salt): decoding never panics, and
//! a frame that decodes re-encodes to exactly its bytes. A second pass repairs the two
//! checksums first, so the checks behind them are fuzzed too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mnemodb_wal::{decode_frame, encode_frame};

fn check(bytes: &[u8], salt: u64) {
    for max in [u32::MAX, 64] {
        if let Ok(frame) = decode_frame(bytes, salt, max) {
            assert!(frame.len <= max);
            let mut out = Vec::new();
            encode_frame(
                &mut out,
                salt,
                frame.first_lsn,
                frame.synced_lsn,
                &frame.payloads(),
            )
            .expect("a decoded frame re-encodes");
            assert_eq!(out, &bytes[..frame.len as usize]);
            assert_eq!(frame.entries().count(), frame.count as usize);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((salt, bytes)) = data.split_first_chunk::<8>() else {
        return;
    };
    let salt = u64::from_le_bytes(*salt);
    check(bytes, salt);
    // Repair both checksums for the length the bytes claim (when it fits).
    if bytes.len() >= 12 {
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        if (12..=bytes.len()).contains(&len) {
            let mut fixed = bytes.to_vec();
            fixed[4..8].copy_from_slice(&mnemodb_wal::len_crc(salt, len as u32).to_le_bytes());
            let crc = mnemodb_format::crc32_parts(&[&salt.to_le_bytes(), &fixed[..len - 4]]);
            fixed[len - 4..len].copy_from_slice(&crc.to_le_bytes());
            check(&fixed, salt);
        }
    }
});
