//! Base64 encoding (RFC 4648) in the two forms we send: standard with
//! padding (Mailgun's basic auth header) and base64url without padding (the
//! access token offered as a websocket subprotocol), and decoding of the
//! standard form (event bodies in the database).

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard base64 with `=` padding (RFC 4648, section 4).
pub fn standard(data: &[u8]) -> String {
    encode(data, STANDARD, true)
}

/// Base64url without padding (RFC 4648, section 5).
pub fn url_unpadded(data: &[u8]) -> String {
    encode(data, URL_SAFE, false)
}

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of k bytes gives k + 1 characters, then padding to 4.
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 with `=` padding, as [`standard`] writes it.
/// `None` for anything else: a character outside the alphabet, a length
/// not a multiple of 4, padding anywhere but at the end.
pub fn decode_standard(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - pad] {
            n = (n << 6) | u32::from(sextet(b)?);
        }
        n <<= 6 * pad as u32;
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..3 - pad]);
    }
    Some(out)
}

fn sextet(b: u8) -> Option<u8> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_standard_round_trips_and_refuses_garbage() {
        for len in 0..40usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            assert_eq!(decode_standard(&standard(&data)), Some(data));
        }
        assert_eq!(decode_standard("Zm9vYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(decode_standard("Zg=="), Some(b"f".to_vec()));
        for bad in ["Zg=", "Zg", "Z===", "Zg==Zg==", "Zm9v YmFy", "Zm9-", "é123"] {
            assert_eq!(decode_standard(bad), None, "{bad}");
        }
    }
}
