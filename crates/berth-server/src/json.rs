//! JSON encoding of records, responses and agent messages into buffers of the size they need.
//!
//! `serde_json::to_vec` starts from 128 bytes and doubles as it writes: a 2 KB task record grew
//! through four reallocations, each copying what was written so far, and a RunTask response of
//! ten tasks through seven, which made reallocation a visible share of RunTask's time in a
//! profile. Encoding into a buffer that each thread keeps, and copying the result out once,
//! allocates exactly what is kept.

use std::cell::RefCell;

use serde::Serialize;

/// A thread's buffer is dropped after an encoding that grew it past this, so that one large
/// response does not stay allocated in every thread that ever wrote one.
const KEEP_AT_MOST: usize = 1 << 20;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `value` as JSON, as `serde_json::to_vec` encodes it.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let encoded = SCRATCH.try_with(|cell| {
        // Busy only when a `Serialize` impl itself encodes JSON; that inner encoding goes apart.
        let mut scratch = cell.try_borrow_mut().ok()?;
        scratch.clear();
        let encoded = serde_json::to_writer(&mut *scratch, value).map(|()| scratch.to_vec());
        if scratch.capacity() > KEEP_AT_MOST {
            *scratch = Vec::new();
        }
        Some(encoded)
    });
    // The thread's buffer is gone (the thread is ending) or in use: encode without it.
    encoded.ok().flatten().unwrap_or_else(|| serde_json::to_vec(value))
}

/// `value` as a JSON string, as `serde_json::to_string` encodes it.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // serde_json writes only UTF-8, so the conversion never fails; it is checked all the same.
    String::from_utf8(to_vec(value)?).map_err(serde::ser::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde::Serializer;

    use super::*;

    #[test]
    fn encodes_as_serde_json_does_and_keeps_no_large_buffer() {
        let values = [
            serde_json::json!({}),
            serde_json::json!({"task": {"lastStatus": "RUNNING", "note": "quote \" and é"}}),
            serde_json::json!({"big": "x".repeat(KEEP_AT_MOST * 2)}),
            serde_json::json!([1, 2.5, null, true]),
        ];
        for value in &values {
            assert_eq!(to_vec(value).unwrap(), serde_json::to_vec(value).unwrap());
            assert_eq!(to_string(value).unwrap(), serde_json::to_string(value).unwrap());
            let capacity = SCRATCH.with(|cell| cell.borrow().capacity());
            assert!(capacity <= KEEP_AT_MOST, "kept {capacity} bytes");
        }
    }

    /// Encodes its inner value as a JSON string while being encoded.
    struct Nested(serde_json::Value);

    impl Serialize for Nested {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = to_string(&self.0).map_err(serde::ser::Error::custom)?;
            serializer.serialize_str(&inner)
        }
    }

    #[test]
    fn an_encoding_within_an_encoding_is_right_too() {
        let nested = Nested(serde_json::json!({"a": [1, 2]}));
        assert_eq!(to_string(&nested).unwrap(), r#""{\"a\":[1,2]}""#);
    }
}
