//! The type of a file by its first bytes.

use crate::{Kind, Refusal};

/// What an unsupported file looks like, as [`Refusal::Unsupported`] names it.
pub(crate) const HEIC: &str = "a HEIC photo";
pub(crate) const AVIF: &str = "an AVIF image";
pub(crate) const VIDEO: &str = "a video";
pub(crate) const GIF: &str = "a GIF";
pub(crate) const TIFF: &str = "a TIFF image";
pub(crate) const BMP: &str = "a BMP image";
pub(crate) const SVG: &str = "an SVG image";
pub(crate) const OFFICE: &str = "a Word or zip file";
pub(crate) const ARCHIVE: &str = "a compressed archive";
pub(crate) const PROGRAM: &str = "a program";
pub(crate) const TEXT: &str = "text";

/// How many leading bytes are looked at to tell text from binary.
const TEXT_PREFIX: usize = 1024;

/// The type of `bytes` by their first bytes (never a name).
///
/// A JPEG starts `FF D8 FF`, a PNG with its 8-byte signature, a WebP `RIFF....WEBP`, a PDF
/// `%PDF-`. Anything else is refused, naming what it looks like where known: a HEIC/HEIF or
/// AVIF photo (an ISO `ftyp` box at offset 4), a video, a GIF, a TIFF, a BMP, an SVG, a zip or
/// Office document, a compressed archive, a program (`MZ`, `\x7fELF`, Mach-O, `#!`), or text.
pub fn sniff(bytes: &[u8]) -> Result<Kind, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(Kind::Webp);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    Err(Refusal::Unsupported {
        what: recognise(bytes),
    })
}

/// What an unsupported file looks like, where known.
fn recognise(bytes: &[u8]) -> Option<&'static str> {
    const PREFIXES: &[(&[u8], &str)] = &[
        (b"GIF87a", GIF),
        (b"GIF89a", GIF),
        (b"II*\0", TIFF),
        (b"MM\0*", TIFF),
        (b"PK\x03\x04", OFFICE),
        (b"PK\x05\x06", OFFICE),
        // OLE2 compound file: Word, Excel and PowerPoint before 2007.
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", OFFICE),
        (b"{\\rtf", OFFICE),
        (b"\x1F\x8B", ARCHIVE),
        (b"7z\xBC\xAF\x27\x1C", ARCHIVE),
        (b"Rar!\x1A\x07", ARCHIVE),
        (b"MZ", PROGRAM),
        (b"\x7FELF", PROGRAM),
        (b"\xFE\xED\xFA\xCE", PROGRAM),
        (b"\xFE\xED\xFA\xCF", PROGRAM),
        (b"\xCE\xFA\xED\xFE", PROGRAM),
        (b"\xCF\xFA\xED\xFE", PROGRAM),
        (b"\xCA\xFE\xBA\xBE", PROGRAM),
        (b"#!", PROGRAM),
    ];
    if bytes.get(4..8) == Some(b"ftyp") {
        return Some(iso_media(bytes));
    }
    if let Some(&(_, what)) = PREFIXES
        .iter()
        .find(|(prefix, _)| bytes.starts_with(prefix))
    {
        return Some(what);
    }
    if is_bmp(bytes) {
        return Some(BMP);
    }
    text(bytes)
}

/// What an ISO base media file (`size ftyp major minor compatible...`) holds, by its brands:
/// AVIF, HEIC/HEIF (iPhone photos), or else a video.
fn iso_media(bytes: &[u8]) -> &'static str {
    // The box size is big-endian at offset 0; the brands are 4 bytes each from offset 8,
    // skipping the minor version at 16..20.
    let declared = bytes
        .get(0..4)
        .and_then(|size| size.try_into().ok())
        .map_or(0, |size: [u8; 4]| u32::from_be_bytes(size) as usize);
    let end = declared.clamp(12, 256).min(bytes.len());
    let major = bytes.get(8..12).into_iter();
    let compatible = bytes.get(16..end).unwrap_or_default().chunks_exact(4);
    let brands: Vec<&[u8]> = major.chain(compatible).collect();
    let has = |names: &[&[u8]]| brands.iter().any(|brand| names.contains(brand));
    if has(&[b"avif", b"avis"]) {
        AVIF
    } else if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
        b"mif2",
    ]) {
        HEIC
    } else {
        VIDEO
    }
}

/// A Windows bitmap: `BM`, and at offset 14 the size of one of the known header versions
/// (checked so that text starting "BM" is not taken for one).
fn is_bmp(bytes: &[u8]) -> bool {
    let header = bytes
        .get(14..18)
        .and_then(|size| size.try_into().ok())
        .map(u32::from_le_bytes);
    bytes.starts_with(b"BM") && matches!(header, Some(12 | 16 | 40 | 52 | 56 | 64 | 108 | 124))
}

/// `TEXT` (or `SVG` for an SVG drawing) when the first bytes are text: UTF-16 with its byte
/// order mark, or UTF-8 (ASCII included) without control characters other than tab, line
/// breaks and form feed.
fn text(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Some(TEXT);
    }
    let prefix = &bytes[..bytes.len().min(TEXT_PREFIX)];
    let valid = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        // The prefix may end in the middle of a character.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&prefix[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return None,
    };
    let printable = valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C'));
    if valid.is_empty() || !printable {
        return None;
    }
    if valid.to_ascii_lowercase().contains("<svg") {
        Some(SVG)
    } else {
        Some(TEXT)
    }
}
