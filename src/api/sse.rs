//! Server-sent events as the upstreams send them: a byte stream split into events, and each
//! event's `data`.

use bytes::BytesMut;

/// Splits a byte stream into SSE events (separated by a blank line) and yields their `data`.
#[derive(Default)]
pub struct SseParser {
    buf: BytesMut,
}

/// One parsed server-sent event.
#[derive(Debug, PartialEq)]
pub enum SseEvent {
    Data(String),
    /// Comment-only or field-less events (keep-alives): nothing to relay.
    Empty,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the buffer holds one.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        let (end, sep) = find_event_end(&self.buf)?;
        let raw = self.buf.split_to(end + sep);
        let text = String::from_utf8_lossy(&raw[..end]);
        let mut data: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("data:") {
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(rest);
                    }
                    None => data = Some(rest.to_string()),
                }
            }
        }
        Some(data.map_or(SseEvent::Empty, SseEvent::Data))
    }

    /// Bytes of an incomplete event left at end of stream.
    #[cfg(test)]
    pub fn leftover(&self) -> bool {
        !self.buf.iter().all(|b| b.is_ascii_whitespace())
    }
}

/// Position of the end of the first event and the length of its separator (`\n\n` or `\r\n\r\n`).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    // A CRLF separator only wins if it ends by the first LF one: searching further made every event
    // cost a scan of the whole buffer (quadratic in a burst of chunks).
    let limit = lf.map_or(buf.len(), |(p, _)| (p + 4).min(buf.len()));
    let crlf = buf[..limit].windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parser_splits_events_across_pushes() {
        let mut p = SseParser::default();
        p.push(b"data: {\"a\":1}\n\nda");
        assert_eq!(p.next_event(), Some(SseEvent::Data("{\"a\":1}".into())));
        assert_eq!(p.next_event(), None);
        p.push(b"ta: [DONE]\r\n\r\n: keep-alive\n\n");
        assert_eq!(p.next_event(), Some(SseEvent::Data("[DONE]".into())));
        assert_eq!(p.next_event(), Some(SseEvent::Empty));
        assert!(!p.leftover());
    }

    #[test]
    fn crlf_and_lf_events_in_one_burst_come_out_in_order() {
        let mut p = SseParser::default();
        p.push(b"data: 1\r\n\r\ndata: 2\n\ndata: 3\r\n\r\ndata: 4\n\n");
        for want in ["1", "2", "3", "4"] {
            assert_eq!(p.next_event(), Some(SseEvent::Data(want.into())));
        }
        assert_eq!(p.next_event(), None);
    }

    #[test]
    fn multi_line_data_is_joined() {
        let mut p = SseParser::default();
        p.push(b"event: x\ndata: a\ndata:b\n\n");
        assert_eq!(p.next_event(), Some(SseEvent::Data("a\nb".into())));
    }
}
