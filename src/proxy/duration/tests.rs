//! The duration reader over files built byte by byte: each container's header stating a known
//! length, the cases it must call unknown, and hostile headers that must neither panic nor
//! allocate.

use super::*;

/// A WAV of `seconds` of 16 kHz 16-bit mono silence: its header, then `data` as long as stated.
fn wav(seconds: u32, data: usize) -> Vec<u8> {
    let byte_rate = 32_000u32;
    let mut file = b"RIFF".to_vec();
    file.extend(&(36 + seconds * byte_rate).to_le_bytes());
    file.extend(b"WAVEfmt ");
    file.extend(&16u32.to_le_bytes());
    file.extend(&[1, 0, 1, 0]);
    file.extend(&16_000u32.to_le_bytes());
    file.extend(&byte_rate.to_le_bytes());
    file.extend(&[2, 0, 16, 0]);
    file.extend(b"data");
    file.extend(&(seconds * byte_rate).to_le_bytes());
    file.resize(file.len() + data, 0);
    file
}

/// MPEG-1 layer III frames at 128 kbit/s, 44.1 kHz, stereo: 417 bytes each.
fn mp3_frames(count: usize) -> Vec<u8> {
    let mut frame = vec![0xFF, 0xFB, 0x90, 0x00];
    frame.resize(417, 0);
    frame.repeat(count)
}

#[test]
fn a_wav_lasts_its_data_over_its_byte_rate() {
    let file = wav(3, 1000);
    assert_eq!(read(&file, None), Some(3_000));
    // A data length the file cannot hold is cut to the file's size.
    assert_eq!(read(&file, Some(44 + 16_000)), Some(500));
    // A streamed WAV (data length 0) lasts what its size leaves.
    let mut streamed = wav(0, 0);
    streamed.truncate(44);
    assert_eq!(read(&streamed, Some(44 + 64_000)), Some(2_000));
    assert_eq!(read(&streamed, None), None);
}

#[test]
fn an_mp3_lasts_its_xing_frames_else_its_size_at_its_bitrate() {
    // A constant bitrate: 16,000 bytes a second over a file of 10 s.
    let file = mp3_frames(4);
    assert_eq!(read(&file, Some(160_000)), Some(10_000));
    assert_eq!(read(&file, None), None, "no size, no Xing: unknown");
    // A Xing frame of 100 frames: 100 × 1152 samples at 44.1 kHz.
    let mut xing = mp3_frames(3);
    xing[36..40].copy_from_slice(b"Xing");
    xing[40..44].copy_from_slice(&1u32.to_be_bytes());
    xing[44..48].copy_from_slice(&100u32.to_be_bytes());
    assert_eq!(read(&xing, Some(1_000_000)), Some(2_613));
    // After an ID3 tag, whose length the head must cover.
    let mut tagged = b"ID3\x04\x00\x00\x00\x00\x01\x00".to_vec();
    tagged.resize(10 + 128, 0);
    tagged.extend(&xing);
    assert_eq!(head_bytes(&tagged), HEAD_BYTES + 138);
    assert_eq!(read(&tagged, None), Some(2_613));
}

#[test]
fn flac_mp4_and_webm_state_their_length_in_their_headers() {
    // FLAC: 44.1 kHz, 132,300 samples.
    let mut flac = b"fLaC\x00\x00\x00\x22".to_vec();
    flac.extend(&[0; 10]);
    let packed: u64 = (44_100 << 44) | (1 << 41) | (15 << 36) | 132_300;
    flac.extend(&packed.to_be_bytes());
    flac.extend(&[0; 16]);
    assert_eq!(read(&flac, None), Some(3_000));
    // MP4: ftyp, then moov with mvhd (timescale 1,000, duration 4,500), then the media.
    let mut mp4 = 16u32.to_be_bytes().to_vec();
    mp4.extend(b"ftypM4A \x00\x00\x00\x00");
    let mut mvhd = vec![0u8; 100];
    mvhd[12..16].copy_from_slice(&1_000u32.to_be_bytes());
    mvhd[16..20].copy_from_slice(&4_500u32.to_be_bytes());
    mp4.extend(&(8 + 8 + 100u32).to_be_bytes());
    mp4.extend(b"moov");
    mp4.extend(&(8 + 100u32).to_be_bytes());
    mp4.extend(b"mvhd");
    mp4.extend(&mvhd);
    mp4.extend(&(1u32 << 30).to_be_bytes());
    mp4.extend(b"mdat\x00\x00");
    assert_eq!(read(&mp4, None), Some(4_500));
    // The media first: unknown from the first bytes.
    let mut late = 16u32.to_be_bytes().to_vec();
    late.extend(b"ftypM4A \x00\x00\x00\x00");
    late.extend(&(1u32 << 30).to_be_bytes());
    late.extend(b"mdat\x00\x00");
    assert_eq!(read(&late, None), None);
    // WebM: EBML header, a segment of unknown size, Info with a scale and a Duration of 2.5 s.
    let mut webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x84, 0x42, 0x82, 0x81, 0x00];
    webm.extend(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    webm.extend(&[0xEC, 0x82, 0x00, 0x00]);
    webm.extend(&[0x15, 0x49, 0xA9, 0x66, 0x92]);
    webm.extend(&[0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]);
    webm.extend(&[0x44, 0x89, 0x88]);
    webm.extend(&2_500f64.to_bits().to_be_bytes());
    assert_eq!(read(&webm, None), Some(2_500));
    // Without a Duration (a browser's recording), or Ogg: unknown.
    let mut recorded = webm[..21].to_vec();
    recorded.extend(&[0x15, 0x49, 0xA9, 0x66, 0x84, 0x2A, 0xD7, 0xB1, 0x80]);
    assert_eq!(read(&recorded, None), None);
    assert_eq!(read(b"OggS\x00\x02", Some(1_000_000)), None);
}

#[test]
fn hostile_headers_are_unknown_never_a_panic() {
    let mut huge_box = 16u32.to_be_bytes().to_vec();
    huge_box.extend(b"ftypM4A \x00\x00\x00\x00");
    huge_box.extend(&1u32.to_be_bytes());
    huge_box.extend(b"moov");
    huge_box.extend(&u64::MAX.to_be_bytes());
    let lying_wav = {
        let mut w = wav(1, 0);
        w[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        w
    };
    let ebml_all_ones = [
        0x1A, 0x45, 0xDF, 0xA3, 0xFF, 0x18, 0x53, 0x80, 0x67, 0xFF, 0x15, 0x49, 0xA9, 0x66, 0xFF,
    ];
    for file in [
        &huge_box[..],
        &lying_wav,
        &ebml_all_ones,
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"fLaC",
        &[0xFF; 64],
        &[0x00; 64],
        &[],
    ] {
        for cut in 0..=file.len() {
            let _ = read(&file[..cut], Some(u64::MAX));
            let _ = read(&file[..cut], None);
        }
    }
    // A frame sync alone, with nothing after it to confirm, at a size: believed only once.
    assert!(head_bytes(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f") <= MAX_HEAD_BYTES);
    // A wav whose byte rate is 0 has no duration.
    let mut silent = wav(1, 0);
    silent[28..32].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(read(&silent, None), None);
}

#[test]
fn a_pcm_wav_is_as_long_as_its_bytes_whatever_its_header_claims() {
    // A header claiming 1 s over 600 s of data is held at the 600 s.
    let mut file = wav(1, 0);
    file.truncate(44);
    assert_eq!(longest(&file, 44 + 600 * 32_000), (600_000, true));
    // A header claiming more than the bytes carry is held at the bytes.
    assert_eq!(longest(&wav(600, 0), 44 + 32_000), (1_000, true));
    // A byte rate stated above what the sample format fixes cannot shorten it.
    let mut fast = wav(1, 0);
    fast[28..32].copy_from_slice(&320_000u32.to_le_bytes());
    assert_eq!(longest(&fast, 44 + 64_000), (2_000, true));
}

#[test]
fn a_compressed_file_is_held_at_its_size_at_the_lowest_bitrate_or_its_header_if_longer() {
    // An MP3 without a Xing frame, its first frame at 128 kbit/s: its size at 6 kbit/s.
    let file = mp3_frames(20);
    let size = 20 * 417;
    assert_eq!(
        longest(&file, size),
        ((size * 1000).div_ceil(MIN_BYTES_PER_SECOND), false)
    );
    // A header claiming more than that is believed: it can only make the hold larger.
    let claimed = read(&file, Some(1 << 30)).unwrap();
    assert_eq!(
        longest(&file, 1 << 30).0,
        claimed.max(((1u64 << 30) * 1000).div_ceil(MIN_BYTES_PER_SECOND))
    );
    // Unknown bytes: their size at the lowest bitrate.
    assert_eq!(longest(&[0u8; 64], 7_500), (10_000, false));
}
