use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // lovebeat patch: the shared socket and its watch state (None for TLS)
    conn: Option<std::sync::Arc<crate::front::Conn>>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    ReadIoError(IoError),
    /// lovebeat patch: the request line is longer than `HeadLimits::max_line`
    LineTooLong,
    /// lovebeat patch: the head is larger than `HeadLimits::max_head`
    HeadTooLarge,
    /// lovebeat patch: the head did not arrive within `HeadLimits::deadline`
    HeadTimeout,
}

/// lovebeat patch: why reading a head line stopped.
enum LineError {
    Io(IoError),
    TooLong,
    HeadTooLarge,
    Timeout,
}

impl From<LineError> for ReadError {
    fn from(e: LineError) -> ReadError {
        match e {
            LineError::Io(e) => ReadError::ReadIoError(e),
            LineError::TooLong => ReadError::LineTooLong,
            LineError::HeadTooLarge => ReadError::HeadTooLarge,
            LineError::Timeout => ReadError::HeadTimeout,
        }
    }
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let conn = read_socket.conn();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            conn,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source into `line`
    /// (without its `CRLF`). The next read will start at the first byte of
    /// the new line.
    ///
    /// lovebeat patch: at most `max_line` bytes, taken from the head's
    /// `budget`; the first byte of a request starts the head's deadline.
    /// The line is scanned in the reader's buffer (one socket read for a
    /// whole head that arrives at once) instead of through `Read::bytes`,
    /// and goes into the caller's buffer, shared by the lines of a head.
    fn read_next_line(
        &mut self,
        line: &mut Vec<u8>,
        max_line: usize,
        budget: &mut usize,
        first: bool,
    ) -> Result<(), LineError> {
        line.clear();
        loop {
            let chunk = match self.next_header_source.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) => {
                    let timed_out =
                        matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
                    let in_head = self.conn.as_ref().map_or(true, |c| c.in_head());
                    return Err(if timed_out && in_head && !(first && line.is_empty()) {
                        LineError::Timeout
                    } else {
                        LineError::Io(e)
                    });
                }
            };
            if chunk.is_empty() {
                return Err(LineError::Io(IoError::new(
                    ErrorKind::ConnectionAborted,
                    "Unexpected EOF",
                )));
            }
            if first && line.is_empty() {
                if let Some(conn) = &self.conn {
                    conn.head_started();
                }
            }

            // The line so far, then this chunk up to its first `\n`:
            // every byte but a `\n` after `\r` belongs to the line (whose
            // last byte is thus the previous byte), within the limits.
            let mut used = 0;
            let mut outcome = None;
            while outcome.is_none() && used < chunk.len() {
                let rest = &chunk[used..];
                let (take, newline) = match rest.iter().position(|&b| b == b'\n') {
                    Some(p) => (p, true),
                    None => (rest.len(), false),
                };
                if newline && take == 0 && line.last() == Some(&b'\r') {
                    used += 1;
                    line.pop(); // removing the '\r'
                    outcome = Some(if line.is_ascii() {
                        Ok(())
                    } else {
                        Err(LineError::Io(IoError::new(
                            ErrorKind::InvalidInput,
                            "Header is not in ASCII",
                        )))
                    });
                    break;
                }
                // a bare `\n` is a byte of the line like any other
                let take = if newline && take == 0 { 1 } else { take };
                let line_room = max_line.saturating_sub(line.len());
                if take > line_room.min(*budget) {
                    outcome = Some(Err(if line_room <= *budget {
                        LineError::TooLong
                    } else {
                        LineError::HeadTooLarge
                    }));
                    break;
                }
                *budget -= take;
                line.extend_from_slice(&rest[..take]);
                used += take;
            }
            self.next_header_source.consume(used);
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let (method, path, version, headers) = {
            // reading the request line
            let limits = self
                .conn
                .as_ref()
                .map_or_else(crate::front::HeadLimits::default, |c| c.limits);
            if let Some(conn) = &self.conn {
                conn.waiting();
            }
            let mut budget = limits.max_head;
            // one buffer for the lines of this head (ASCII once read)
            let mut line = Vec::with_capacity(256);
            let (method, path, version) = {
                self.read_next_line(&mut line, limits.max_line, &mut budget, true)?;
                let text = std::str::from_utf8(&line).map_err(|_| ReadError::WrongRequestLine)?;
                parse_request_line(text.trim())?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    self.read_next_line(&mut line, limits.max_head, &mut budget, false)
                        .map_err(|e| match e {
                            LineError::TooLong => ReadError::HeadTooLarge,
                            e => e.into(),
                        })?;

                    if line.is_empty() {
                        break;
                    };
                    headers.push(match parse_header(&line) {
                        Some(h) => h,
                        None => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };
        if let Some(conn) = &self.conn {
            if !conn.busy() {
                let e = IoError::new(ErrorKind::ConnectionAborted, "closed to make room");
                return Err(ReadError::ReadIoError(e));
            }
        }

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            self.remote_addr.as_ref().ok().copied().flatten(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                    // request timeout
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(408));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // closing the connection
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(417));
                    response.raw_print(writer, ver, &[], true, None).ok();
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::LineTooLong) => {
                    self.refuse(400, "the request line is longer than 8 KiB");
                    return None;
                }

                Err(ReadError::HeadTooLarge) => {
                    self.refuse(431, "the request head is larger than 16 KiB");
                    return None;
                }

                Err(ReadError::HeadTimeout) => {
                    self.refuse(408, "the request head took too long to arrive");
                    return None;
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

impl ClientConnection {
    /// lovebeat patch: a JSON error reply, then the connection is closed.
    fn refuse(&mut self, status: u16, message: &str) {
        use crate::{Header, Response};
        let Some(mut writer) = self.sink.next() else {
            return;
        };
        let body = format!("{{\"error\":\"{}\"}}", message);
        let mut response = Response::from_string(body).with_status_code(status);
        if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
            response.add_header(h);
        }
        let response = response.with_connection_close();
        let _ = response.raw_print(&mut writer, HTTPVersion(1, 1), &[], false, None);
        let _ = std::io::Write::flush(&mut writer);
    }
}

/// lovebeat patch: a header line (ASCII, without its CRLF) parsed as
/// `Header::from_str` of the trimmed line does, on bytes: the name is what
/// comes before the first `:` and may hold no whitespace, the value is the
/// rest without surrounding whitespace (`char::is_whitespace` on ASCII:
/// tab, LF, VT, FF, CR, space). Upstream went through `str` searchers,
/// a `char` scan of the name and three trims per line.
fn parse_header(line: &[u8]) -> Option<crate::Header> {
    fn ws(b: &u8) -> bool {
        matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
    }
    fn trim(mut b: &[u8]) -> &[u8] {
        while let [first, rest @ ..] = b {
            if !ws(first) {
                break;
            }
            b = rest;
        }
        while let [rest @ .., last] = b {
            if !ws(last) {
                break;
            }
            b = rest;
        }
        b
    }
    let line = trim(line);
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
    if name.iter().any(ws) {
        return None;
    }
    let field = crate::HeaderField::from_bytes(name).ok()?;
    let value = AsciiString::from_ascii(value).ok()?;
    Some(crate::Header { field, value })
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }

    #[test]
    fn header_lines_parse_as_header_from_str_does() {
        use std::str::FromStr;
        let lines = [
            "Host: example", "  Host :x", "Host:  spaced value \t", "X-Empty:", ":v",
            "No colon", "Na me: v", "A:b:c", "\tTab:\tv\x0b", "K: v\x0c", "K\x0b: v",
        ];
        for line in lines {
            let ours = super::parse_header(line.as_bytes()).map(|h| h.to_string());
            let upstream = crate::Header::from_str(line.trim()).ok().map(|h| h.to_string());
            assert_eq!(ours, upstream, "{:?}", line);
        }
    }
}
