//! The WAL fuzz corpora, replayed as ordinary tests on stable: every committed input of
//! `fuzz/corpus/{wal_frame,wal_replay}` goes through the same checks as the fuzz targets
//! (`fuzz/fuzz_targets/wal_*.rs`), so a crash found once stays fixed.
//! `cargo test -p mnemodb-wal --test it -- --ignored write_seed_corpus` regenerates the
//! seed files.
use std::path::Path;
use std::sync::Arc;

use mnemodb_format::WalHeader;
use mnemodb_io::MemFs;
use mnemodb_wal::{
    FileReport, Lsn, Wal, WalOptions, decode_file, decode_frame, decode_frames, encode_frame,
    len_crc,
};

use mnemodb_testkit::fuzz_corpus as corpus;

fn frame_check(bytes: &[u8], salt: u64) -> bool {
    let mut ok = false;
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
            .unwrap();
            assert_eq!(out, &bytes[..frame.len as usize]);
            assert_eq!(frame.entries().count(), frame.count as usize);
            ok = true;
        }
    }
    ok
}

/// Mirrors `fuzz/fuzz_targets/wal_frame.rs`; returns whether a frame decoded.
fn wal_frame(data: &[u8]) -> bool {
    let Some((salt, bytes)) = data.split_first_chunk::<8>() else {
        return false;
    };
    let salt = u64::from_le_bytes(*salt);
    let mut ok = frame_check(bytes, salt);
    if bytes.len() >= 12 {
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        if (12..=bytes.len()).contains(&len) {
            let mut fixed = bytes.to_vec();
            fixed[4..8].copy_from_slice(&len_crc(salt, len as u32).to_le_bytes());
            let crc = mnemodb_format::crc32_parts(&[&salt.to_le_bytes(), &fixed[..len - 4]]);
            fixed[len - 4..len].copy_from_slice(&crc.to_le_bytes());
            ok |= frame_check(&fixed, salt);
        }
    }
    ok
}

type Frames = Vec<(Lsn, Lsn, Vec<Vec<u8>>)>;

fn frames(bytes: &[u8]) -> Option<(FileReport, Frames)> {
    let mut out = Frames::new();
    let report = decode_frames(bytes, Path::new("fuzz.log"), |f| {
        out.push((
            f.first_lsn,
            f.synced_lsn,
            f.payloads().iter().map(|p| p.to_vec()).collect(),
        ));
        Ok(())
    })
    .ok()?;
    Some((report, out))
}

/// Mirrors `fuzz/fuzz_targets/wal_replay.rs`; returns the number of records decoded.
fn wal_replay(data: &[u8]) -> u64 {
    let mut records = 0u64;
    let by_record = decode_file(data, Path::new("fuzz.log"), |_, _| {
        records += 1;
        Ok(())
    });
    let Some((report, fr)) = frames(data) else {
        assert!(by_record.is_err());
        return 0;
    };
    assert_eq!(by_record.unwrap(), report);
    assert_eq!(records, report.records);
    let mut out = report.header.as_bytes().to_vec();
    for (first, synced, payloads) in &fr {
        let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        encode_frame(&mut out, report.header.salt, *first, *synced, &refs).unwrap();
    }
    assert_eq!(out.len() as u64, report.valid_len);
    assert_eq!(&out[..], &data[..out.len()]);
    for garbage in [
        &[0u8; 64][..],
        &[0xff; 13][..],
        b"garbage!",
        &data[..data.len().min(100)],
    ] {
        let mut longer = data.to_vec();
        longer.extend_from_slice(garbage);
        let (_, fr2) = frames(&longer).unwrap();
        assert!(
            fr2.starts_with(&fr),
            "appending garbage changed the recovered prefix"
        );
    }
    records
}

#[test]
fn replay_wal_corpora() {
    let frame_inputs = corpus("wal_frame");
    let replay_inputs = corpus("wal_replay");
    assert!(
        !frame_inputs.is_empty() && !replay_inputs.is_empty(),
        "seed corpora are committed"
    );
    let mut frames_ok = 0;
    let mut records = 0;
    for path in frame_inputs.iter().chain(&replay_inputs) {
        let data = std::fs::read(path).unwrap();
        frames_ok += u64::from(wal_frame(&data));
        records += wal_replay(&data);
    }
    println!(
        "fuzz corpora: {} + {} inputs, {frames_ok} valid frames, {records} records",
        frame_inputs.len(),
        replay_inputs.len()
    );
    assert!(frames_ok > 0 && records > 0);
}

/// Seed files: real WAL files (records, batches, a torn tail, garbage) and single frames.
#[test]
#[ignore = "regenerates fuzz/corpus seed files"]
fn write_seed_corpus() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for t in ["wal_frame", "wal_replay"] {
        std::fs::create_dir_all(out.join(t)).unwrap();
    }
    let mem = MemFs::new();
    let (wal, _) = Wal::open(
        Arc::new(mem.clone()),
        Path::new("/wal"),
        WalOptions::default(),
    )
    .unwrap();
    wal.append(b"first record").unwrap();
    wal.append_batch(&[b"a", b"", b"batch of three"]).unwrap();
    for i in 0..5u8 {
        wal.append(&vec![i; 3 + 17 * usize::from(i)]).unwrap();
    }
    drop(wal);
    let file = mem.files()[0].clone();
    let log = mem.read_all(&file).unwrap();
    let header = WalHeader::decode(&log, &file).unwrap();
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        ("header-only", log[..WalHeader::SIZE].to_vec()),
        ("log", log.clone()),
        ("torn", log[..log.len() - 5].to_vec()),
        (
            "garbage-tail",
            [log.clone(), b"\x13garbage\x00\xff".to_vec()].concat(),
        ),
        ("zero-tail", [log.clone(), vec![0; 128]].concat()),
    ];
    let mut mid = log.clone();
    mid[WalHeader::SIZE + 20] ^= 4;
    seeds.push(("mid-flip", mid));
    for (name, bytes) in &seeds {
        std::fs::write(out.join("wal_replay").join(format!("seed-{name}")), bytes).unwrap();
    }
    let salt = header.salt.to_le_bytes();
    let mut n = 0;
    decode_frames(&log, &file, |f| {
        let mut b = salt.to_vec();
        encode_frame(
            &mut b,
            header.salt,
            f.first_lsn,
            f.synced_lsn,
            &f.payloads(),
        )
        .unwrap();
        std::fs::write(out.join("wal_frame").join(format!("seed-{n}")), &b).unwrap();
        n += 1;
        Ok(())
    })
    .unwrap();
}
