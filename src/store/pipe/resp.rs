//! RESP2 replies read from a buffer that may hold a part of one: the data plane's replies are
//! a few short arrays, which redis's general streaming parser took about 14,000 instructions to
//! decode. Error replies, rare, are handed to redis's own parser, so their kinds (NOSCRIPT,
//! READONLY) are exactly what the rest of the store matches on.

use redis::{ErrorKind, RedisError, RedisResult, Value};

/// The first complete reply in `buf` and the bytes it took, or None when `buf` holds only a
/// part of it so far.
pub(crate) fn parse(buf: &[u8]) -> RedisResult<Option<(Value, usize)>> {
    let Some((&kind, _)) = buf.split_first() else {
        return Ok(None);
    };
    let Some((line, mut at)) = line(buf) else {
        return Ok(None);
    };
    let value = match kind {
        b'+' if line == b"OK" => Value::Okay,
        b'+' => Value::SimpleString(String::from_utf8_lossy(line).into_owned()),
        b'-' => redis::parse_redis_value(&buf[..at])?,
        b':' => Value::Int(number(line)?),
        b'$' => {
            let Ok(len) = usize::try_from(number(line)?) else {
                return Ok(Some((Value::Nil, at)));
            };
            let Some(data) = buf.get(at..at + len + 2) else {
                return Ok(None);
            };
            if &data[len..] != b"\r\n" {
                return Err(invalid("a bulk string without its CRLF"));
            }
            at += len + 2;
            Value::BulkString(data[..len].to_vec())
        }
        b'*' => {
            let Ok(n) = usize::try_from(number(line)?) else {
                return Ok(Some((Value::Nil, at)));
            };
            // Never trust a length for an allocation before its items have arrived.
            let mut items = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                let Some((item, used)) = parse(&buf[at..])? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            Value::Array(items)
        }
        _ => return Err(invalid("an unknown reply type")),
    };
    Ok(Some((value, at)))
}

/// The first line without its type byte and CRLF, and where the next one starts.
fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.windows(2).position(|pair| pair == b"\r\n")?;
    Some((&buf[1..end], end + 2))
}

/// A RESP integer: an optional minus and up to 19 digits (accumulated below zero, so that
/// `i64::MIN` fits).
fn number(line: &[u8]) -> RedisResult<i64> {
    let (negative, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() {
        return Err(invalid("a malformed number"));
    }
    let mut below: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return Err(invalid("a malformed number"));
        }
        below = below
            .checked_mul(10)
            .and_then(|n| n.checked_sub(i64::from(digit - b'0')))
            .ok_or_else(|| invalid("a number out of range"))?;
    }
    if negative {
        Ok(below)
    } else {
        below.checked_neg().ok_or_else(|| invalid("a number out of range"))
    }
}

fn invalid(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "invalid reply from redis", what.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use redis::{ErrorKind, ServerErrorKind, Value};

    #[test]
    fn replies_are_read_whole_or_not_at_all() {
        let reply = b"*4\r\n$2\r\nok\r\n:-7\r\n*2\r\n+OK\r\n$-1\r\n+PONG\r\n:1\r\n";
        let whole = reply.len() - 4;
        let expected = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Int(-7),
            Value::Array(vec![Value::Okay, Value::Nil]),
            Value::SimpleString("PONG".into()),
        ]);
        assert_eq!(parse(reply).unwrap(), Some((expected, whole)));
        for cut in 0..whole {
            assert_eq!(parse(&reply[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(parse(b"*-1\r\n").unwrap(), Some((Value::Nil, 5)));
    }

    #[test]
    fn error_replies_keep_their_kind_and_bad_bytes_are_refused() {
        let (value, used) = parse(b"-NOSCRIPT No matching script.\r\n:1\r\n").unwrap().unwrap();
        assert_eq!(used, 31);
        let err = value.extract_error().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server(ServerErrorKind::NoScript));
        let (value, _) = parse(b"-READONLY You can't write against a read only replica.\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(value.extract_error().unwrap_err().code(), Some("READONLY"));
        assert!(parse(b"$2\r\nokXX").is_err());
        assert!(parse(b":x\r\n").is_err());
        assert!(parse(b":-\r\n").is_err());
        assert!(parse(b":9223372036854775808\r\n").is_err());
        assert_eq!(
            parse(b":-9223372036854775808\r\n").unwrap(),
            Some((Value::Int(i64::MIN), 23))
        );
        assert_eq!(
            parse(b":9223372036854775807\r\n").unwrap(),
            Some((Value::Int(i64::MAX), 22))
        );
        assert!(parse(b"?\r\n").is_err());
    }
}
