use std::io::Result as IoResult;
use std::io::{BufRead, Read, Write};

// lovebeat patch: each hand-over carries one value, so a one-slot hand-over
// (one small allocation) instead of an unbounded channel (a 31-slot block
// per send, about 1.7 KiB for the reader, twice per request), and not
// std's `sync_channel(1)` either (a cache-padded, aligned allocation and
// waker lists, a tenth of a beat's instructions).
use self::one_slot::{one_slot, Receiver, Sender};

mod one_slot {
    use std::sync::{Arc, Condvar, Mutex};

    struct Slot<T> {
        value: Option<T>,
        /// The sender is gone (sent or dropped): nothing more will come.
        closed: bool,
        /// A receiver sleeps on the condvar (notify only then: no syscall
        /// for a hand-over nobody waits for).
        waiting: bool,
    }

    struct Shared<T> {
        slot: Mutex<Slot<T>>,
        ready: Condvar,
    }

    pub(super) struct Sender<T>(Arc<Shared<T>>);
    pub(super) struct Receiver<T>(Arc<Shared<T>>);

    /// The sender gave up without sending.
    #[derive(Debug)]
    pub(super) struct Disconnected;

    pub(super) fn one_slot<T>(_bound: usize) -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                value: None,
                closed: false,
                waiting: false,
            }),
            ready: Condvar::new(),
        });
        (Sender(Arc::clone(&shared)), Receiver(shared))
    }

    impl<T> Sender<T> {
        /// Hands `value` over; never blocks. Err if a value is already
        /// there (each sender sends once).
        pub(super) fn send(&self, value: T) -> Result<(), T> {
            let Ok(mut slot) = self.0.slot.lock() else {
                return Err(value);
            };
            if slot.value.is_some() {
                return Err(value);
            }
            slot.value = Some(value);
            if slot.waiting {
                self.0.ready.notify_one();
            }
            Ok(())
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            if let Ok(mut slot) = self.0.slot.lock() {
                slot.closed = true;
                if slot.waiting {
                    self.0.ready.notify_one();
                }
            }
        }
    }

    impl<T> Receiver<T> {
        /// Waits for the value; Err if the sender went away without one.
        pub(super) fn recv(&self) -> Result<T, Disconnected> {
            let Ok(mut slot) = self.0.slot.lock() else {
                return Err(Disconnected);
            };
            loop {
                if let Some(value) = slot.value.take() {
                    slot.waiting = false;
                    return Ok(value);
                }
                if slot.closed {
                    return Err(Disconnected);
                }
                slot.waiting = true;
                slot = match self.0.ready.wait(slot) {
                    Ok(slot) => slot,
                    Err(_) => return Err(Disconnected),
                };
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::one_slot;

        #[test]
        fn a_value_is_handed_over_across_threads() {
            let (tx, rx) = one_slot(1);
            let t = std::thread::spawn(move || rx.recv().ok());
            // not a synchronisation: either order must work; the pause
            // makes the waiting path the likely one
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(tx.send(7).is_ok());
            assert_eq!(t.join().ok().flatten(), Some(7));
        }

        #[test]
        fn a_dropped_sender_ends_the_wait() {
            let (tx, rx) = one_slot::<u8>(1);
            let t = std::thread::spawn(move || rx.recv().is_err());
            // not a synchronisation: either order must work; the pause
            // makes the waiting path the likely one
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(tx);
            assert_eq!(t.join().ok(), Some(true));
            let (tx, rx) = one_slot(1);
            assert!(tx.send(1).is_ok());
            assert!(tx.send(2).is_err(), "one slot");
            drop(tx);
            assert_eq!(rx.recv().ok(), Some(1), "sent before the sender left");
        }
    }
}
use std::sync::{Arc, Mutex};

use std::mem;

pub struct SequentialReaderBuilder<R>
where
    R: Read + Send,
{
    inner: SequentialReaderBuilderInner<R>,
}

enum SequentialReaderBuilderInner<R>
where
    R: Read + Send,
{
    First(R),
    NotFirst(Receiver<R>),
}

pub struct SequentialReader<R>
where
    R: Read + Send,
{
    inner: SequentialReaderInner<R>,
    next: Sender<R>,
}

enum SequentialReaderInner<R>
where
    R: Read + Send,
{
    MyTurn(R),
    Waiting(Receiver<R>),
    Empty,
}

pub struct SequentialWriterBuilder<W>
where
    W: Write + Send,
{
    writer: Arc<Mutex<W>>,
    next_trigger: Option<Receiver<()>>,
}

pub struct SequentialWriter<W>
where
    W: Write + Send,
{
    trigger: Option<Receiver<()>>,
    writer: Arc<Mutex<W>>,
    on_finish: Sender<()>,
}

impl<R: Read + Send> SequentialReaderBuilder<R> {
    pub fn new(reader: R) -> SequentialReaderBuilder<R> {
        SequentialReaderBuilder {
            inner: SequentialReaderBuilderInner::First(reader),
        }
    }
}

impl<W: Write + Send> SequentialWriterBuilder<W> {
    pub fn new(writer: W) -> SequentialWriterBuilder<W> {
        SequentialWriterBuilder {
            writer: Arc::new(Mutex::new(writer)),
            next_trigger: None,
        }
    }
}

impl<R: Read + Send> Iterator for SequentialReaderBuilder<R> {
    type Item = SequentialReader<R>;

    fn next(&mut self) -> Option<SequentialReader<R>> {
        let (tx, rx) = one_slot(1);

        let inner = mem::replace(&mut self.inner, SequentialReaderBuilderInner::NotFirst(rx));

        match inner {
            SequentialReaderBuilderInner::First(reader) => Some(SequentialReader {
                inner: SequentialReaderInner::MyTurn(reader),
                next: tx,
            }),

            SequentialReaderBuilderInner::NotFirst(previous) => Some(SequentialReader {
                inner: SequentialReaderInner::Waiting(previous),
                next: tx,
            }),
        }
    }
}

impl<W: Write + Send> Iterator for SequentialWriterBuilder<W> {
    type Item = SequentialWriter<W>;
    fn next(&mut self) -> Option<SequentialWriter<W>> {
        let (tx, rx) = one_slot(1);
        let mut next_next_trigger = Some(rx);
        ::std::mem::swap(&mut next_next_trigger, &mut self.next_trigger);

        Some(SequentialWriter {
            trigger: next_next_trigger,
            writer: self.writer.clone(),
            on_finish: tx,
        })
    }
}

impl<R: Read + Send> Read for SequentialReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        let mut reader = match self.inner {
            SequentialReaderInner::MyTurn(ref mut reader) => return reader.read(buf),
            SequentialReaderInner::Waiting(ref mut recv) => recv.recv().unwrap(),
            SequentialReaderInner::Empty => unreachable!(),
        };

        let result = reader.read(buf);
        self.inner = SequentialReaderInner::MyTurn(reader);
        result
    }
}

// lovebeat patch: the request head is scanned in the reader's buffer
// (`ClientConnection::read_next_line`) instead of byte by byte through
// `Read::bytes`, one call through this reader and its `BufReader` each.
impl<R: BufRead + Send> SequentialReader<R> {
    /// The reader, once the previous request has handed it over.
    fn turn(&mut self) -> &mut R {
        if let SequentialReaderInner::Waiting(recv) = &self.inner {
            let reader = recv.recv().unwrap();
            self.inner = SequentialReaderInner::MyTurn(reader);
        }
        match &mut self.inner {
            SequentialReaderInner::MyTurn(reader) => reader,
            _ => unreachable!(),
        }
    }
}

impl<R: BufRead + Send> BufRead for SequentialReader<R> {
    fn fill_buf(&mut self) -> IoResult<&[u8]> {
        self.turn().fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.turn().consume(amt)
    }
}

impl<W: Write + Send> Write for SequentialWriter<W> {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        if let Some(v) = self.trigger.as_mut() {
            v.recv().unwrap()
        }
        self.trigger = None;

        self.writer.lock().unwrap().write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        if let Some(v) = self.trigger.as_mut() {
            v.recv().unwrap()
        }
        self.trigger = None;

        self.writer.lock().unwrap().flush()
    }
}

impl<R> Drop for SequentialReader<R>
where
    R: Read + Send,
{
    fn drop(&mut self) {
        let inner = mem::replace(&mut self.inner, SequentialReaderInner::Empty);

        match inner {
            SequentialReaderInner::MyTurn(reader) => {
                self.next.send(reader).ok();
            }
            SequentialReaderInner::Waiting(recv) => {
                let reader = recv.recv().unwrap();
                self.next.send(reader).ok();
            }
            SequentialReaderInner::Empty => (),
        }
    }
}

impl<W> Drop for SequentialWriter<W>
where
    W: Write + Send,
{
    fn drop(&mut self) {
        self.on_finish.send(()).ok();
    }
}
