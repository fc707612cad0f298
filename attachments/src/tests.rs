//! Tests of sniffing and cleaning on real encoded files, each checking first that the input
//! really carried what must go, so that none can pass on a file that had nothing to remove.

use std::io::Cursor;

use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};
use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions, dictionary};

use crate::testing::{self, EICAR, NAME, PDF_TEXT, PHOTO_SIZE, PNG_SIZE};
use crate::{Kind, Limits, Refusal, clean, sniff};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

fn clean_default(bytes: &[u8]) -> Result<crate::Cleaned, Refusal> {
    clean(bytes, &Limits::default())
}

/// The markers of a JPEG's segments from SOI up to and including SOS (where the entropy-coded
/// data begins).
fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() {
        assert_eq!(jpeg[at], 0xFF, "no marker at {at}");
        let marker = jpeg[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        let length = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        at += 2 + length;
    }
    markers
}

/// The chunk types of a PNG, in order.
fn png_chunks(png: &[u8]) -> Vec<String> {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        chunks.push(String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned());
        at += 12 + length;
    }
    chunks
}

fn decode(bytes: &[u8], format: ImageFormat) -> DynamicImage {
    ImageReader::with_format(Cursor::new(bytes), format)
        .decode()
        .expect("decodes")
}

fn orientation(bytes: &[u8], format: ImageFormat) -> Orientation {
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .expect("a decoder");
    decoder.orientation().expect("an orientation")
}

fn webp(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(
            image.as_bytes(),
            image.width(),
            image.height(),
            image.color().into(),
        )
        .expect("encodes as WebP");
    out
}

fn gradient_rgba(width: u32, height: u32, alpha: impl Fn(u32, u32) -> u8) -> DynamicImage {
    DynamicImage::ImageRgba8(image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 7) as u8, (y * 9) as u8, 90, alpha(x, y)])
    }))
}

// --- Kind -------------------------------------------------------------------------------

#[test]
fn kinds_name_themselves_and_parse_back() {
    for (kind, mime, extension, name) in [
        (Kind::Jpeg, "image/jpeg", "jpg", "jpeg"),
        (Kind::Png, "image/png", "png", "png"),
        (Kind::Webp, "image/webp", "webp", "webp"),
        (Kind::Pdf, "application/pdf", "pdf", "pdf"),
    ] {
        assert_eq!(kind.mime(), mime);
        assert_eq!(kind.extension(), extension);
        assert_eq!(kind.as_str(), name);
        assert_eq!(Kind::parse(name), Some(kind));
        assert_eq!(kind.is_image(), kind != Kind::Pdf);
    }
    assert_eq!(Kind::parse("gif"), None);
    assert_eq!(Kind::parse("JPEG"), None);
    assert_eq!(Kind::parse("jpg"), None);
}

// --- sniff ------------------------------------------------------------------------------

#[test]
fn sniff_tells_each_kind_from_real_encoded_bytes() {
    let opaque = gradient_rgba(8, 8, |_, _| 255);
    assert_eq!(sniff(&testing::photo_with_location()), Ok(Kind::Jpeg));
    assert_eq!(sniff(&testing::png_with_text()), Ok(Kind::Png));
    assert_eq!(sniff(&webp(&opaque)), Ok(Kind::Webp));
    assert_eq!(sniff(&testing::pdf_with_metadata()), Ok(Kind::Pdf));
    assert_eq!(sniff(&testing::pdf_with_eicar()), Ok(Kind::Pdf));
}

/// An ISO media file's first box: size, `ftyp`, major brand, minor version, compatible brands.
fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let size = 16 + 4 * compatible.len() as u32;
    let mut out = size.to_be_bytes().to_vec();
    out.extend(b"ftyp");
    out.extend(major);
    out.extend(0u32.to_be_bytes());
    for brand in compatible {
        out.extend(*brand);
    }
    out.extend(b"\0\0\0\x08meta"); // the next box, so there is more than the header
    out
}

#[test]
fn sniff_refuses_other_types_naming_what_they_look_like() {
    let mut bmp = b"BM".to_vec();
    bmp.extend([0; 12]);
    bmp.extend(40u32.to_le_bytes());
    bmp.extend([0; 36]);
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "iPhone HEIC",
            ftyp(b"heic", &[b"mif1", b"heic"]),
            Some("a HEIC photo"),
        ),
        (
            "HEIF",
            ftyp(b"mif1", &[b"mif1", b"heic"]),
            Some("a HEIC photo"),
        ),
        (
            "HEIC 10-bit",
            ftyp(b"heix", &[b"mif1"]),
            Some("a HEIC photo"),
        ),
        (
            "AVIF",
            ftyp(b"avif", &[b"avif", b"mif1", b"miaf"]),
            Some("an AVIF image"),
        ),
        ("MP4", ftyp(b"isom", &[b"isom", b"mp41"]), Some("a video")),
        ("GIF", b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(), Some("a GIF")),
        ("old GIF", b"GIF87a\x01\0\x01\0".to_vec(), Some("a GIF")),
        ("TIFF", b"II*\0\x08\0\0\0".to_vec(), Some("a TIFF image")),
        (
            "big-endian TIFF",
            b"MM\0*\0\0\0\x08".to_vec(),
            Some("a TIFF image"),
        ),
        ("BMP", bmp, Some("a BMP image")),
        (
            "zip",
            b"PK\x03\x04\x14\0\0\0".to_vec(),
            Some("a Word or zip file"),
        ),
        (
            "Word 97",
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0".to_vec(),
            Some("a Word or zip file"),
        ),
        (
            "gzip",
            b"\x1F\x8B\x08\0\0\0".to_vec(),
            Some("a compressed archive"),
        ),
        ("ELF", b"\x7FELF\x02\x01\x01\0".to_vec(), Some("a program")),
        ("Windows", b"MZ\x90\0\x03\0\0\0".to_vec(), Some("a program")),
        (
            "script",
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            Some("a program"),
        ),
        (
            "text",
            b"my rash started on Monday\r\n".to_vec(),
            Some("text"),
        ),
        (
            "BOM text",
            "\u{FEFF}caf\u{E9}\n".as_bytes().to_vec(),
            Some("text"),
        ),
        ("UTF-16 text", b"\xFF\xFEh\0i\0".to_vec(), Some("text")),
        (
            "SVG",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            Some("an SVG image"),
        ),
        (
            "text that starts BM",
            b"BMW service record".to_vec(),
            Some("text"),
        ),
        (
            "unknown binary",
            vec![0x00, 0x01, 0x02, 0x03, 0xF0, 0x9F],
            None,
        ),
        ("JPEG missing its third byte", vec![0xFF, 0xD8], None),
    ];
    for (name, bytes, what) in cases {
        assert_eq!(sniff(&bytes), Err(Refusal::Unsupported { what }), "{name}");
        assert_eq!(
            clean_default(&bytes).unwrap_err(),
            Refusal::Unsupported { what },
            "{name}"
        );
    }
    assert_eq!(sniff(&[]), Err(Refusal::Empty));
    assert_eq!(clean_default(&[]).unwrap_err(), Refusal::Empty);
}

#[test]
fn a_png_header_followed_by_garbage_sniffs_as_png_but_is_unreadable() {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(b"this is not a chunk at all, just garbage bytes");
    assert_eq!(sniff(&bytes), Ok(Kind::Png));
    assert_eq!(
        clean_default(&bytes).unwrap_err(),
        Refusal::Unreadable { kind: Kind::Png }
    );

    // Cut short in the middle of its image data.
    let photo = testing::photo_with_location();
    let half = &photo[..photo.len() / 2];
    let png = testing::png_with_text();
    let short_png = &png[..png.len() / 2];
    assert_eq!(sniff(short_png), Ok(Kind::Png));
    assert_eq!(
        clean_default(short_png).unwrap_err(),
        Refusal::Unreadable { kind: Kind::Png }
    );
    // A JPEG decoder may fill a truncated scan in with grey; it must not panic either way.
    if let Err(refusal) = clean_default(half) {
        assert_eq!(refusal, Refusal::Unreadable { kind: Kind::Jpeg });
    }
}

// --- messages ---------------------------------------------------------------------------

#[test]
fn refusals_read_plainly() {
    let message = |refusal: Refusal| refusal.to_string();
    assert_eq!(
        message(Refusal::Unsupported {
            what: Some("a HEIC photo")
        }),
        "HEIC photos cannot be sent: take a screenshot of it, or set the camera to \"Most Compatible\" (JPEG)"
    );
    assert_eq!(
        message(Refusal::Unsupported { what: None }),
        "only photos (JPEG, PNG, WebP) and PDF documents can be sent"
    );
    assert_eq!(
        message(Refusal::Unsupported {
            what: Some("a GIF")
        }),
        "a GIF cannot be sent: only photos (JPEG, PNG, WebP) and PDF documents can be sent"
    );
    assert!(
        message(Refusal::Unsupported {
            what: Some("a Word or zip file")
        })
        .contains("PDF")
    );
    assert!(
        message(Refusal::Unsupported {
            what: Some("a program")
        })
        .starts_with("programs cannot be sent")
    );
    assert!(
        message(Refusal::Unsupported { what: Some("text") })
            .starts_with("text files cannot be sent")
    );
    assert_eq!(message(Refusal::Empty), "the file is empty");
    assert_eq!(
        message(Refusal::TooLarge {
            max_bytes: Limits::default().max_bytes
        }),
        "the file is larger than 10 MB"
    );
    assert_eq!(
        message(Refusal::TooLarge {
            max_bytes: 3 * 512 * 1024
        }),
        "the file is larger than 1.5 MB"
    );
    assert_eq!(
        message(Refusal::TooLarge { max_bytes: 100 }),
        "the file is larger than 100 bytes"
    );
    assert_eq!(
        message(Refusal::TooManyPixels {
            max_pixels: Limits::default().max_pixels
        }),
        "the image is too large (over 40 megapixels)"
    );
    assert_eq!(
        message(Refusal::TooManyPixels { max_pixels: 100 }),
        "the image is too large (over 100 pixels)"
    );
    assert_eq!(
        message(Refusal::Unreadable { kind: Kind::Jpeg }),
        "this JPEG file could not be read; it may be damaged"
    );
    assert_eq!(
        message(Refusal::Unreadable { kind: Kind::Webp }),
        "this WebP file could not be read; it may be damaged"
    );
    assert!(message(Refusal::Encrypted).starts_with("password-protected PDFs cannot be sent"));
}

// --- JPEG -------------------------------------------------------------------------------

#[test]
fn the_photo_fixture_really_carries_its_location_and_name() {
    let photo = testing::photo_with_location();
    let markers = jpeg_markers(&photo);
    assert_eq!(
        markers.iter().filter(|&&marker| marker == 0xE1).count(),
        2,
        "EXIF and XMP"
    );
    assert!(markers.contains(&0xFE), "a comment");
    assert!(contains(&photo, b"Exif\0\0II*\0"));
    assert!(contains(&photo, b"http://ns.adobe.com/xap/1.0/\0"));
    assert!(contains(
        &photo,
        b"<exif:GPSLatitude>40,26.77N</exif:GPSLatitude>"
    ));
    assert_eq!(
        count(&photo, NAME.as_bytes()),
        3,
        "EXIF Artist, XMP creator, comment"
    );
    // The EXIF is well-formed: a decoder reads its orientation from it.
    assert_eq!(
        orientation(&photo, ImageFormat::Jpeg),
        Orientation::Rotate90
    );
    let decoded = decode(&photo, ImageFormat::Jpeg);
    assert_eq!((decoded.width(), decoded.height()), PHOTO_SIZE);
}

#[test]
fn a_cleaned_photo_has_no_exif_xmp_or_comment_and_is_upright() {
    let cleaned = clean_default(&testing::photo_with_location()).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Jpeg);
    assert_eq!(sniff(&cleaned.bytes), Ok(Kind::Jpeg));
    let markers = jpeg_markers(&cleaned.bytes);
    assert!(
        !markers.contains(&0xE1),
        "an APP1 segment is left: {markers:x?}"
    );
    assert!(!markers.contains(&0xFE), "a comment is left: {markers:x?}");
    // No application segment but the JFIF header.
    assert!(
        markers
            .iter()
            .all(|&marker| !(0xE1..=0xEF).contains(&marker)),
        "{markers:x?}"
    );
    for needle in [
        &b"Exif"[..],
        b"http://ns.adobe.com/xap",
        NAME.as_bytes(),
        b"GPS",
    ] {
        assert!(
            !contains(&cleaned.bytes, needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    assert_eq!(cleaned.dimensions, Some((PHOTO_SIZE.1, PHOTO_SIZE.0)));
    assert_eq!(cleaned.pages, None);

    let decoded = decode(&cleaned.bytes, ImageFormat::Jpeg);
    assert_eq!((decoded.width(), decoded.height()), (48, 64));
    assert_eq!(
        orientation(&cleaned.bytes, ImageFormat::Jpeg),
        Orientation::NoTransforms
    );
    // Turned clockwise: the stored bottom-left corner (green, no red) is now the top-left, and
    // the stored top-left (neither) the top-right.
    let rgb = decoded.to_rgb8();
    let top_left = rgb.get_pixel(0, 0).0;
    let top_right = rgb.get_pixel(47, 0).0;
    assert!(top_left[1] > 200 && top_left[0] < 40, "{top_left:?}");
    assert!(top_right[1] < 40 && top_right[0] < 40, "{top_right:?}");
}

#[test]
fn a_greyscale_jpeg_stays_greyscale() {
    let grey = image::GrayImage::from_fn(20, 10, |x, y| image::Luma([(x * 10 + y) as u8]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .write_image(grey.as_raw(), 20, 10, image::ExtendedColorType::L8)
        .unwrap();
    let cleaned = clean_default(&jpeg).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Jpeg);
    assert_eq!(cleaned.dimensions, Some((20, 10)));
    assert_eq!(
        decode(&cleaned.bytes, ImageFormat::Jpeg).color(),
        image::ColorType::L8
    );
}

// --- PNG --------------------------------------------------------------------------------

#[test]
fn a_cleaned_png_has_no_text_or_exif_and_the_same_pixels() {
    let png = testing::png_with_text();
    let chunks = png_chunks(&png);
    assert!(chunks.iter().any(|chunk| chunk == "tEXt"), "{chunks:?}");
    assert!(chunks.iter().any(|chunk| chunk == "eXIf"), "{chunks:?}");
    assert_eq!(count(&png, NAME.as_bytes()), 2);
    let original = decode(&png, ImageFormat::Png);

    let cleaned = clean_default(&png).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Png);
    let chunks = png_chunks(&cleaned.bytes);
    assert!(
        chunks
            .iter()
            .all(|chunk| ["IHDR", "IDAT", "IEND"].contains(&chunk.as_str())),
        "{chunks:?}"
    );
    assert!(!contains(&cleaned.bytes, NAME.as_bytes()));
    assert_eq!(cleaned.dimensions, Some(PNG_SIZE));
    let decoded = decode(&cleaned.bytes, ImageFormat::Png);
    assert_eq!(
        decoded.color(),
        image::ColorType::Rgba8,
        "the alpha channel is kept"
    );
    assert_eq!(decoded.as_bytes(), original.as_bytes(), "lossless");
}

#[test]
fn a_sixteen_bit_png_keeps_its_depth_and_pixels() {
    let deep = DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(9, 7, |x, y| {
        image::Luma([(x * 7000 + y * 300) as u16])
    }));
    let mut png = Vec::new();
    deep.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let cleaned = clean_default(&png).expect("cleans");
    let decoded = decode(&cleaned.bytes, ImageFormat::Png);
    assert_eq!(decoded.color(), image::ColorType::L16);
    assert_eq!(decoded.as_bytes(), deep.as_bytes());
}

// --- WebP -------------------------------------------------------------------------------

#[test]
fn an_opaque_webp_becomes_a_jpeg() {
    let rgb = DynamicImage::ImageRgb8(gradient_rgba(30, 20, |_, _| 255).to_rgb8());
    let cleaned = clean_default(&webp(&rgb)).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Jpeg);
    assert_eq!(cleaned.dimensions, Some((30, 20)));
    let decoded = decode(&cleaned.bytes, ImageFormat::Jpeg);
    assert_eq!((decoded.width(), decoded.height()), (30, 20));

    // An alpha channel that is opaque everywhere is no transparency.
    let opaque = gradient_rgba(30, 20, |_, _| 255);
    assert_eq!(
        clean_default(&webp(&opaque)).expect("cleans").kind,
        Kind::Jpeg
    );
}

#[test]
fn a_transparent_webp_becomes_a_png_with_the_same_pixels() {
    let image = gradient_rgba(30, 20, |x, _| if x < 10 { 0 } else { 255 - x as u8 });
    let cleaned = clean_default(&webp(&image)).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Png);
    assert_eq!(cleaned.dimensions, Some((30, 20)));
    let decoded = decode(&cleaned.bytes, ImageFormat::Png);
    assert_eq!(decoded.to_rgba8().as_raw(), image.to_rgba8().as_raw());
}

#[test]
fn a_corrupt_webp_is_unreadable() {
    let mut bytes = webp(&gradient_rgba(30, 20, |_, _| 255));
    let end = bytes.len();
    bytes[20..end].fill(0x5A);
    assert_eq!(
        clean_default(&bytes).unwrap_err(),
        Refusal::Unreadable { kind: Kind::Webp }
    );
}

// --- limits -----------------------------------------------------------------------------

/// A PNG whose header says `width`×`height` and whose image data is garbage: it can only be
/// refused for its size if the size is checked before decoding.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let real = testing::png_with_text();
    let mut png = real[..8].to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc(&ihdr).to_be_bytes());
    let idat = b"IDATgarbage, not zlib";
    png.extend(17u32.to_be_bytes());
    png.extend(idat);
    png.extend(crc(idat).to_be_bytes());
    png.extend(&real[real.len() - 12..]);
    png
}

/// CRC-32 as PNG chunks end with (bitwise, to check the fixture's table).
fn crc(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &byte in bytes {
        c ^= u32::from(byte);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn too_many_pixels_are_refused_from_the_header_before_decoding() {
    let small = Limits {
        max_pixels: 100,
        ..Limits::default()
    };
    // A real 64×48 photo and a real 32×24 PNG.
    assert_eq!(
        clean(&testing::photo_with_location(), &small).unwrap_err(),
        Refusal::TooManyPixels { max_pixels: 100 }
    );
    assert_eq!(
        clean(&testing::png_with_text(), &small).unwrap_err(),
        Refusal::TooManyPixels { max_pixels: 100 }
    );
    // The header is all that is read: the garbage image data is never reached.
    assert_eq!(
        clean(&png_header_only(64, 48), &small).unwrap_err(),
        Refusal::TooManyPixels { max_pixels: 100 }
    );
    assert_eq!(
        clean_default(&png_header_only(64, 48)).unwrap_err(),
        Refusal::Unreadable { kind: Kind::Png },
        "within the limits, the same file is decoded and found damaged"
    );
    // A header claiming 100000 × 100000 (10 gigapixels) under the default limits.
    assert_eq!(
        clean_default(&png_header_only(100_000, 100_000)).unwrap_err(),
        Refusal::TooManyPixels {
            max_pixels: 40_000_000
        }
    );
}

#[test]
fn a_jpeg_claiming_a_huge_size_is_refused_without_decoding() {
    let mut photo = testing::photo_with_location();
    // The baseline frame header: FF C0, length, precision, then height and width.
    let sof = photo
        .windows(2)
        .position(|window| window == [0xFF, 0xC0])
        .expect("a baseline JPEG");
    photo[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    photo[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    assert_eq!(
        clean_default(&photo).unwrap_err(),
        Refusal::TooManyPixels {
            max_pixels: 40_000_000
        }
    );
}

#[test]
fn files_over_the_byte_limit_are_refused() {
    let photo = testing::photo_with_location();
    let limits = Limits {
        max_bytes: photo.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        clean(&photo, &limits).unwrap_err(),
        Refusal::TooLarge {
            max_bytes: photo.len() - 1
        }
    );
    let limits = Limits {
        max_bytes: photo.len(),
        ..Limits::default()
    };
    assert!(
        clean(&photo, &limits).is_ok(),
        "exactly the limit is accepted"
    );
    // Checked before the type: a large unknown file is told it is too large.
    assert_eq!(
        clean(
            &[0u8; 200],
            &Limits {
                max_bytes: 100,
                ..Limits::default()
            }
        )
        .unwrap_err(),
        Refusal::TooLarge { max_bytes: 100 }
    );
}

// --- PDF --------------------------------------------------------------------------------

#[test]
fn the_pdf_fixture_really_carries_its_metadata_in_two_revisions() {
    let pdf = testing::pdf_with_metadata();
    assert!(contains(&pdf, NAME.as_bytes()));
    assert!(contains(&pdf, b"/Metadata"));
    assert!(contains(&pdf, b"/PieceInfo"));
    assert!(contains(&pdf, b"xpacket"));
    assert_eq!(count(&pdf, b"startxref"), 2, "two revisions");
    assert_eq!(
        count(&pdf, b"/Info"),
        2,
        "an info dictionary in each trailer"
    );
    let document = Document::load_mem(&pdf).expect("a valid PDF");
    let info = document
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .and_then(|id| document.get_dictionary(id))
        .expect("an info dictionary");
    assert_eq!(
        info.get(b"Author").and_then(Object::as_str).unwrap(),
        format!("{NAME} 2").as_bytes(),
        "the incremental update is read"
    );
    assert_eq!(document.get_pages().len(), 1);
}

#[test]
fn a_cleaned_pdf_has_no_info_xmp_or_private_data_and_keeps_its_page() {
    let cleaned = clean_default(&testing::pdf_with_metadata()).expect("cleans");
    assert_eq!(cleaned.kind, Kind::Pdf);
    assert_eq!(cleaned.pages, Some(1));
    assert_eq!(cleaned.dimensions, None);
    assert_eq!(sniff(&cleaned.bytes), Ok(Kind::Pdf));
    for needle in [
        NAME.as_bytes(),
        b"/Metadata",
        b"/Info",
        b"/PieceInfo",
        b"xpacket",
        b"Carechat tests",
    ] {
        assert!(
            !contains(&cleaned.bytes, needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    assert_eq!(count(&cleaned.bytes, b"startxref"), 1, "one revision");
    assert!(contains(
        &cleaned.bytes,
        format!("({PDF_TEXT}) Tj").as_bytes()
    ));
    assert!(contains(&cleaned.bytes, b"72 640 300 80 re f"));

    let document = Document::load_mem(&cleaned.bytes).expect("loads again");
    assert!(!document.trailer.has(b"Info"));
    let highest = document.objects.keys().next_back().unwrap().0;
    assert_eq!(
        document
            .trailer
            .get(b"Size")
            .and_then(Object::as_i64)
            .unwrap(),
        i64::from(highest) + 1,
        "/Size counts the objects left"
    );
    assert_eq!(document.get_pages().len(), 1);
    let page = *document.get_pages().values().next().unwrap();
    let content = String::from_utf8(document.get_page_content(page)).unwrap();
    assert!(content.contains(PDF_TEXT), "{content}");
}

/// A one-page PDF whose catalog opens with a script, names a document script and an attached
/// file, and whose page runs a script when opened. `/Names` is its own object or inside the
/// catalog.
fn pdf_with_scripts(names_indirect: bool) -> Vec<u8> {
    let (mut document, catalog, page) = testing::document_with_page();
    let script = document.add_object(dictionary! {
        "S" => "JavaScript",
        "JS" => Object::string_literal("app.alert('hello')"),
    });
    let file = document.add_object(lopdf::Stream::new(
        dictionary! { "Type" => "EmbeddedFile" },
        b"hidden attachment".to_vec(),
    ));
    let names = dictionary! {
        "JavaScript" => dictionary! {
            "Names" => vec![Object::string_literal("opener"), script.into()],
        },
        "EmbeddedFiles" => dictionary! {
            "Names" => vec![
                Object::string_literal("notes.txt"),
                dictionary! { "Type" => "Filespec", "F" => Object::string_literal("notes.txt"), "EF" => dictionary! { "F" => file } }.into(),
            ],
        },
        "Dests" => dictionary! { "Names" => vec![] },
    };
    let names: Object = if names_indirect {
        document.add_object(names).into()
    } else {
        names.into()
    };
    let catalog = document.get_dictionary_mut(catalog).unwrap();
    catalog.set("OpenAction", script);
    catalog.set("AA", dictionary! { "WC" => script });
    catalog.set("Names", names);
    document
        .get_dictionary_mut(page)
        .unwrap()
        .set("AA", dictionary! { "O" => script });
    testing::save(&mut document)
}

#[test]
fn scripts_and_attached_files_are_removed_from_a_pdf() {
    for names_indirect in [true, false] {
        let pdf = pdf_with_scripts(names_indirect);
        for needle in [
            &b"/OpenAction"[..],
            b"/JavaScript",
            b"/EmbeddedFiles",
            b"/AA",
            b"app.alert",
            b"hidden attachment",
        ] {
            assert!(
                contains(&pdf, needle),
                "the input has {}",
                String::from_utf8_lossy(needle)
            );
        }
        let cleaned = clean_default(&pdf).expect("cleans");
        for needle in [
            &b"/OpenAction"[..],
            b"/JavaScript",
            b"/EmbeddedFiles",
            b"/AA",
            b"app.alert",
            b"hidden attachment",
        ] {
            assert!(
                !contains(&cleaned.bytes, needle),
                "{} is left (names indirect: {names_indirect})",
                String::from_utf8_lossy(needle)
            );
        }
        // The rest of /Names stays.
        assert!(
            contains(&cleaned.bytes, b"/Dests"),
            "names indirect: {names_indirect}"
        );
        assert_eq!(cleaned.pages, Some(1));
        assert!(contains(
            &cleaned.bytes,
            format!("({PDF_TEXT}) Tj").as_bytes()
        ));
    }
}

#[test]
fn a_truncated_or_broken_pdf_is_unreadable() {
    let pdf = testing::pdf_with_metadata();
    for cut in [5, 9, 40, 120] {
        assert_eq!(
            clean_default(&pdf[..cut]).unwrap_err(),
            Refusal::Unreadable { kind: Kind::Pdf },
            "cut at {cut}"
        );
    }
    assert_eq!(
        clean_default(b"%PDF-1.7\nthis is not a PDF body\n%%EOF\n").unwrap_err(),
        Refusal::Unreadable { kind: Kind::Pdf }
    );
}

#[test]
fn a_pdf_without_pages_is_unreadable() {
    let mut document = Document::with_version("1.7");
    let pages =
        document.add_object(dictionary! { "Type" => "Pages", "Kids" => vec![], "Count" => 0 });
    let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    document.trailer.set("Root", catalog);
    let pdf = testing::save(&mut document);
    assert_eq!(
        clean_default(&pdf).unwrap_err(),
        Refusal::Unreadable { kind: Kind::Pdf }
    );
}

/// The one-page test document encrypted (RC4, 128 bits) with these passwords.
fn encrypted_pdf(user_password: &str) -> Vec<u8> {
    let (mut document, _, _) = testing::document_with_page();
    document.trailer.set(
        "ID",
        Object::Array(vec![
            Object::string_literal(b"0123456789abcdef".to_vec()),
            Object::string_literal(b"0123456789abcdef".to_vec()),
        ]),
    );
    let info = document.add_object(dictionary! { "Author" => Object::string_literal(NAME) });
    document.trailer.set("Info", info);
    let state = EncryptionState::try_from(EncryptionVersion::V2 {
        document: &document,
        owner_password: "owner secret",
        user_password,
        key_length: 128,
        permissions: Permissions::empty(),
    })
    .expect("an encryption state");
    document.encrypt(&state).expect("encrypts");
    testing::save(&mut document)
}

#[test]
fn a_password_protected_pdf_is_refused() {
    let pdf = encrypted_pdf("patient password");
    assert!(contains(&pdf, b"/Encrypt"));
    assert_eq!(sniff(&pdf), Ok(Kind::Pdf));
    assert_eq!(clean_default(&pdf).unwrap_err(), Refusal::Encrypted);
}

#[test]
fn a_pdf_that_opens_without_a_password_is_cleaned_and_saved_decrypted() {
    // Only an owner password (restricting printing or copying): any reader opens it, so its
    // metadata can be checked like any other.
    let pdf = encrypted_pdf("");
    assert!(contains(&pdf, b"/Encrypt"));
    let cleaned = clean_default(&pdf).expect("cleans");
    assert_eq!(cleaned.pages, Some(1));
    assert!(!contains(&cleaned.bytes, b"/Encrypt"));
    assert!(!contains(&cleaned.bytes, b"/Info"));
    assert!(
        contains(&cleaned.bytes, format!("({PDF_TEXT}) Tj").as_bytes()),
        "decrypted"
    );
    let document = Document::load_mem(&cleaned.bytes).expect("loads again");
    assert_eq!(document.get_pages().len(), 1);
}

#[test]
fn the_eicar_pdf_is_a_pdf_carrying_the_test_string_and_keeps_it_when_cleaned() {
    let pdf = testing::pdf_with_eicar();
    assert_eq!(sniff(&pdf), Ok(Kind::Pdf));
    assert_eq!(EICAR.len(), 68);
    assert!(contains(&pdf, EICAR.as_bytes()));
    // The whole content of a stream, as a scanner extracting streams sees it.
    assert!(contains(
        &pdf,
        format!("stream\n{EICAR}\nendstream").as_bytes()
    ));
    let cleaned = clean_default(&pdf).expect("cleans");
    assert_eq!(cleaned.pages, Some(1));
    assert!(contains(&cleaned.bytes, EICAR.as_bytes()));
}

// --- fixtures ---------------------------------------------------------------------------

#[test]
fn the_fixtures_are_deterministic_and_small() {
    type Builder = fn() -> Vec<u8>;
    let builders: [(&str, Builder); 4] = [
        ("photo_with_location", testing::photo_with_location),
        ("png_with_text", testing::png_with_text),
        ("pdf_with_metadata", testing::pdf_with_metadata),
        ("pdf_with_eicar", testing::pdf_with_eicar),
    ];
    for (name, build) in builders {
        let bytes = build();
        assert_eq!(bytes, build(), "{name} is not deterministic");
        assert!(bytes.len() < 16 * 1024, "{name} is {} bytes", bytes.len());
        println!("{name}: {} bytes", bytes.len());
    }
}
