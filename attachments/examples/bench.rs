//! How long cleaning takes, on files the size clinics get: a 12-megapixel
//! phone photo (what an iPhone or a Pixel saves by default), a 3-megapixel
//! one, a 2-megapixel PNG screenshot, and a 20-page PDF. Each is built here
//! (noise over a gradient, so the JPEG is as large as a real photo's), then
//! cleaned 7 times; the median and the slowest are printed, with the sizes
//! in and out.
//!
//! ```sh
//! cargo run --release -p attachments --example bench
//! ```

use std::time::{Duration, Instant};

use attachments::{Limits, clean};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use lopdf::{Document, Object, Stream, dictionary};

const RUNS: usize = 7;

/// Pixels of a photo-like image: a gradient with noise (a xorshift, the
/// same on every run).
fn pixels(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state & 31) as u32;
            out.push(((x * 255 / width + noise) & 255) as u8);
            out.push(((y * 255 / height + noise) & 255) as u8);
            out.push(((x + y) * 127 / (width + height) + noise) as u8);
        }
    }
    out
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            &pixels(width, height),
            width,
            height,
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    // A screenshot: flat areas, text-like stripes.
    let data: Vec<u8> = (0..height)
        .flat_map(|y| {
            (0..width).flat_map(move |x| {
                let ink = (y / 14 % 3 == 0 && x % 9 < 5) as u8 * 200;
                [250 - ink, 250 - ink, 252 - ink]
            })
        })
        .collect();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&data, width, height, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn pdf(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let mut kids = Vec::new();
    for page in 0..pages {
        let mut text = String::from("BT /F1 11 Tf 56 780 Td 14 TL\n");
        for line in 0..50 {
            text.push_str(&format!(
                "(Page {page}, line {line}: take one tablet twice a day with food.) '\n"
            ));
        }
        text.push_str("ET");
        let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
        kids.push(Object::Reference(doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        })));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Count" => pages as i64, "Kids" => kids,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let info = doc.add_object(dictionary! { "Author" => Object::string_literal("Jane Roe") });
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn main() {
    let limits = Limits::default();
    let files = [
        ("12 MP phone photo (4032×3024 JPEG)", jpeg(4032, 3024)),
        ("3 MP photo (2048×1536 JPEG)", jpeg(2048, 1536)),
        ("2 MP screenshot (1920×1080 PNG)", png(1920, 1080)),
        ("20-page PDF", pdf(20)),
    ];
    println!("| file | in | out | median | slowest |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, bytes) in &files {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut out = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let cleaned = clean(bytes, &limits).expect("cleans");
            times.push(start.elapsed());
            out = cleaned.bytes.len();
        }
        times.sort();
        println!(
            "| {name} | {:.0} KB | {:.0} KB | {:.1} ms | {:.1} ms |",
            bytes.len() as f64 / 1024.0,
            out as f64 / 1024.0,
            times[RUNS / 2].as_secs_f64() * 1000.0,
            times[RUNS - 1].as_secs_f64() * 1000.0,
        );
    }
}
