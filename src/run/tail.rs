//! The output of `lovebeat run`: each of the command's streams copied
//! through to ours as it comes, and the last bytes of both (in arrival
//! order) kept in one bounded ring, the body sent with the run's end.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// The last `capacity` bytes written to it; older bytes are dropped, so
/// memory stays bounded however much the command prints.
#[derive(Debug)]
pub struct Tail {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// Bytes dropped from the front so far.
    dropped: u64,
}

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        Tail {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            dropped: 0,
        }
    }

    /// Appends `data`, keeping only the last `capacity` bytes.
    pub fn push(&mut self, data: &[u8]) {
        let data = if data.len() > self.capacity {
            let cut = data.len() - self.capacity;
            self.dropped += cut as u64;
            &data[cut..]
        } else {
            data
        };
        let over = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..over);
        self.dropped += over as u64;
        self.bytes.extend(data);
    }

    /// True when some output was dropped.
    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }

    /// The kept bytes, followed by `note`, all within `capacity`: the note
    /// (why the run failed) wins over the oldest output.
    pub fn body_with(&self, note: &[u8]) -> Vec<u8> {
        let room = self.capacity.saturating_sub(note.len());
        let skip = self.bytes.len().saturating_sub(room);
        let mut out: Vec<u8> = self.bytes.iter().skip(skip).copied().collect();
        out.extend_from_slice(&note[note.len().saturating_sub(self.capacity)..]);
        out
    }
}

/// Copies `from` to `to` until end of file, also into `tail`. A failed
/// write (our stdout closed) stops the copying through, not the reading,
/// so the command never blocks on a full pipe.
pub fn tee(mut from: impl Read, mut to: impl Write, tail: &Arc<Mutex<Tail>>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut passing = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if passing {
            passing = to.write_all(&buf[..n]).and_then(|()| to.flush()).is_ok();
        }
        tail.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes() {
        let mut t = Tail::new(5);
        t.push(b"abc");
        assert!(!t.truncated());
        assert_eq!(t.body_with(b""), b"abc");
        t.push(b"defg");
        assert!(t.truncated());
        assert_eq!(t.body_with(b""), b"cdefg");
        t.push(b"0123456789");
        assert_eq!(t.body_with(b""), b"56789");
        assert_eq!(t.bytes.len(), 5);
    }

    #[test]
    fn the_note_wins_over_old_output() {
        let mut t = Tail::new(6);
        t.push(b"abcdef");
        assert_eq!(t.body_with(b"!!"), b"cdef!!");
        assert_eq!(t.body_with(b"0123456789"), b"456789");
        assert_eq!(Tail::new(0).body_with(b"x"), b"");
    }

    #[test]
    fn tee_passes_everything_through_and_keeps_the_tail() {
        let tail = Arc::new(Mutex::new(Tail::new(4)));
        let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        tee(&input[..], &mut out, &tail);
        assert_eq!(out, input);
        let t = tail.lock().unwrap();
        assert_eq!(t.body_with(b""), &input[input.len() - 4..]);
    }
}
