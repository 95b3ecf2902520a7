//! The HTTP/1.1 subset the credential server speaks: one `GET` per connection, answered and
//! closed. Strict on purpose (it is the door to the credentials): CRLF line ends only, a head
//! of at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] header lines, an origin-form target, no
//! body (`Content-Length` other than 0 and `Transfer-Encoding` are refused), no folded header
//! lines, `Host` required in HTTP/1.1, and at most one `Authorization` header. Anything else
//! is a 400. curl, Python's `http.client`, urllib3 (botocore) and every AWS SDK send exactly
//! this shape.

/// The most bytes read before the blank line that ends the head.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head. Debug leaves the `Authorization` value out.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The target's path, without its query string.
    pub path: String,
    /// The `Authorization` header's value (blanks around it removed), if there was one.
    pub authorization: Option<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why a request head was refused (the text is safe to send back: it quotes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub &'static str);

/// What [`parse`] found in the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// No blank line yet: read more (the caller enforces [`MAX_HEAD`] with [`too_long`]).
    Incomplete,
    Complete(Request),
}

/// Whether `buf`, still [`Parsed::Incomplete`], is already too long to be a head.
pub fn too_long(buf: &[u8]) -> bool {
    buf.len() > MAX_HEAD
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, BadRequest> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if too_long(buf) {
            return Err(BadRequest("request head too long"));
        }
        // A bare LF line end can never become valid: refuse it now rather than wait.
        if buf
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || buf[i - 1] != b'\r'))
        {
            return Err(BadRequest("line ends must be CRLF"));
        }
        return Ok(Parsed::Incomplete);
    };
    if end + 4 > MAX_HEAD {
        return Err(BadRequest("request head too long"));
    }
    // Every line of the head, each with its own CRLF.
    let head = &buf[..end + 2];
    let mut lines = head
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r\n"));
    let line = lines
        .next()
        .flatten()
        .ok_or(BadRequest("line ends must be CRLF"))?;
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(BadRequest("malformed request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(BadRequest("malformed method"));
    }
    let http11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return Err(BadRequest("only HTTP/1.0 and HTTP/1.1 are spoken here")),
    };
    if target.first() != Some(&b'/') || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(BadRequest("the target must be a path"));
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();

    let mut authorization = None;
    let mut host = false;
    let mut count = 0;
    for line in lines {
        let line = line.ok_or(BadRequest("line ends must be CRLF"))?;
        count += 1;
        if count > MAX_HEADERS {
            return Err(BadRequest("too many header lines"));
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(BadRequest("folded header lines are not accepted"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(BadRequest("a header line without a colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(BadRequest("malformed header name"));
        }
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(BadRequest("control characters in a header value"));
        }
        let value = value.trim_ascii();
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        match name.as_str() {
            "authorization" if authorization.is_some() => {
                return Err(BadRequest("more than one Authorization header"));
            }
            "authorization" => authorization = Some(value.to_vec()),
            "host" => host = true,
            "content-length" if value != b"0" => {
                return Err(BadRequest("a GET request has no body"));
            }
            "transfer-encoding" => return Err(BadRequest("a GET request has no body")),
            _ => {}
        }
    }
    if http11 && !host {
        return Err(BadRequest("HTTP/1.1 requests need a Host header"));
    }
    Ok(Parsed::Complete(Request {
        method: String::from_utf8_lossy(method).into_owned(),
        path: String::from_utf8_lossy(path).into_owned(),
        authorization,
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// A complete response with a JSON body; the connection closes after it.
pub fn response(status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    if status == 405 {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(head: &str) -> Request {
        match parse(head.as_bytes()) {
            Ok(Parsed::Complete(r)) => r,
            other => panic!("{head:?}: {other:?}"),
        }
    }

    fn bad(head: &str) -> &'static str {
        match parse(head.as_bytes()) {
            Err(BadRequest(why)) => why,
            other => panic!("{head:?} was accepted: {other:?}"),
        }
    }

    #[test]
    fn what_clients_send_is_accepted() {
        // curl --unix-socket, python http.client, urllib3 (botocore).
        let r = ok(
            "GET /credential-process HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nAuthorization: abc\r\n\r\n",
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/credential-process");
        assert_eq!(r.authorization.as_deref(), Some(&b"abc"[..]));
        let r = ok(
            "GET /role-credentials?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5\r\nAccept-Encoding: identity\r\nauthorization:\t s3cret \r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(r.path, "/role-credentials");
        assert_eq!(r.authorization.as_deref(), Some(&b"s3cret"[..]));
        // HTTP/1.0 needs no Host; no Authorization is the caller's business.
        let r = ok("GET / HTTP/1.0\r\n\r\n");
        assert_eq!(r.authorization, None);
        assert!(
            !format!("{:?}", ok("GET / HTTP/1.0\r\nAuthorization: XYZ\r\n\r\n")).contains("XYZ")
        );
        // Bytes after the head (a pipelined request) are not this request's business.
        ok("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(),
            Parsed::Incomplete
        );
        assert_eq!(parse(b"").unwrap(), Parsed::Incomplete);
        assert_eq!(bad("GET / HTTP/1.1\nHost: x\n\n"), "line ends must be CRLF");
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\n\r\n\r\n"),
            "line ends must be CRLF"
        );
        assert_eq!(
            bad("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
            "malformed request line"
        );
        assert_eq!(bad("GET /\r\n\r\n"), "malformed request line");
        assert_eq!(bad("G(T / HTTP/1.1\r\nHost: x\r\n\r\n"), "malformed method");
        assert_eq!(
            bad("GET / HTTP/2\r\nHost: x\r\n\r\n"),
            "only HTTP/1.0 and HTTP/1.1 are spoken here"
        );
        assert_eq!(
            bad("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n"),
            "the target must be a path"
        );
        assert_eq!(
            bad("GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
            "the target must be a path"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\n\r\n"),
            "HTTP/1.1 requests need a Host header"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: a\r\n\r\n"),
            "more than one Authorization header"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"),
            "folded header lines are not accepted"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost x\r\n\r\n"),
            "a header line without a colon"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHo st: x\r\n\r\n"),
            "malformed header name"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n"),
            "control characters in a header value"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
            "a GET request has no body"
        );
        assert_eq!(
            bad("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "a GET request has no body"
        );
        let many = format!(
            "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS)
        );
        assert_eq!(bad(&many), "too many header lines");
        let long = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "y".repeat(MAX_HEAD));
        assert_eq!(bad(&long), "request head too long");
        assert!(too_long(long.as_bytes()));
        let long = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "y".repeat(MAX_HEAD)
        );
        assert_eq!(bad(&long), "request head too long");
    }

    #[test]
    fn responses() {
        let r = String::from_utf8(response(200, b"{}")).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{}"
        );
        let r = String::from_utf8(response(405, b"")).unwrap();
        assert!(
            r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n") && r.contains("Allow: GET\r\n")
        );
    }
}
