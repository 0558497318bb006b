//! Percent-decoding of path segments, query strings and form bodies
//! (`application/x-www-form-urlencoded`). Lenient: a `%` not followed by two
//! hex digits is kept as it is; the callers validate what they decoded.

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`) into bytes.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|&c| hex(c));
            let lo = bytes.get(i + 2).and_then(|&c| hex(c));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' && plus_is_space { b' ' } else { b });
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses `a=1&b=x+y` (query strings and form bodies) into decoded pairs, in
/// order. Keys without `=` get an empty value; empty pieces are skipped;
/// bytes that are not UTF-8 after decoding become U+FFFD.
pub fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (lossy(k), lossy(v))
        })
        .collect()
}

fn lossy(text: &str) -> String {
    String::from_utf8_lossy(&percent_decode(text, true)).into_owned()
}

/// The first value of `key` among `pairs`.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes() {
        assert_eq!(percent_decode("a%2Eb%2ec", false), b"a.b.c");
        assert_eq!(percent_decode("a+b", false), b"a+b");
        assert_eq!(percent_decode("a+b", true), b"a b");
        assert_eq!(percent_decode("%2B", true), b"+");
        assert_eq!(percent_decode("100%", false), b"100%");
        assert_eq!(percent_decode("%4", false), b"%4");
        assert_eq!(percent_decode("%zz%41", false), b"%zzA");
        assert_eq!(percent_decode("%00", false), b"\0");
        assert_eq!(percent_decode("%C3%A9", false), "é".as_bytes());
        assert_eq!(percent_decode("", false), b"");
    }

    #[test]
    fn pairs() {
        let p = parse_pairs("timeout=5m&view=web&&flag&x=a+b%26c&timeout=1&bad=%FF");
        assert_eq!(get(&p, "timeout"), Some("5m"));
        assert_eq!(get(&p, "view"), Some("web"));
        assert_eq!(get(&p, "flag"), Some(""));
        assert_eq!(get(&p, "x"), Some("a b&c"));
        assert_eq!(get(&p, "bad"), Some("\u{FFFD}"));
        assert_eq!(get(&p, "missing"), None);
        assert!(parse_pairs("").is_empty());
    }
}
