//! AWS's event stream framing, as Bedrock streams its answers (`application/vnd.amazon.eventstream`):
//! each message is its total length, its headers' length and a CRC of those two, the headers
//! (a name and a typed value each), the payload, and a CRC of it all. The gateway relays the
//! messages byte for byte, so it reads only where one ends and what its headers and payload
//! say; the clients check the CRCs. It writes one message of its own: the exception that ends
//! a stream the provider broke off.

/// The prelude: total length, headers' length, the prelude's CRC.
const PRELUDE: usize = 12;
/// The message's own CRC, after the payload.
const TRAILER: usize = 4;
/// The largest message AWS's framing allows (16 MiB of payload and headers).
pub(crate) const MAX_MESSAGE: usize = 16 << 20;

/// The length of the message `buf` begins with, once it is whole; Err when its prelude cannot
/// be a message's (the stream is then passed on unread).
pub(crate) fn boundary(buf: &[u8]) -> Result<Option<usize>, ()> {
    let Some(prelude) = buf.get(..PRELUDE) else {
        return Ok(None);
    };
    let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]) as usize;
    let headers = u32::from_be_bytes([prelude[4], prelude[5], prelude[6], prelude[7]]) as usize;
    if total < PRELUDE + TRAILER + headers || total > MAX_MESSAGE {
        return Err(());
    }
    Ok((buf.len() >= total).then_some(total))
}

/// What one whole message says: its kind (the `:event-type` of an event, the `:exception-type`
/// of an exception, the `:error-code` of an error) and its payload as text.
pub(crate) fn fields(raw: &[u8]) -> (Option<String>, String) {
    let headers_len = raw
        .get(4..8)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let headers_end = (PRELUDE + headers_len).min(raw.len());
    let payload_end = raw.len().saturating_sub(TRAILER).max(headers_end);
    let mut kind = None;
    for (name, value) in headers(&raw[PRELUDE.min(raw.len())..headers_end]) {
        if matches!(name, ":event-type" | ":exception-type" | ":error-code") {
            kind = Some(value.to_string());
        }
    }
    let payload = String::from_utf8_lossy(&raw[headers_end..payload_end]).into_owned();
    (kind, payload)
}

/// The string headers of a message's header block (the framing's other types are skipped).
fn headers(mut block: &[u8]) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    while let Some((&name_len, rest)) = block.split_first() {
        let Some((name, rest)) = split(rest, name_len as usize) else {
            break;
        };
        let Some((&kind, rest)) = rest.split_first() else { break };
        // Fixed sizes by type: true, false, byte, short, int, long, (bytes), (string), timestamp, uuid.
        let fixed = match kind {
            0 | 1 => Some(0),
            2 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 | 8 => Some(8),
            9 => Some(16),
            6 | 7 => None,
            _ => break,
        };
        let (value, rest) = match fixed {
            Some(n) => match split(rest, n) {
                Some((_, rest)) => (None, rest),
                None => break,
            },
            None => {
                let Some((len, rest)) = split(rest, 2) else { break };
                let Some((value, rest)) = split(rest, u16::from_be_bytes([len[0], len[1]]) as usize) else {
                    break;
                };
                ((kind == 7).then_some(value), rest)
            }
        };
        if let (Ok(name), Some(Ok(value))) = (std::str::from_utf8(name), value.map(std::str::from_utf8)) {
            found.push((name, value));
        }
        block = rest;
    }
    found
}

fn split(bytes: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= at).then(|| bytes.split_at(at))
}

/// A message with string `headers` and `payload`, its CRCs computed.
pub(crate) fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(7);
        block.extend_from_slice(&(value.len() as u16).to_be_bytes());
        block.extend_from_slice(value.as_bytes());
    }
    let total = PRELUDE + block.len() + payload.len() + TRAILER;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_written_is_read_back_whole_at_any_cut() {
        let one = message(
            &[(":message-type", "event"), (":event-type", "metadata")],
            b"{\"usage\":{}}",
        );
        let two = message(&[(":event-type", "messageStop")], b"{}");
        let stream = [one.clone(), two.clone()].concat();
        for cut in 0..stream.len() {
            let first = boundary(&stream[..cut]).unwrap();
            assert_eq!(first, (cut >= one.len()).then_some(one.len()), "cut at {cut}");
        }
        assert_eq!(
            fields(&one),
            (Some("metadata".to_string()), "{\"usage\":{}}".to_string())
        );
        assert_eq!(fields(&two).0.as_deref(), Some("messageStop"));
        // The CRCs are the framing's: a prelude's over its 8 bytes, the message's over the rest.
        assert_eq!(&one[8..12], crc32fast::hash(&one[..8]).to_be_bytes());
        let end = one.len() - 4;
        assert_eq!(&one[end..], crc32fast::hash(&one[..end]).to_be_bytes());
    }

    #[test]
    fn a_prelude_no_message_has_is_refused() {
        assert!(boundary(&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(boundary(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn headers_of_other_types_are_stepped_over() {
        // A boolean and a uuid before the string the kind is read from.
        let mut block = vec![3, b'a', b'b', b'c', 0];
        block.extend([4, b'u', b'u', b'i', b'd', 9]);
        block.extend([0; 16]);
        block.extend([11]);
        block.extend(b":event-type");
        block.extend([7, 0, 5]);
        block.extend(b"chunk");
        let total = PRELUDE + block.len() + 2 + TRAILER;
        let mut raw = (total as u32).to_be_bytes().to_vec();
        raw.extend((block.len() as u32).to_be_bytes());
        raw.extend([0; 4]);
        raw.extend(block);
        raw.extend(b"{}");
        raw.extend([0; 4]);
        assert_eq!(fields(&raw), (Some("chunk".to_string()), "{}".to_string()));
    }
}
