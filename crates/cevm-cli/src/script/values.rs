//! Rhai values on the kernel's side of the fence: DWORD wrapping, the fault map a memory
//! access throws, equality for `assert_eq`, and how values are shown in messages and traces.

use cevm::Exception;
use rhai::{Blob, Dynamic, INT, Map};

/// A Rhai integer taken as a 32-bit DWORD: the low 32 bits, so `-1` becomes 0xFFFFFFFF.
pub fn dword(v: INT) -> u32 {
    v as u32
}

/// A DWORD (address, size, handle, error code) as a Rhai integer: always non-negative.
pub fn int(v: u32) -> Dynamic {
    Dynamic::from_int(INT::from(v))
}

/// `hex(n)`: `0x0001F000`. Values that fit a DWORD (negative ones wrapped, as the kernel
/// would read them) take 8 digits; wider values take as many as they need.
pub fn hex(n: INT) -> String {
    if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&n) {
        format!("0x{:08X}", n as u32)
    } else {
        format!("0x{:08X}", n as u64)
    }
}

/// The map a faulting access throws: `#{code, address, write}`.
pub fn fault_map(e: Exception) -> Dynamic {
    let mut m = Map::new();
    m.insert("code".into(), int(e.code));
    m.insert("address".into(), int(e.address));
    m.insert("write".into(), Dynamic::from_bool(e.write));
    m.into()
}

/// If `v` is a fault map, the sentence an uncaught fault deserves.
pub fn describe_fault(v: &Dynamic) -> Option<String> {
    let m = v.read_lock::<Map>()?;
    let code = m.get("code")?.as_int().ok()?;
    let address = m.get("address")?.as_int().ok()?;
    let write = m.get("write")?.as_bool().ok()?;
    let what = if dword(code) == cevm::consts::STATUS_ACCESS_VIOLATION {
        " (STATUS_ACCESS_VIOLATION)"
    } else {
        ""
    };
    Some(format!(
        "unhandled exception {}{what} {} {}",
        hex(code),
        if write { "writing" } else { "reading" },
        hex(address)
    ))
}

/// A short name for the type of `v`, for "argument 2 must be an integer, not a string".
pub fn type_label(v: &Dynamic) -> &'static str {
    if v.is_int() {
        "an integer"
    } else if v.is_bool() {
        "a bool"
    } else if v.is_string() {
        "a string"
    } else if v.is_blob() {
        "a blob"
    } else if v.is_map() {
        "a map"
    } else if v.is_array() {
        "an array"
    } else if v.is_unit() {
        "nothing"
    } else if v.is_float() {
        "a float"
    } else if v.is_char() {
        "a char"
    } else {
        "a value of another type"
    }
}

/// Equality for `assert_eq`: integers, bools, strings and chars by value, blobs by content,
/// arrays and maps element by element. Values of different types are never equal.
pub fn equal(a: &Dynamic, b: &Dynamic) -> bool {
    if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_char(), b.as_char()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_float(), b.as_float()) {
        return x == y;
    }
    if a.is_unit() || b.is_unit() {
        return a.is_unit() && b.is_unit();
    }
    if a.is_string() && b.is_string() {
        return a.clone().into_string().ok() == b.clone().into_string().ok();
    }
    if let (Some(x), Some(y)) = (a.read_lock::<Blob>(), b.read_lock::<Blob>()) {
        return *x == *y;
    }
    if let (Some(x), Some(y)) = (a.read_lock::<rhai::Array>(), b.read_lock::<rhai::Array>()) {
        return x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equal(p, q));
    }
    if let (Some(x), Some(y)) = (a.read_lock::<Map>(), b.read_lock::<Map>()) {
        return x.len() == y.len()
            && x.iter()
                .all(|(k, v)| y.get(k.as_str()).is_some_and(|w| equal(v, w)));
    }
    false
}

/// Where two blobs first differ, for a failed `assert_eq`.
pub fn first_difference(a: &Dynamic, b: &Dynamic) -> Option<usize> {
    let (x, y) = (a.read_lock::<Blob>()?, b.read_lock::<Blob>()?);
    x.iter()
        .zip(y.iter())
        .position(|(p, q)| p != q)
        .or_else(|| (x.len() != y.len()).then(|| x.len().min(y.len())))
}

/// How deep [`show`] and [`to_json`] descend into arrays and maps; deeper values are
/// shown as `…`. A hostile script can nest values thousands deep; printing them must not
/// recurse that far.
pub const MAX_SHOWN_DEPTH: usize = 8;

/// How many elements of an array or map, and characters of a string, [`show`] writes
/// before it counts the rest.
pub const MAX_SHOWN_ITEMS: usize = 32;

/// How a value is shown in messages: integers in hex (with the decimal value when that
/// helps, as for error codes), blobs as text when printable and as bytes otherwise.
/// Nesting beyond [`MAX_SHOWN_DEPTH`] is cut to `…`, arrays and maps beyond
/// [`MAX_SHOWN_ITEMS`] elements end in `… N more`, long strings in `…`.
pub fn show(v: &Dynamic) -> String {
    show_at(v, 0)
}

fn show_at(v: &Dynamic, depth: usize) -> String {
    if let Ok(n) = v.as_int() {
        return if (10..=0xFFFF).contains(&n) || n < 0 {
            format!("{} ({n})", hex(n))
        } else {
            hex(n)
        };
    }
    if v.is_string() {
        let s = v.clone().into_string().unwrap_or_default();
        let max = MAX_SHOWN_ITEMS * 8;
        return match s.char_indices().nth(max) {
            Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
            None => format!("{s:?}"),
        };
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return show_blob(&b);
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        if depth >= MAX_SHOWN_DEPTH && !a.is_empty() {
            return "[…]".to_string();
        }
        let mut items: Vec<String> = a
            .iter()
            .take(MAX_SHOWN_ITEMS)
            .map(|x| show_at(x, depth + 1))
            .collect();
        if a.len() > MAX_SHOWN_ITEMS {
            items.push(format!("… {} more", a.len() - MAX_SHOWN_ITEMS));
        }
        return format!("[{}]", items.join(", "));
    }
    if let Some(m) = v.read_lock::<Map>() {
        if depth >= MAX_SHOWN_DEPTH && !m.is_empty() {
            return "#{…}".to_string();
        }
        let mut items: Vec<String> = m
            .iter()
            .take(MAX_SHOWN_ITEMS)
            .map(|(k, v)| format!("{k}: {}", show_at(v, depth + 1)))
            .collect();
        if m.len() > MAX_SHOWN_ITEMS {
            items.push(format!("… {} more", m.len() - MAX_SHOWN_ITEMS));
        }
        return format!("#{{{}}}", items.join(", "));
    }
    let text = v.to_string();
    match text.char_indices().nth(MAX_SHOWN_ITEMS * 8) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn show_blob(b: &[u8]) -> String {
    const SHOWN: usize = 48;
    let cut = &b[..b.len().min(SHOWN)];
    let more = if b.len() > SHOWN { "…" } else { "" };
    let printable = !cut.is_empty() && cut.iter().all(|c| (0x20..0x7F).contains(c));
    let body = if printable {
        format!("{:?}", String::from_utf8_lossy(cut))
    } else {
        cut.iter()
            .map(|c| format!("{c:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("blob[{}] {body}{more}", b.len())
}

/// A value as JSON for the trace: integers as numbers, blobs as lower-case hex strings.
/// Arrays and maps nested deeper than [`MAX_SHOWN_DEPTH`] become the string `"…"` (the
/// kernel never returns such values; a script could build them).
pub fn to_json(v: &Dynamic) -> serde_json::Value {
    to_json_at(v, 0)
}

fn to_json_at(v: &Dynamic, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if let Ok(n) = v.as_int() {
        return n.into();
    }
    if let Ok(b) = v.as_bool() {
        return b.into();
    }
    if v.is_unit() {
        return Value::Null;
    }
    if v.is_string() {
        return v.clone().into_string().unwrap_or_default().into();
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return blob_json(&b);
    }
    if (v.is_array() || v.is_map()) && depth >= MAX_SHOWN_DEPTH {
        return "…".into();
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        return a
            .iter()
            .map(|x| to_json_at(x, depth + 1))
            .collect::<Vec<_>>()
            .into();
    }
    if let Some(m) = v.read_lock::<Map>() {
        return m
            .iter()
            .map(|(k, v)| (k.to_string(), to_json_at(v, depth + 1)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    v.to_string().into()
}

/// A byte buffer in the trace: lower-case hex, two digits a byte.
pub fn blob_json(b: &[u8]) -> serde_json::Value {
    b.iter()
        .map(|c| format!("{c:02x}"))
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_pads_dwords_to_eight_digits_and_wraps_negatives() {
        assert_eq!(hex(0x1F000), "0x0001F000");
        assert_eq!(hex(-1), "0xFFFFFFFF");
        assert_eq!(hex(0x1_0000_0000), "0x100000000");
    }

    #[test]
    fn blobs_compare_by_content_and_types_never_mix() {
        let a = Dynamic::from_blob(b"abc".to_vec());
        let b = Dynamic::from_blob(b"abc".to_vec());
        let c = Dynamic::from_blob(b"abd".to_vec());
        assert!(equal(&a, &b));
        assert!(!equal(&a, &c));
        assert_eq!(first_difference(&a, &c), Some(2));
        assert!(!equal(&Dynamic::from_int(1), &Dynamic::from_bool(true)));
    }

    #[test]
    fn show_gives_error_codes_in_hex_and_decimal() {
        assert_eq!(show(&Dynamic::from_int(87)), "0x00000057 (87)");
        assert_eq!(show(&Dynamic::from_int(0x10000)), "0x00010000");
        assert_eq!(show(&Dynamic::from_blob(b"hi".to_vec())), "blob[2] \"hi\"");
        assert_eq!(show(&Dynamic::from_blob(vec![0, 1])), "blob[2] 00 01");
    }

    /// An array nested `depth` deep around 0, built without recursion.
    fn nested(depth: usize) -> Dynamic {
        let mut v = Dynamic::from_int(0);
        for _ in 0..depth {
            v = Dynamic::from_array(vec![v]);
        }
        v
    }

    #[test]
    fn show_cuts_nesting_at_the_depth_cap_and_long_arrays_at_the_item_cap() {
        let deep = show(&nested(MAX_SHOWN_DEPTH + 3));
        assert_eq!(
            deep,
            format!(
                "{}[…]{}",
                "[".repeat(MAX_SHOWN_DEPTH),
                "]".repeat(MAX_SHOWN_DEPTH)
            )
        );
        let long: rhai::Array = (0..40).map(Dynamic::from_int).collect();
        let shown = show(&Dynamic::from_array(long));
        assert!(shown.ends_with(", … 8 more]"), "{shown}");
        assert!(shown.starts_with("[0x00000000, 0x00000001,"), "{shown}");
        // Dropping the deep value iteratively, so the test itself cannot overflow.
        let mut v = nested(30_000);
        assert_eq!(show(&v).matches('[').count(), MAX_SHOWN_DEPTH + 1);
        while let Ok(mut a) = v.into_array() {
            v = a.pop().unwrap_or_default();
        }
    }

    #[test]
    fn to_json_cuts_nesting_at_the_depth_cap() {
        let mut expected = serde_json::Value::from("…");
        for _ in 0..MAX_SHOWN_DEPTH {
            expected = serde_json::Value::Array(vec![expected]);
        }
        assert_eq!(to_json(&nested(MAX_SHOWN_DEPTH + 5)), expected);
        assert_eq!(to_json(&nested(2)), serde_json::json!([[0]]));
    }

    #[test]
    fn dword_wraps_to_32_bits() {
        assert_eq!(dword(-1), 0xFFFF_FFFF);
        assert_eq!(dword(0x1_0000_0005), 5);
    }
}
