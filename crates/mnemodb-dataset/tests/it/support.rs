//! Byte builders shared by the tests.

/// One TEXMEX record: `dim` header then the raw value bytes.
pub fn record(dim: i32, values: &[u8]) -> Vec<u8> {
    let mut out = dim.to_le_bytes().to_vec();
    out.extend_from_slice(values);
    out
}

/// Little-endian bytes of `f32` values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An `.fvecs` file of `rows` rows of `dim` values each (value = row * 100 + column).
pub fn fvecs(rows: usize, dim: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..rows {
        let values: Vec<f32> = (0..dim).map(|c| (r * 100 + c) as f32).collect();
        out.extend(record(dim as i32, &f32_bytes(&values)));
    }
    out
}

/// A `.npy` file with any version, header dict text and data; the header is padded with
/// spaces and a newline to a 64-byte boundary, as numpy does.
pub fn npy_raw(major: u8, minor: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let len_bytes = if major == 1 { 2 } else { 4 };
    let mut dict = dict.to_string();
    let unpadded = 8 + len_bytes + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, minor]);
    if major == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A `.npy` dict literal as numpy writes it.
pub fn dict(descr: &str, fortran: bool, shape: &str) -> String {
    let fortran = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
}
