//! Service names, stored once, back to back in one arena string. A service
//! keeps an offset and a length (5 bytes) instead of a boxed string (16
//! bytes of pointer plus a 32-byte allocation): at a million services that
//! is about 40 MB less. Deleted names leave garbage that is compacted away
//! once it is more than half the arena.

/// Where a name lives in the arena. Packed: 5 bytes, so it shares a word
/// with the service's state and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub(super) struct NameRef {
    offset: u32,
    len: u8,
}

#[derive(Default)]
pub(super) struct Names {
    arena: String,
    garbage: usize,
}

impl Names {
    /// Stores a name (at most 255 bytes; service names have at most 200).
    /// `None` when the arena is full (4 GiB of names).
    pub fn push(&mut self, name: &str) -> Option<NameRef> {
        let len = u8::try_from(name.len()).ok()?;
        let offset = u32::try_from(self.arena.len()).ok()?;
        u32::try_from(self.arena.len() + name.len()).ok()?;
        self.arena.push_str(name);
        Some(NameRef { offset, len })
    }

    pub fn get(&self, name: NameRef) -> &str {
        let start = name.offset as usize;
        self.arena
            .get(start..start + name.len as usize)
            .unwrap_or_default()
    }

    /// Marks a name as garbage.
    pub fn remove(&mut self, name: NameRef) {
        self.garbage += name.len as usize;
    }

    /// True when compaction would at least halve the arena.
    pub fn wants_compaction(&self) -> bool {
        self.garbage > 4096 && self.garbage * 2 > self.arena.len()
    }

    /// Rebuilds the arena from the live names, rewriting every reference.
    pub fn compact<'a>(&mut self, live: impl Iterator<Item = &'a mut NameRef>) {
        let mut arena = String::with_capacity(self.arena.len() - self.garbage);
        for name in live {
            let text = self.get(*name);
            let offset = arena.len() as u32;
            arena.push_str(text);
            *name = NameRef {
                offset,
                len: name.len,
            };
        }
        self.arena = arena;
        self.garbage = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_remove_compact() {
        let mut names = Names::default();
        let a = names.push("alpha").unwrap_or_else(|| unreachable!());
        let mut b = names.push("beta").unwrap_or_else(|| unreachable!());
        assert_eq!((names.get(a), names.get(b)), ("alpha", "beta"));
        assert!(names.push(&"x".repeat(256)).is_none());
        names.remove(a);
        names.compact(std::iter::once(&mut b));
        assert_eq!(names.get(b), "beta");
        assert_eq!(names.arena, "beta");
    }
}
