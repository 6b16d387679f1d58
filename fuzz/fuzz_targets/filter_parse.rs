//! Any text as a filter: parsing never panics; an error points inside the text; a filter
//! that parses prints as text that parses to the same filter (compared by its printed form,
//! since NaN literals are not equal to themselves).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mnemodb_metastore::Filter;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::parse(text) {
        Ok(f) => {
            let shown = f.to_string();
            let back = Filter::parse(&shown)
                .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
            assert_eq!(back.to_string(), shown);
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1);
            let _ = e.display_with_source(text);
        }
    }
});
