//! Any bytes as a whole WAL file: `decode_file` never panics; the records it returns
//! re-encode to a byte prefix of the input (header + frames = the first `valid_len` bytes);
//! appending garbage never changes the recovered prefix.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mnemodb_wal::{FileReport, Lsn, decode_file, decode_frames, encode_frame};

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

fuzz_target!(|data: &[u8]| {
    let mut records = 0u64;
    let by_record = decode_file(data, Path::new("fuzz.log"), |_, _| {
        records += 1;
        Ok(())
    });
    let Some((report, fr)) = frames(data) else {
        assert!(by_record.is_err());
        return;
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
        let (_, fr2) = frames(&longer).expect("the header is unchanged");
        assert!(
            fr2.starts_with(&fr),
            "appending garbage changed the recovered prefix"
        );
    }
});
