//! Images: decoded to pixels within the limits, turned upright, and encoded again, so that no
//! metadata survives.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError,
    ImageFormat, ImageReader,
};

use crate::{Cleaned, Kind, Limits, Refusal};

/// The JPEG quality of re-encoded photos: visually lossless for a photo of skin or a card.
const JPEG_QUALITY: u8 = 90;

/// The most the decoder may allocate, whatever the pixel limit.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// Decodes `bytes` as the image `kind` (from [`crate::sniff`]), applies its EXIF orientation
/// and encodes the pixels alone: JPEG as JPEG, PNG as PNG, WebP as JPEG or, when it has
/// transparency, PNG.
pub(crate) fn clean(bytes: &[u8], kind: Kind, limits: &Limits) -> Result<Cleaned, Refusal> {
    let format = match kind {
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Png => ImageFormat::Png,
        Kind::Webp => ImageFormat::WebP,
        Kind::Pdf => return Err(Refusal::Unreadable { kind }),
    };
    let refuse = |error: ImageError| match error {
        ImageError::Limits(_) => Refusal::TooManyPixels {
            max_pixels: limits.max_pixels,
        },
        _ => Refusal::Unreadable { kind },
    };

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits(limits));
    let mut decoder = reader.into_decoder().map_err(refuse)?;
    // The header's size, before any pixel is decoded.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Refusal::TooManyPixels {
            max_pixels: limits.max_pixels,
        });
    }
    // Damaged EXIF is no reason to refuse the photo: it is removed anyway.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(refuse)?;
    image.apply_orientation(orientation);

    let (kind, bytes) = match kind {
        Kind::Png => (Kind::Png, encode_png(&image)),
        Kind::Webp if has_transparency(&image) => (Kind::Png, encode_png(&image)),
        _ => (Kind::Jpeg, encode_jpeg(&image)),
    };
    Ok(Cleaned {
        kind,
        // Encoding pixels already in memory fails only on an allocation the decoder made.
        bytes: bytes.map_err(refuse)?,
        dimensions: Some((image.width(), image.height())),
        pages: None,
    })
}

/// The image crate's limits for `limits`: no side longer than the pixel limit allows (a side
/// is at most the whole count, the other side being at least 1; the product is checked from
/// the header before decoding), and a bounded allocation.
fn decoder_limits(limits: &Limits) -> image::Limits {
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut bounds = image::Limits::default();
    bounds.max_image_width = Some(side);
    bounds.max_image_height = Some(side);
    bounds.max_alloc = Some(MAX_ALLOC);
    bounds
}

/// Whether any pixel is less than fully opaque.
fn has_transparency(image: &DynamicImage) -> bool {
    image.color().has_alpha() && image.to_rgba8().pixels().any(|pixel| pixel.0[3] < u8::MAX)
}

/// A baseline JPEG of the pixels alone: greyscale stays greyscale, the rest becomes 8-bit RGB
/// (the encoder takes neither alpha nor 16 bits). No EXIF, XMP, ICC or comment is written.
fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    let (width, height) = (image.width(), image.height());
    match image.color() {
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16 => {
            let grey = image.to_luma8();
            encoder.write_image(grey.as_raw(), width, height, ExtendedColorType::L8)?;
        }
        _ => {
            let rgb = image.to_rgb8();
            encoder.write_image(rgb.as_raw(), width, height, ExtendedColorType::Rgb8)?;
        }
    }
    Ok(out)
}

/// A PNG of the pixels alone, in the image's own colour type where PNG has it (8 or 16 bits,
/// grey or RGB, with or without alpha), so it stays lossless. No text, EXIF or ICC chunk is
/// written.
fn encode_png(image: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let encoder = PngEncoder::new(&mut out);
    let (width, height) = (image.width(), image.height());
    match image.color() {
        color @ (ColorType::L8
        | ColorType::La8
        | ColorType::Rgb8
        | ColorType::Rgba8
        | ColorType::L16
        | ColorType::La16
        | ColorType::Rgb16
        | ColorType::Rgba16) => {
            encoder.write_image(image.as_bytes(), width, height, color.into())?;
        }
        // Floating point (no PNG decoder produces it): the nearest PNG type.
        _ => {
            let rgba = image.to_rgba16();
            let bytes: Vec<u8> = rgba.as_raw().iter().flat_map(|v| v.to_ne_bytes()).collect();
            encoder.write_image(&bytes, width, height, ExtendedColorType::Rgba16)?;
        }
    }
    Ok(out)
}
