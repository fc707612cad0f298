//! Files that patients and clinicians share in a conversation: photos (a rash, an insurance
//! card) and PDF documents (results, aftercare instructions).
//!
//! Before a file is stored this crate decides two things:
//!
//! 1. **Its type, by its content.** [`sniff`] reads the first bytes (the "magic numbers"), never
//!    a file name or a declared MIME type. Only JPEG, PNG, WebP and PDF are accepted; anything
//!    else is refused with a [`Refusal`] that names what the file looks like where that is known
//!    (a HEIC photo, a Word document, a program), so the message can tell a patient what to do.
//! 2. **That it carries no metadata.** [`clean`] returns new bytes:
//!    - *Images* are decoded to pixels and encoded again, so nothing but the pixels survives:
//!      no EXIF (camera, time, GPS position, the owner's name), no XMP, no IPTC, no ICC profile,
//!      no JPEG comments or other APPn segments, no PNG text (`tEXt`, `zTXt`, `iTXt`) or
//!      `eXIf` chunks, no WebP `EXIF`/`XMP ` chunks. The EXIF orientation is applied to the
//!      pixels first, so a phone photo stays upright once its EXIF is gone. JPEG stays JPEG
//!      (quality 90), PNG stays PNG (lossless, same colour type), WebP becomes JPEG, or PNG when
//!      it has transparency.
//!    - *PDFs* are rewritten as a single revision without the trailer's `/Info` dictionary
//!      (author, title, producer, dates), without any XMP `/Metadata` stream (on the catalog,
//!      pages, images or fonts) and without `/PieceInfo` (application private data). So that a
//!      file opened by a patient runs no script and carries no hidden file, the catalog's
//!      `/OpenAction`, every `/AA` (additional actions), and the `/JavaScript` and
//!      `/EmbeddedFiles` name trees are removed too. Objects nothing refers to any more are
//!      dropped, and earlier incremental updates (which can hold an older `/Info`) are not
//!      written out. Streams are kept byte for byte (neither compressed nor decompressed).
//!      Password-protected PDFs are refused: their content cannot be checked.
//!
//! It is a crate of its own because decoders are the riskiest code that touches patient input,
//! and they pull in the image and PDF dependencies, which the conversation core does not need.
//! It is pure — bytes in, bytes out, no file or network I/O — so it can be tested and fuzzed
//! alone; only the server reads and stores files. Decoding is bounded by [`Limits`].
//!
//! With the `testing` feature, the module `testing` builds the small files that the tests of this crate
//! and of the rest of the workspace share (a photo with a GPS position, a PDF with an author).

use std::fmt;

mod images;
mod pdf;
mod sniff;

// Also built for this crate's own tests, so `cargo test` runs them with or without the feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

pub use sniff::sniff;

/// What a file is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A JPEG photo.
    Jpeg,
    /// A PNG image.
    Png,
    /// A WebP image (cleaned into JPEG or PNG).
    Webp,
    /// A PDF document.
    Pdf,
}

impl Kind {
    /// The MIME type to serve the file with.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
        }
    }

    /// The usual file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Webp => "webp",
            Kind::Pdf => "pdf",
        }
    }

    /// Whether the file is a picture (as opposed to a document).
    pub fn is_image(self) -> bool {
        !matches!(self, Kind::Pdf)
    }

    /// A stable lower-case name, for storage: `"jpeg"`, `"png"`, `"webp"`, `"pdf"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::Png => "png",
            Kind::Webp => "webp",
            Kind::Pdf => "pdf",
        }
    }

    /// The kind named by [`Kind::as_str`]; `None` for any other text.
    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Jpeg, Kind::Png, Kind::Webp, Kind::Pdf]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }

    /// The name people know the format by, for messages.
    fn label(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Webp => "WebP",
            Kind::Pdf => "PDF",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits on what is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest file accepted, in bytes.
    pub max_bytes: usize,
    /// The largest image accepted, in pixels (width × height), checked from the image's
    /// header before any pixel is decoded.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 10 MiB and 40 megapixels (a 48 MP phone sensor saves 12 MP photos by default).
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
        }
    }
}

/// A file ready to store: its metadata gone.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// The kind of `bytes` (WebP comes out as JPEG, or PNG when it has transparency; the rest
    /// keep their kind).
    pub kind: Kind,
    /// The cleaned file.
    pub bytes: Vec<u8>,
    /// Images: width and height after the EXIF orientation was applied.
    pub dimensions: Option<(u32, u32)>,
    /// PDFs: the page count.
    pub pages: Option<u32>,
}

/// Checks and cleans a file: refuses it when empty or over `limits.max_bytes`, decides its
/// type by [`sniff`], decodes it within `limits`, strips its metadata and encodes it again
/// (see the crate documentation for exactly what is removed).
pub fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(Refusal::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    match sniff(bytes)? {
        Kind::Pdf => pdf::clean(bytes),
        image => images::clean(bytes, image, limits),
    }
}

/// Why a file was not accepted. The `Display` text is shown to patients and clinicians as it
/// is, so it is plain and says what to do where something can be done; it never quotes the
/// file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The file has no bytes.
    #[error("the file is empty")]
    Empty,
    /// The file is over [`Limits::max_bytes`].
    #[error("the file is larger than {}", size(*.max_bytes))]
    TooLarge {
        /// The limit that was exceeded.
        max_bytes: usize,
    },
    /// Not a type that can be sent. `what` names the type where recognised ("a HEIC photo",
    /// "a GIF", "a Word or zip file", "a program", "text").
    #[error("{}", unsupported(*.what))]
    Unsupported {
        /// What the file looks like, where known.
        what: Option<&'static str>,
    },
    /// The image is over [`Limits::max_pixels`].
    #[error("the image is too large (over {})", pixels(*.max_pixels))]
    TooManyPixels {
        /// The limit that was exceeded.
        max_pixels: u64,
    },
    /// The content says it is `kind` but cannot be read as one (truncated, corrupt).
    #[error("this {} file could not be read; it may be damaged", .kind.label())]
    Unreadable {
        /// What the file claims to be.
        kind: Kind,
    },
    /// A password-protected (encrypted) PDF: its metadata cannot be checked.
    #[error(
        "password-protected PDFs cannot be sent: save a copy without the password and send that"
    )]
    Encrypted,
}

/// The message for an unsupported file, by what it looks like.
fn unsupported(what: Option<&str>) -> String {
    const ALLOWED: &str = "only photos (JPEG, PNG, WebP) and PDF documents can be sent";
    match what {
        Some(sniff::HEIC) => "HEIC photos cannot be sent: take a screenshot of it, or set the \
                              camera to \"Most Compatible\" (JPEG)"
            .to_string(),
        Some(sniff::OFFICE) => {
            "Word, Excel and zip files cannot be sent: save the document as a PDF and send that"
                .to_string()
        }
        Some(sniff::PROGRAM) => format!("programs cannot be sent: {ALLOWED}"),
        Some(sniff::TEXT) => {
            "text files cannot be sent: type the text in a message, or save it as a PDF and send that"
                .to_string()
        }
        Some(what) => format!("{what} cannot be sent: {ALLOWED}"),
        None => ALLOWED.to_string(),
    }
}

/// A byte count for people: "10 MB", "1.5 MB", "500 KB" (1 MB = 1024 × 1024 bytes, as
/// [`Limits::default`] counts).
fn size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        decimal(bytes as f64 / MIB as f64, "MB")
    } else if bytes >= 1024 {
        decimal(bytes as f64 / 1024.0, "KB")
    } else {
        format!("{bytes} bytes")
    }
}

/// A pixel count for people: "40 megapixels", "100 pixels".
fn pixels(count: u64) -> String {
    if count >= 1_000_000 {
        decimal(count as f64 / 1_000_000.0, "megapixels")
    } else {
        format!("{count} pixels")
    }
}

/// `value` with one decimal when it is not whole, then `unit`.
fn decimal(value: f64, unit: &str) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}
