//! HTTP/1.1 exchanges written and read byte by byte, one connection each
//! (`Connection: close`), so that a test sees exactly what the node sent:
//! the status, every header, and the body (de-chunked). Also an open
//! server-sent event stream read event by event.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response as it came off the socket; header names in lower case.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A request head; `body` is its content type and the length announced.
pub fn head(
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<(&str, usize)>,
) -> String {
    let mut h = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(t) = token {
        h += &format!("Authorization: Bearer {t}\r\n");
    }
    if let Some((ctype, len)) = body {
        h += &format!("Content-Type: {ctype}\r\nContent-Length: {len}\r\n");
    }
    h + "\r\n"
}

/// A whole request: its head and `body` (content type, bytes).
pub fn request(
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut r = head(method, target, token, body.map(|(c, b)| (c, b.len()))).into_bytes();
    if let Some((_, b)) = body {
        r.extend_from_slice(b);
    }
    r
}

/// A connection to `address` with a 30 s read timeout.
pub fn connect(address: &str) -> TcpStream {
    let s = TcpStream::connect(address).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// Sends `req` on a new connection and reads the reply. The request is
/// written from another thread, so a node that answers before it has
/// read a whole (oversize) body is heard, not reset mid-write.
pub fn send(address: &str, req: Vec<u8>) -> Reply {
    let mut s = connect(address);
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&req);
    });
    let r = read_reply(&mut s);
    drop(s);
    let _ = writer.join();
    r
}

/// Reads one whole reply from `s`.
pub fn read_reply(s: &mut TcpStream) -> Reply {
    let (status, headers, rest) = read_head(s);
    let mut r = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    r.body = read_body(s, &r, rest);
    r
}

/// The status, headers and the bytes read past the head.
fn read_head(s: &mut TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        assert!(
            fill(s, &mut buf) > 0,
            "closed before the head ended: {buf:?}"
        );
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, buf[end + 4..].to_vec())
}

fn read_body(s: &mut TcpStream, r: &Reply, mut buf: Vec<u8>) -> Vec<u8> {
    if r.header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let (data, _, done) = take_chunks(&buf);
            if done {
                return data;
            }
            assert!(fill(s, &mut buf) > 0, "a chunked body cut short");
        }
    }
    if let Some(n) = r.header("content-length").and_then(|n| n.parse().ok()) {
        while buf.len() < n {
            assert!(fill(s, &mut buf) > 0, "a body shorter than its length");
        }
        buf.truncate(n);
        return buf;
    }
    while fill(s, &mut buf) > 0 {}
    buf
}

/// Reads what is there into `buf`; 0 at the end (or a reset).
fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut b = [0u8; 64 << 10];
    match s.read(&mut b) {
        Ok(n) => {
            buf.extend_from_slice(&b[..n]);
            n
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
        Err(e) => panic!("read: {e}"),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The data of the complete chunks at the start of `b`, how many bytes
/// they took, and whether the last chunk was among them.
fn take_chunks(b: &[u8]) -> (Vec<u8>, usize, bool) {
    let (mut out, mut at) = (Vec::new(), 0);
    loop {
        let Some(nl) = find(&b[at..], b"\r\n") else {
            return (out, at, false);
        };
        let line = String::from_utf8_lossy(&b[at..at + nl]).into_owned();
        let size = line.split(';').next().map(str::trim).unwrap_or_default();
        let size =
            usize::from_str_radix(size, 16).unwrap_or_else(|_| panic!("chunk size {line:?}"));
        let start = at + nl + 2;
        if b.len() < start + size + 2 {
            return (out, at, false);
        }
        if size == 0 {
            return (out, start + 2, true);
        }
        out.extend_from_slice(&b[start..start + size]);
        at = start + size + 2;
    }
}

/// An event stream whose head has been read.
pub struct Stream {
    s: TcpStream,
    raw: Vec<u8>,
    data: Vec<u8>,
}

/// Sends `req`; a 200 `text/event-stream` answer comes with its open
/// stream (and an empty body), any other with its whole body.
pub fn open_stream(address: &str, req: &[u8]) -> (Reply, Option<Stream>) {
    let mut s = connect(address);
    s.write_all(req).expect("write");
    let (status, headers, rest) = read_head(&mut s);
    let mut r = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    let streaming = r.header("content-type") == Some("text/event-stream");
    if status == 200 && streaming {
        let (data, raw) = (Vec::new(), rest);
        return (r, Some(Stream { s, raw, data }));
    }
    r.body = read_body(&mut s, &r, rest);
    (r, None)
}

impl Stream {
    /// The next event's name and data; `None` for a comment (keep-alive).
    pub fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(i) = find(&self.data, b"\n\n") {
                let ev: Vec<u8> = self.data.drain(..i + 2).collect();
                return parse_event(&String::from_utf8_lossy(&ev));
            }
            assert!(
                fill(&mut self.s, &mut self.raw) > 0,
                "the event stream ended"
            );
            let (data, used, done) = take_chunks(&self.raw);
            self.data.extend_from_slice(&data);
            self.raw.drain(..used);
            assert!(!done, "the event stream ended");
        }
    }
}

fn parse_event(ev: &str) -> Option<(String, String)> {
    let (mut name, mut data) = (None, Vec::new());
    for line in ev.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim_start().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
        }
    }
    name.map(|n| (n, data.join("\n")))
}
