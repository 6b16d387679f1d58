//! Write → read round trips for every format, with random shapes and values.

use mnemodb_dataset::{
    BvecsReader, FvecsReader, IvecsReader, Neighbors, NpyReader, Vectors, read_ids, read_vectors,
    write_bvecs, write_fvecs, write_ivecs, write_npy_f32, write_npy_i32,
};
use proptest::prelude::*;

/// Any f32 bit pattern (NaN payloads included): files must keep them exactly.
fn any_f32() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(f32::from_bits)
}

fn shape() -> impl Strategy<Value = (usize, usize)> {
    (0usize..24, 1usize..48)
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fvecs_round_trip(((rows, dim), seed) in (shape(), any::<u64>())) {
        let data: Vec<f32> = (0..rows * dim)
            .map(|i| f32::from_bits((i as u32).wrapping_mul(2_654_435_761) ^ seed as u32))
            .collect();
        let vectors = Vectors::new(dim, data).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fvecs");
        write_fvecs(&path, &vectors).unwrap();
        prop_assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, rows * (4 + 4 * dim));
        let back = read_vectors(&path).unwrap();
        prop_assert_eq!(back.dim, if rows == 0 { 0 } else { dim });
        prop_assert_eq!(bits(&back.data), bits(&vectors.data));
        // The streaming reader, from memory, agrees row by row.
        let bytes = std::fs::read(&path).unwrap();
        let rows_read: Vec<Vec<f32>> = FvecsReader::from_bytes(&bytes)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(rows_read.len(), rows);
        for (i, row) in rows_read.iter().enumerate() {
            prop_assert_eq!(bits(row), bits(vectors.row(i)));
        }
    }

    #[test]
    fn fvecs_round_trip_any_values(values in prop::collection::vec(any_f32(), 1..64)) {
        let vectors = Vectors::new(values.len(), values).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fvecs");
        write_fvecs(&path, &vectors).unwrap();
        prop_assert_eq!(bits(&read_vectors(&path).unwrap().data), bits(&vectors.data));
    }

    #[test]
    fn ivecs_round_trip((rows, k) in shape(), ids in prop::collection::vec(0u32..=i32::MAX as u32, 24 * 48)) {
        let ids = ids[..rows * k].to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gt.ivecs");
        write_ivecs(&path, k, &ids).unwrap();
        let back = read_ids(&path).unwrap();
        prop_assert_eq!(back.len(), rows);
        prop_assert_eq!(&back.data, &ids);
        let raw: Vec<i32> = IvecsReader::open(&path).unwrap().read_all().unwrap().1;
        prop_assert_eq!(raw.len(), ids.len());
    }

    #[test]
    fn bvecs_round_trip((rows, dim) in shape(), bytes in prop::collection::vec(any::<u8>(), 24 * 48)) {
        let data = bytes[..rows * dim].to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.bvecs");
        write_bvecs(&path, dim, &data).unwrap();
        let (_, raw) = BvecsReader::open(&path).unwrap().read_all().unwrap();
        prop_assert_eq!(&raw, &data);
        let as_f32 = read_vectors(&path).unwrap();
        let expected: Vec<f32> = data.iter().map(|&b| f32::from(b)).collect();
        prop_assert_eq!(as_f32.data, expected);
    }

    #[test]
    fn npy_f32_round_trip((rows, dim) in shape(), values in prop::collection::vec(any_f32(), 24 * 48)) {
        let data = values[..rows * dim].to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        write_npy_f32(&path, rows, dim, &data).unwrap();
        let reader = NpyReader::<f32>::open(&path).unwrap();
        prop_assert_eq!((reader.rows(), reader.dim()), (rows, dim));
        prop_assert_eq!(reader.data_offset() % 64, 0);
        let back = read_vectors(&path).unwrap();
        prop_assert_eq!(back.dim, dim);
        prop_assert_eq!(bits(&back.data), bits(&data));
        // From an unknown-length stream too.
        let bytes = std::fs::read(&path).unwrap();
        let (_, streamed) = NpyReader::<f32, _>::from_reader(&bytes[..], "stream").unwrap().read_all().unwrap();
        prop_assert_eq!(bits(&streamed), bits(&data));
    }

    #[test]
    fn npy_i32_round_trip((rows, dim) in shape(), values in prop::collection::vec(any::<i32>(), 24 * 48)) {
        let data = values[..rows * dim].to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.npy");
        write_npy_i32(&path, rows, dim, &data).unwrap();
        let (_, back) = NpyReader::<i32>::open(&path).unwrap().read_all().unwrap();
        prop_assert_eq!(&back, &data);
        match read_ids(&path) {
            Ok(ids) => {
                prop_assert!(data.iter().all(|&v| v >= 0));
                prop_assert_eq!(ids.data, data.iter().map(|&v| v as u32).collect::<Vec<_>>());
            }
            Err(e) => prop_assert!(data.iter().any(|&v| v < 0), "{}", e),
        }
    }
}

#[test]
fn empty_texmex_files_hold_zero_records() {
    let dir = tempfile::tempdir().unwrap();
    let fvecs = dir.path().join("empty.fvecs");
    write_fvecs(&fvecs, &Vectors::empty(16)).unwrap();
    assert_eq!(std::fs::metadata(&fvecs).unwrap().len(), 0);
    assert_eq!(read_vectors(&fvecs).unwrap(), Vectors::default());
    let ivecs = dir.path().join("empty.ivecs");
    write_ivecs(&ivecs, 10, &[]).unwrap();
    assert_eq!(read_ids(&ivecs).unwrap(), Neighbors::default());
    assert_eq!(FvecsReader::open(&fvecs).unwrap().dim(), None);
}

#[test]
fn npy_zero_rows_keeps_its_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.npy");
    write_npy_f32(&path, 0, 384, &[]).unwrap();
    let v = read_vectors(&path).unwrap();
    assert_eq!((v.dim, v.len()), (384, 0));
}

#[test]
fn npy_ids_read_as_neighbors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gt.npy");
    write_npy_i32(&path, 2, 3, &[5, 6, 7, 8, 9, 10]).unwrap();
    let ids = read_ids(&path).unwrap();
    assert_eq!((ids.k, ids.row(1)), (3, &[8u32, 9, 10][..]));
}

#[test]
fn extensions_are_case_insensitive_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BASE.FVECS");
    let v = Vectors::new(2, vec![1.0, 2.0]).unwrap();
    write_fvecs(&path, &v).unwrap();
    assert_eq!(read_vectors(&path).unwrap(), v);
    let err = read_vectors(dir.path().join("x.csv")).unwrap_err();
    assert!(err.to_string().contains("x.csv"), "{err}");
    // ids are not vectors, and vectors are not ids.
    assert!(read_vectors(dir.path().join("gt.ivecs")).is_err());
    assert!(read_ids(&path).is_err());
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_vectors("/nonexistent/dir/base.fvecs").unwrap_err();
    assert!(err.is_io());
    assert!(
        err.to_string().contains("/nonexistent/dir/base.fvecs"),
        "{err}"
    );
}
