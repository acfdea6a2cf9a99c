//! What the gateway measures of an answer it passes on that reports no usage: speech answered
//! as bytes (the official client's default). Its audio's length is read from the bytes as they
//! pass (the container's first bytes and the answer's size, as `duration.rs` reads an upload's;
//! raw PCM by its size at 24 kHz, 16-bit mono), and counted by its wire format's rate
//! (`Wire::delivered_audio`), so the call settles at what was delivered rather than at its
//! hold. Only an answer read to its end is measured: a cut one's length is not the audio's.

use super::duration;

/// 24 kHz, 16-bit mono: OpenAI's `pcm`, bytes a millisecond.
const PCM_BYTES_PER_MS: u64 = 48;

/// The bytes of one answer as they pass.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    head: Vec<u8>,
    size: u64,
    pcm: bool,
    complete: bool,
}

impl Delivered {
    /// An answer of `content_type`.
    pub(crate) fn new(content_type: Option<&str>) -> Delivered {
        Delivered {
            pcm: content_type.is_some_and(|t| t.starts_with("audio/pcm") || t.starts_with("audio/l16")),
            ..Delivered::default()
        }
    }

    /// One chunk passed on: its first bytes kept for the container's header, every byte counted.
    pub(crate) fn saw(&mut self, chunk: &[u8]) {
        let room = duration::HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.size = self.size.saturating_add(chunk.len() as u64);
    }

    /// The answer reached its end.
    pub(crate) fn ended(&mut self) {
        self.complete = true;
    }

    /// The audio's length in milliseconds, when the answer ended whole and its format says it.
    pub(crate) fn audio_ms(&self) -> Option<u64> {
        if !self.complete || self.size == 0 {
            return None;
        }
        match self.pcm {
            true => Some(self.size.div_ceil(PCM_BYTES_PER_MS)),
            false => duration::read(&self.head, Some(self.size)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPEG-1 layer III frame at 128 kbit/s, 44.1 kHz: 417 bytes, 26 ms.
    fn frame() -> Vec<u8> {
        let mut f = vec![0xff, 0xfb, 0x90, 0x00];
        f.resize(417, 0);
        f
    }

    #[test]
    fn an_answer_read_to_its_end_gives_its_audios_length_and_a_cut_one_none() {
        let mut mp3 = Delivered::new(Some("audio/mpeg"));
        for _ in 0..100 {
            mp3.saw(&frame());
        }
        assert_eq!(mp3.audio_ms(), None, "not ended");
        mp3.ended();
        // 41,700 bytes at 16,000 a second.
        assert_eq!(mp3.audio_ms(), Some(2_607));
        let mut pcm = Delivered::new(Some("audio/pcm"));
        pcm.saw(&[0; 48_000]);
        pcm.ended();
        assert_eq!(pcm.audio_ms(), Some(1_000));
        let mut opus = Delivered::new(Some("audio/ogg"));
        opus.saw(b"OggS and more");
        opus.ended();
        assert_eq!(opus.audio_ms(), None, "Ogg states no length up front");
    }
}
