//! An audio file's duration from the first bytes of its container, as its header states it:
//! WAV (`fmt ` and `data`), MP3 (a Xing, Info or VBRI frame, else the first frame's bitrate
//! over the file's size), M4A/MP4 (`mvhd`, when `moov` comes before the media), FLAC
//! (STREAMINFO), WebM/Matroska (Info's `Duration`). Ogg states no duration before its last
//! page: it is unknown here, as is anything else. Reads only the bytes it is given, allocates
//! nothing from a size the file declares, and never panics on what a client sends.

/// The bytes of a file read for its header unless its header asks for more.
pub(crate) const HEAD_BYTES: usize = 64 << 10;
/// The most read for a header: an MP3's ID3 tag (cover art) may come first.
pub(crate) const MAX_HEAD_BYTES: usize = 1 << 20;
/// Longer than any audio a provider takes (a year): a header past it is not believed.
const MAX_MS: u64 = 366 * 24 * 3_600_000;

/// How many bytes of the file its header needs read (`head` being its first bytes): more than
/// `HEAD_BYTES` only for an ID3 tag's length, at most `MAX_HEAD_BYTES`.
pub(crate) fn head_bytes(head: &[u8]) -> usize {
    let tag = id3_len(head).unwrap_or(0);
    (tag + HEAD_BYTES).min(MAX_HEAD_BYTES)
}

/// The duration in milliseconds the container's header states, from `head` (the file's first
/// bytes) and `size` (the file's length, or at most that, when known); None when none can be
/// read.
pub(crate) fn read(head: &[u8], size: Option<u64>) -> Option<u64> {
    let tag = id3_len(head).unwrap_or(0);
    let body = head.get(tag..)?;
    let ms = if body.starts_with(b"RIFF") && body.get(8..12) == Some(&b"WAVE"[..]) {
        wav(body, size.map(|s| s.saturating_sub(tag as u64)))
    } else if body.starts_with(b"fLaC") {
        flac(body)
    } else if body.get(4..8) == Some(&b"ftyp"[..]) {
        mp4(body)
    } else if body.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        matroska(body)
    } else if body.starts_with(b"OggS") {
        None
    } else {
        mp3(body, size.map(|s| s.saturating_sub(tag as u64)))
    }?;
    (ms > 0 && ms <= MAX_MS).then_some(ms)
}

/// The fewest bytes a second of compressed audio a provider decodes takes (Opus at its lowest
/// bitrate, 6 kbit/s; MP3's lowest is 8): a file's size over this bounds its length, whatever
/// its header claims.
pub(crate) const MIN_BYTES_PER_SECOND: u64 = 750;

/// The longest audio a file of `size` bytes can carry, in milliseconds, from `head` (its first
/// bytes), and whether that is its exact length. A PCM WAV is exact: its bytes after the `data`
/// chunk's start over the rate its sample format fixes, never the length its header claims. Any
/// other file (a compressed stream's frames can each say another bitrate) is the larger of what
/// its header claims and its size at the lowest bitrate a provider decodes.
pub(crate) fn longest(head: &[u8], size: u64) -> (u64, bool) {
    let tag = id3_len(head).unwrap_or(0);
    let pcm = head
        .get(tag..)
        .filter(|b| b.starts_with(b"RIFF") && b.get(8..12) == Some(&b"WAVE"[..]))
        .and_then(pcm_wav);
    if let Some((data, byte_rate)) = pcm {
        let audio = size.saturating_sub((tag + data) as u64);
        return (ms(audio, byte_rate).unwrap_or(0), true);
    }
    let bound = ms(size, MIN_BYTES_PER_SECOND).unwrap_or(u64::MAX);
    (read(head, Some(size)).unwrap_or(0).max(bound), false)
}

/// A PCM WAV's data offset and the bytes a second its format fixes (sample rate times channels
/// times bytes a sample; the header's own byte rate where lower); None for any other WAV (a
/// compressed format inside, a `data` chunk before `fmt `, a header past the bytes given).
fn pcm_wav(file: &[u8]) -> Option<(usize, u64)> {
    let mut at = 12usize;
    let mut rate = None;
    while let Some(header) = file.get(at..at + 8) {
        let len = le(&header[4..8]);
        let data = at + 8;
        match &header[..4] {
            b"fmt " => {
                let fmt = file.get(data..data + 16)?;
                // PCM, IEEE float, A-law, mu-law, or the extensible header over one of them.
                if !matches!(le(&fmt[0..2]), 1 | 3 | 6 | 7 | 0xFFFE) {
                    return None;
                }
                let fixed = le(&fmt[4..8]) * le(&fmt[2..4]) * le(&fmt[14..16]).div_ceil(8);
                let stated = le(&fmt[8..12]);
                rate = Some(match stated {
                    0 => fixed,
                    stated => stated.min(fixed),
                })
                .filter(|r| *r > 0);
            }
            b"data" => return Some((data, rate?)),
            _ => {}
        }
        // Chunks are padded to an even length.
        at = usize::try_from(data as u64 + len + (len & 1)).ok()?;
    }
    None
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |n, b| (n << 8) | u64::from(*b))
}

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |n, b| (n << 8) | u64::from(*b))
}

/// `count` units at `per_second` units a second, in milliseconds rounded up.
fn ms(count: u64, per_second: u64) -> Option<u64> {
    (per_second > 0)
        .then(|| (u128::from(count) * 1000).div_ceil(u128::from(per_second)))
        .and_then(|ms| u64::try_from(ms).ok())
}

/// The length of an ID3v2 tag at the start, header (and footer) included.
fn id3_len(head: &[u8]) -> Option<usize> {
    if !head.starts_with(b"ID3") || head.len() < 10 {
        return None;
    }
    // A "syncsafe" size: 7 bits a byte.
    let size = head[6..10].iter().fold(0usize, |n, b| (n << 7) | usize::from(b & 0x7f));
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// WAV: the `data` chunk's length over the `fmt ` chunk's byte rate; a streamed WAV's data
/// length (0 or all ones) is what the file's size leaves.
fn wav(file: &[u8], size: Option<u64>) -> Option<u64> {
    let mut at = 12usize;
    let mut byte_rate = None;
    while let Some(header) = file.get(at..at + 8) {
        let len = le(&header[4..8]);
        let data = at + 8;
        match &header[..4] {
            b"fmt " => byte_rate = Some(le(file.get(data + 8..data + 12)?)),
            b"data" => {
                let left = size.map(|s| s.saturating_sub(data as u64));
                let len = match (len, left) {
                    (0 | 0xFFFF_FFFF, Some(left)) => left,
                    (0 | 0xFFFF_FFFF, None) => return None,
                    (len, Some(left)) => len.min(left),
                    (len, None) => len,
                };
                return ms(len, byte_rate?);
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = usize::try_from(data as u64 + len + (len & 1)).ok()?;
    }
    None
}

/// FLAC: STREAMINFO's sample rate and total samples (0 when the encoder did not know).
fn flac(file: &[u8]) -> Option<u64> {
    let info = file.get(8..8 + 18)?;
    if file[4] & 0x7f != 0 {
        return None;
    }
    let packed = be(&info[10..18]);
    let rate = packed >> 44;
    let samples = packed & 0xF_FFFF_FFFF;
    (samples > 0).then(|| ms(samples, rate)).flatten()
}

/// MP4 and M4A: the movie header's duration over its timescale, when the `moov` box comes
/// before the media (`mdat`); a file that puts it at the end is unknown here.
fn mp4(file: &[u8]) -> Option<u64> {
    let moov = boxes(file).find(|(kind, _)| matches!(kind, b"moov" | b"mdat"))?;
    if &moov.0 != b"moov" {
        return None;
    }
    let (_, mvhd) = boxes(moov.1).find(|(kind, _)| kind == b"mvhd")?;
    let (timescale, duration) = match mvhd.first()? {
        0 => (be(mvhd.get(12..16)?), be(mvhd.get(16..20)?)),
        1 => (be(mvhd.get(20..24)?), be(mvhd.get(24..32)?)),
        _ => return None,
    };
    // All ones: the duration was not known when the file was written.
    if duration == 0xFFFF_FFFF || duration == u64::MAX {
        return None;
    }
    ms(duration, timescale)
}

/// The boxes in `data`, each (type, contents), up to the first that does not fit: a box's
/// contents are cut at the end of what was read (a header may be whole while its media is not).
fn boxes(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = data.get(at..at + 8)?;
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        let (size, start) = match be(&header[..4]) {
            1 => (be(data.get(at + 8..at + 16)?), at + 16),
            0 => ((data.len() - at) as u64, at + 8),
            size => (size, at + 8),
        };
        let end = usize::try_from((at as u64).checked_add(size)?).unwrap_or(usize::MAX);
        if end < start {
            return None;
        }
        let contents = &data[start..end.min(data.len())];
        at = end;
        Some((kind, contents))
    })
}

/// WebM and Matroska: the segment's Info, its `Duration` (a float, in timestamp-scale ticks)
/// times its `TimestampScale` (nanoseconds a tick, 1,000,000 unless said); unknown when the
/// file has none (a browser's recording) or its clusters come first.
fn matroska(file: &[u8]) -> Option<u64> {
    const SEGMENT: u64 = 0x1853_8067;
    const INFO: u64 = 0x1549_A966;
    const CLUSTER: u64 = 0x1F43_B675;
    const SCALE: u64 = 0x2A_D7B1;
    const DURATION: u64 = 0x4489;
    let (_, after_ebml) = element(file)?;
    let (segment, _) = element(after_ebml)?;
    if segment.id != SEGMENT {
        return None;
    }
    let mut at = segment.data;
    // An element's size may be unknown (a live recording's segment): its children follow.
    while let Some((child, next)) = element(at) {
        match child.id {
            INFO => {
                let mut info = child.data;
                let (mut scale, mut duration) = (1_000_000u64, None);
                while let Some((field, rest)) = element(info) {
                    match field.id {
                        SCALE => scale = be(field.data.get(..8.min(field.data.len()))?),
                        DURATION => duration = float(field.data),
                        _ => {}
                    }
                    info = rest;
                }
                let nanos = duration? * scale as f64;
                return (nanos.is_finite() && nanos > 0.0).then(|| (nanos / 1e6).ceil() as u64);
            }
            CLUSTER => return None,
            _ => at = next,
        }
    }
    None
}

/// One EBML element: its id (with its length marker, as the specification writes ids), its
/// data (cut at the end of what was read; all of the rest for an unknown size).
struct Element<'a> {
    id: u64,
    data: &'a [u8],
}

/// The element at the start of `data`, and what follows it (nothing past the end of `data`).
fn element(data: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (id, id_len) = vint(data, true)?;
    let (size, size_len) = vint(data.get(id_len..)?, false)?;
    let start = id_len + size_len;
    let end = match size {
        Some(size) => usize::try_from(size).map_or(data.len(), |s| start.saturating_add(s).min(data.len())),
        None => data.len(),
    };
    let rest = if size.is_none() { &data[start..] } else { &data[end..] };
    let data_part = if size.is_none() {
        &data[start..]
    } else {
        &data[start..end]
    };
    Some((
        Element {
            id: id?,
            data: data_part,
        },
        rest,
    ))
}

/// A variable-length integer: its value (None for a size of all ones, "unknown") and length.
/// An id keeps its length marker.
fn vint(data: &[u8], keep_marker: bool) -> Option<(Option<u64>, usize)> {
    let first = *data.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let bytes = data.get(..len)?;
    let raw = be(bytes);
    let value_bits = 7 * len as u32;
    let value = raw & ((1u64 << value_bits) - 1);
    if keep_marker {
        return Some((Some(raw), len));
    }
    let unknown = value == (1u64 << value_bits) - 1;
    Some((if unknown { None } else { Some(value) }, len))
}

/// An EBML float: 4 or 8 bytes, big-endian.
fn float(data: &[u8]) -> Option<f64> {
    match data.len() {
        4 => Some(f64::from(f32::from_bits(be(data) as u32))),
        8 => Some(f64::from_bits(be(data))),
        _ => None,
    }
}

/// MP3 (MPEG audio, layers I to III): a Xing or Info frame's frame count, or a VBRI header's;
/// without either, the first frame's bitrate over the file's size (a constant bitrate's
/// duration), when the size is known. The first frame is believed only when a second follows
/// it, where the bytes read reach that far.
fn mp3(file: &[u8], size: Option<u64>) -> Option<u64> {
    let scan = file.len().min(4096);
    let (at, frame) = (0..scan).find_map(|at| {
        let frame = Frame::parse(file.get(at..at + 4)?)?;
        let next = at + frame.len;
        let confirmed = match file.get(next..next + 4) {
            Some(header) => Frame::parse(header).is_some(),
            None => true,
        };
        confirmed.then_some((at, frame))
    })?;
    let start = &file[at..];
    let xing = start
        .get(frame.xing_offset()..)
        .filter(|x| x.starts_with(b"Xing") || x.starts_with(b"Info"));
    if let Some(xing) = xing {
        if be(xing.get(4..8)?) & 1 == 1 {
            let frames = be(xing.get(8..12)?);
            return ms(frames * frame.samples, frame.sample_rate);
        }
    }
    if let Some(vbri) = start.get(36..).filter(|v| v.starts_with(b"VBRI")) {
        let frames = be(vbri.get(14..18)?);
        return ms(frames * frame.samples, frame.sample_rate);
    }
    let audio = size?.checked_sub(at as u64)?;
    ms(audio, frame.bitrate / 8)
}

/// One MPEG audio frame's header.
struct Frame {
    /// Bits a second.
    bitrate: u64,
    sample_rate: u64,
    /// Samples a frame.
    samples: u64,
    /// The frame's length in bytes.
    len: usize,
    mpeg1: bool,
    mono: bool,
}

impl Frame {
    fn parse(header: &[u8]) -> Option<Frame> {
        let h = be(header) as u32;
        if h >> 21 != 0x7FF {
            return None;
        }
        let version = (h >> 19) & 3; // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
        let layer = (h >> 17) & 3; // 1: III, 2: II, 3: I
        let (bitrate_index, rate_index) = (((h >> 12) & 0xF) as usize, ((h >> 10) & 3) as usize);
        if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let mpeg1 = version == 3;
        const KBPS: [[u16; 14]; 5] = [
            [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
            [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
            [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
            [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
            [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
        ];
        let table = match (mpeg1, layer) {
            (true, 3) => 0,
            (true, 2) => 1,
            (true, _) => 2,
            (false, 3) => 3,
            (false, _) => 4,
        };
        let bitrate = u64::from(KBPS[table][bitrate_index - 1]) * 1000;
        let base = [44_100, 48_000, 32_000][rate_index];
        let sample_rate = match version {
            3 => base,
            2 => base / 2,
            _ => base / 4,
        };
        let samples = match (layer, mpeg1) {
            (3, _) => 384,
            (2, _) | (1, true) => 1152,
            _ => 576,
        };
        let padding = u64::from((h >> 9) & 1);
        let len = match layer {
            3 => (12 * bitrate / sample_rate + padding) * 4,
            _ => samples / 8 * bitrate / sample_rate + padding,
        };
        Some(Frame {
            bitrate,
            sample_rate,
            samples,
            len: usize::try_from(len).ok().filter(|l| *l >= 4)?,
            mpeg1,
            mono: (h >> 6) & 3 == 3,
        })
    }

    /// Where a Xing or Info header would be: after the header and the side information.
    fn xing_offset(&self) -> usize {
        4 + match (self.mpeg1, self.mono) {
            (true, false) => 32,
            (true, true) | (false, false) => 17,
            (false, true) => 9,
        }
    }
}

#[cfg(test)]
mod tests;
