//! Builders of the files the tests share: this crate's tests, the service's, and the
//! end-to-end browser test. Each is small and deterministic (the same bytes on every call),
//! and each carries metadata that cleaning must remove — the name "Jane Roe" and, in the
//! photo, a GPS position — so a test can check both that it was there and that it is gone.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use lopdf::xref::XrefType;
use lopdf::{Document, Object, ObjectId, Stream, dictionary};

/// The name written into every fixture's metadata; no cleaned file may contain it.
pub const NAME: &str = "Jane Roe";

/// The size of [`photo_with_location`]'s pixels as stored: 64 wide, 48 high. Its EXIF
/// orientation is 6 (rotate 90° clockwise to display), so once cleaned (the orientation
/// applied to the pixels) it is 48 wide and 64 high.
pub const PHOTO_SIZE: (u32, u32) = (64, 48);

/// The size of [`png_with_text`]: 32 wide, 24 high. It has no orientation, so cleaning keeps it.
pub const PNG_SIZE: (u32, u32) = (32, 24);

/// The EICAR antivirus test string: harmless by design, and flagged by every virus scanner.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The text the PDFs' page shows.
pub const PDF_TEXT: &str = "Aftercare";

/// A 64×48 JPEG photo (a gradient) that carries, right after its start-of-image marker:
/// - an EXIF APP1 segment (little-endian TIFF) whose IFD0 holds Orientation = 6, Artist
///   "Jane Roe" and a GPS IFD: 40° 26' 46.18" N, 79° 58' 56" W;
/// - an XMP APP1 segment with `<exif:GPSLatitude>40,26.77N</exif:GPSLatitude>` and the
///   creator "Jane Roe";
/// - a COM segment "Jane Roe".
///
/// See [`PHOTO_SIZE`]: cleaned, it is 48×64.
pub fn photo_with_location() -> Vec<u8> {
    let (width, height) = PHOTO_SIZE;
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| [(x * 4) as u8, (y * 5) as u8, 160]))
        .collect();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(&pixels, width, height, ExtendedColorType::Rgb8)
        .expect("a gradient encodes as JPEG");

    let gps_start = |ifd0_len: u32| 8 + ifd0_len;
    let ifd0 = |gps: u32| {
        ifd(
            8,
            &[
                (0x0112, SHORT, 1, 6u16.to_le_bytes().to_vec()),
                (0x013B, ASCII, 9, ascii(NAME)),
                (0x8825, LONG, 1, gps.to_le_bytes().to_vec()),
            ],
        )
    };
    let ifd0_len = ifd0(0).len() as u32;
    let gps = ifd(
        gps_start(ifd0_len),
        &[
            (0x0001, ASCII, 2, ascii("N")),
            (
                0x0002,
                RATIONAL,
                3,
                rationals(&[(40, 1), (26, 1), (4618, 100)]),
            ),
            (0x0003, ASCII, 2, ascii("W")),
            (
                0x0004,
                RATIONAL,
                3,
                rationals(&[(79, 1), (58, 1), (5600, 100)]),
            ),
        ],
    );
    let mut exif = b"Exif\0\0II\x2A\0".to_vec();
    exif.extend(8u32.to_le_bytes());
    exif.extend(ifd0(gps_start(ifd0_len)));
    exif.extend(gps);

    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend(xmp_packet().as_bytes());

    let mut photo = jpeg[..2].to_vec();
    photo.extend(segment(0xE1, &exif));
    photo.extend(segment(0xE1, &xmp));
    photo.extend(segment(0xFE, NAME.as_bytes()));
    photo.extend(&jpeg[2..]);
    photo
}

/// A 32×24 RGBA PNG (a gradient, partly transparent) with an `eXIf` chunk (Artist
/// "Jane Roe") right after IHDR — the PNG specification puts eXIf before the image data — and
/// a `tEXt` chunk `Author` = "Jane Roe" just before IEND.
pub fn png_with_text() -> Vec<u8> {
    let (width, height) = PNG_SIZE;
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| {
            (0..width).flat_map(move |x| [(x * 8) as u8, (y * 10) as u8, 200, (255 - x * 4) as u8])
        })
        .collect();
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, width, height, ExtendedColorType::Rgba8)
        .expect("a gradient encodes as PNG");

    let mut exif = b"II\x2A\0".to_vec();
    exif.extend(8u32.to_le_bytes());
    exif.extend(ifd(8, &[(0x013B, ASCII, 9, ascii(NAME))]));
    let mut text = b"Author\0".to_vec();
    text.extend(NAME.as_bytes());

    // The signature (8 bytes), then IHDR: length, type, 13 bytes of data, CRC.
    let after_header = 8 + 4 + 4 + 13 + 4;
    let before_end = png.len() - 12;
    let mut out = png[..after_header].to_vec();
    out.extend(chunk(b"eXIf", &exif));
    out.extend(&png[after_header..before_end]);
    out.extend(chunk(b"tEXt", &text));
    out.extend(&png[before_end..]);
    out
}

/// A one-page PDF (a filled rectangle and the text "Aftercare", in an uncompressed content
/// stream) with:
/// - an `/Info` dictionary: Author "Jane Roe", Title "Jane Roe results";
/// - an XMP `/Metadata` stream on the catalog with the creator "Jane Roe";
/// - `/PieceInfo` on the page, whose private data holds "Jane Roe";
///
/// and then an incremental update, appended by hand as a second revision (its own
/// cross-reference section and trailer, `/Prev` pointing at the first), that adds a second
/// Info object, Author "Jane Roe 2", and points the trailer's `/Info` at it. The file thus
/// holds two info dictionaries, as a document edited after it was made does.
pub fn pdf_with_metadata() -> Vec<u8> {
    let (mut document, catalog, page) = document_with_page();

    let xmp = document.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        xmp_packet().into_bytes(),
    ));
    if let Ok(Object::Dictionary(catalog)) = document.get_object_mut(catalog) {
        catalog.set("Metadata", xmp);
    }
    if let Ok(Object::Dictionary(page)) = document.get_object_mut(page) {
        page.set(
            "PieceInfo",
            dictionary! {
                "Carechat" => dictionary! {
                    "LastModified" => Object::string_literal("D:20240501120000Z"),
                    "Private" => Object::string_literal(NAME),
                },
            },
        );
    }
    let info = document.add_object(dictionary! {
        "Author" => Object::string_literal(NAME),
        "Title" => Object::string_literal(format!("{NAME} results")),
        "Producer" => Object::string_literal("Carechat tests"),
    });
    document.trailer.set("Info", info);
    let mut pdf = save(&mut document);

    // The update: one new object, a cross-reference section for it alone, and a trailer
    // chained to the first revision's.
    let previous = last_startxref(&pdf);
    let id = document.max_id + 1;
    pdf.push(b'\n');
    let offset = pdf.len();
    pdf.extend(
        format!("{id} 0 obj\n<< /Author ({NAME} 2) /Title ({NAME} results, revised) >>\nendobj\n")
            .as_bytes(),
    );
    let xref = pdf.len();
    pdf.extend(
        format!(
            "xref\n0 1\n0000000000 65535 f \n{id} 1\n{offset:010} 00000 n \n\
             trailer\n<< /Size {size} /Root {root} 0 R /Info {id} 0 R /Prev {previous} >>\n\
             startxref\n{xref}\n%%EOF\n",
            size = id + 1,
            root = catalog.0,
        )
        .as_bytes(),
    );
    pdf
}

/// A valid one-page PDF that also holds the [`EICAR`] test string verbatim as the whole
/// content of an uncompressed stream (referred to from the catalog, so cleaning keeps it), so
/// that a virus scanner flags the file while [`crate::sniff`] says PDF.
pub fn pdf_with_eicar() -> Vec<u8> {
    let (mut document, catalog, _) = document_with_page();
    let eicar = document.add_object(Stream::new(dictionary! {}, EICAR.as_bytes().to_vec()));
    if let Ok(Object::Dictionary(catalog)) = document.get_object_mut(catalog) {
        catalog.set("CarechatTestFile", eicar);
    }
    save(&mut document)
}

/// A PDF 1.7 document with a classic cross-reference table and one US Letter page that fills a
/// rectangle and shows [`PDF_TEXT`] in Helvetica. Returns it with its catalog and page ids.
pub(crate) fn document_with_page() -> (Document, ObjectId, ObjectId) {
    let mut document = Document::with_version("1.7");
    document.reference_table.cross_reference_type = XrefType::CrossReferenceTable;
    let pages = document.new_object_id();
    let font = document.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
    });
    let content = format!(
        "0.85 0.92 1 rg 72 640 300 80 re f\nBT /F1 28 Tf 0 0 0 rg 90 670 Td ({PDF_TEXT}) Tj ET\n"
    );
    let content = document.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page = document.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Contents" => content,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    document.objects.insert(
        pages,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    document.trailer.set("Root", catalog);
    (document, catalog, page)
}

/// `document` saved to bytes.
pub(crate) fn save(document: &mut Document) -> Vec<u8> {
    let mut pdf = Vec::new();
    document
        .save_to(&mut pdf)
        .expect("saving to memory does not fail");
    pdf
}

/// The offset after the last `startxref` of `pdf`.
fn last_startxref(pdf: &[u8]) -> usize {
    let keyword = b"startxref";
    let at = pdf
        .windows(keyword.len())
        .rposition(|window| window == keyword)
        .expect("a saved PDF ends with startxref");
    let digits: String = pdf[at + keyword.len()..]
        .iter()
        .map(|&byte| byte as char)
        .skip_while(char::is_ascii_whitespace)
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("startxref is followed by an offset")
}

/// A small XMP packet with a GPS latitude and the creator [`NAME`].
fn xmp_packet() -> String {
    format!(
        "<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
         <rdf:Description rdf:about=\"\" xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\
         <exif:GPSLatitude>40,26.77N</exif:GPSLatitude>\
         <exif:GPSLongitude>79,58.93W</exif:GPSLongitude>\
         <dc:creator><rdf:Seq><rdf:li>{NAME}</rdf:li></rdf:Seq></dc:creator>\
         </rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"r\"?>"
    )
}

/// TIFF field types.
const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

/// One little-endian TIFF image file directory that starts at offset `start` of the TIFF,
/// followed by the values that do not fit in an entry's 4 bytes, and no next directory.
/// `entries` are (tag, type, count, value bytes), in ascending tag order.
fn ifd(start: u32, entries: &[(u16, u16, u32, Vec<u8>)]) -> Vec<u8> {
    let data_start = start + 2 + 12 * entries.len() as u32 + 4;
    let mut table = (entries.len() as u16).to_le_bytes().to_vec();
    let mut data = Vec::new();
    for (tag, kind, count, value) in entries {
        table.extend(tag.to_le_bytes());
        table.extend(kind.to_le_bytes());
        table.extend(count.to_le_bytes());
        if value.len() <= 4 {
            let mut inline = value.clone();
            inline.resize(4, 0);
            table.extend(inline);
        } else {
            table.extend((data_start + data.len() as u32).to_le_bytes());
            data.extend(value);
            if data.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    table.extend(0u32.to_le_bytes());
    table.extend(data);
    table
}

/// A TIFF ASCII value: the text and its terminating NUL.
fn ascii(text: &str) -> Vec<u8> {
    let mut value = text.as_bytes().to_vec();
    value.push(0);
    value
}

/// TIFF RATIONAL values, little-endian.
fn rationals(values: &[(u32, u32)]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|(numerator, denominator)| {
            numerator
                .to_le_bytes()
                .into_iter()
                .chain(denominator.to_le_bytes())
        })
        .collect()
}

/// A JPEG marker segment: `FF marker`, the big-endian length (counting itself), the payload.
fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("a fixture segment is under 64 KiB");
    let mut out = vec![0xFF, marker];
    out.extend(length.to_be_bytes());
    out.extend(payload);
    out
}

/// A PNG chunk: the big-endian length, the type, the data, the CRC-32 of type and data.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&out[4..]).to_be_bytes());
    out
}

/// The CRC-32 (IEEE, reflected, polynomial 0xEDB88320) that PNG chunks end with.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut bit = 0;
            while bit < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                bit += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &byte| {
        TABLE[((c ^ u32::from(byte)) & 0xFF) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_png_specification() {
        // The CRC of an IEND chunk, as every PNG ends.
        assert_eq!(super::crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
